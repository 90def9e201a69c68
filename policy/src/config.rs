//! Plugin configuration: the JSON given to the filter, validated once and
//! compiled into an immutable [`Config`]. Every error names the field.

use std::fmt;

use serde::Deserialize;

use crate::keys::http_target::{HttpTarget, UrlError};
use crate::keys::local::{self, RawHmacSecret, RawLocalJwks, RawPemKey};
use crate::keys::KeySet;
use crate::tenancy::access_policies::AccessPolicies;
use crate::tenancy::claim_path::ClaimPath;
use crate::tenancy::identity::IdentityHeader;
use crate::tenancy::settings;
use crate::verify::token::ClaimNames;
use crate::verify::Algorithm;

pub const DEFAULT_REALM: &str = "tenantgate";
pub const DEFAULT_CACHE_DURATION_S: u64 = 600;
pub const DEFAULT_CLOCK_SKEW_S: u64 = 60;
pub const DEFAULT_KID_REFETCH_INTERVAL_S: u64 = 30;
pub const DEFAULT_MAX_STALE_S: u64 = 86_400;
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_KEY_WAIT_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 << 10;
pub const DEFAULT_TOKEN_CACHE_SIZE: usize = 1024;

/// The validated configuration the filter runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub realm: String,
    pub token_sources: Vec<TokenSource>,
    pub providers: Vec<Provider>,
    pub tenancy: Tenancy,
    pub key_wait_timeout_ms: u64,
    pub max_body_bytes: usize,
    pub max_token_bytes: usize,
    /// Verified tokens remembered per worker; 0 turns the cache off.
    pub token_cache_size: usize,
    pub forward_authorization: bool,
    pub signature_backend: SignatureBackendChoice,
    /// Claims sent upstream as headers; client copies are always removed.
    pub identity_headers: Vec<IdentityHeader>,
    /// The top-level claims anything above reads; a token's other claims
    /// are parsed but not kept. Derived once from the fields above, so not
    /// to be set from outside.
    claim_names: ClaimNames,
}

impl Config {
    /// The top-level claims a token keeps under this configuration.
    pub fn claim_names(&self) -> &ClaimNames {
        &self.claim_names
    }

    /// The same configuration keeping every claim of a token: decides as
    /// the configuration itself does, only at more cost.
    pub fn keeping_every_claim(self) -> Config {
        Config {
            claim_names: ClaimNames::all(),
            ..self
        }
    }
}

/// Which verifier checks signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureBackendChoice {
    /// The proxy's own verifier where it has one that passes a known-answer
    /// check at start (Envoy's `verify_signature`: RS256/384/512,
    /// ES256/384), the portable one for everything else.
    #[default]
    Auto,
    /// Always the verifiers compiled into the filter.
    Portable,
}

/// Where a request may carry its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    AuthorizationBearer,
    /// The password of `Authorization: Basic` (GEM, vmauth).
    BasicPassword,
    /// Another header (lower-case name), its value optionally after a
    /// case-insensitive prefix.
    Header {
        name: String,
        prefix: Option<String>,
    },
    /// A query parameter, removed before the request goes upstream.
    Query { name: String },
    /// A cookie, removed before the request goes upstream.
    Cookie { name: String },
}

/// One identity provider whose tokens the filter accepts.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub issuer: String,
    /// Empty means `aud` is not checked.
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub key_source: KeySource,
    pub cache_duration_s: u64,
    /// At most one fetch per interval caused by tokens naming an unknown kid.
    pub kid_refetch_interval_s: u64,
    /// How long past their lifetime keys stay in use while refreshes fail.
    pub max_stale_s: u64,
    pub clock_skew_s: u64,
    pub claims: ClaimRules,
}

/// What a token's claims must satisfy beyond `iss`, `aud` and time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimRules {
    /// Refuse tokens without `exp` (the default).
    pub require_exp: bool,
    /// Longest accepted lifetime, `exp` minus `iat` (or `nbf`, or now).
    pub max_lifetime_s: Option<u64>,
    /// When not empty, `sub` must be one of these.
    pub subjects: Vec<String>,
    /// Claims that must be present.
    pub required: Vec<String>,
    /// Claims that must equal these JSON values exactly.
    pub expected: serde_json::Map<String, serde_json::Value>,
}

/// Where a provider's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// OIDC discovery: the document's `jwks_uri` is fetched next, through
    /// `jwks_cluster`.
    Discovery {
        document: HttpTarget,
        jwks_cluster: String,
        /// Overrides the `:authority` taken from the document's `jwks_uri`.
        jwks_authority: Option<String>,
        timeout_ms: u64,
    },
    /// A JWKS URL fetched directly.
    RemoteJwks { jwks: HttpTarget, timeout_ms: u64 },
    /// Keys written into the configuration; never fetched or refreshed.
    Local(KeySet),
}

impl KeySource {
    pub fn timeout_ms(&self) -> u64 {
        match self {
            KeySource::Discovery { timeout_ms, .. } | KeySource::RemoteJwks { timeout_ms, .. } => {
                *timeout_ms
            }
            KeySource::Local(_) => 0,
        }
    }

    pub fn local_keys(&self) -> Option<&KeySet> {
        match self {
            KeySource::Local(keys) => Some(keys),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenancy {
    /// Path of the claim the mapping reads.
    pub claim: ClaimPath,
    pub mapping: Mapping,
    /// The claim value assumed for tokens without the claim; `None`: such
    /// tokens are refused.
    pub default: Option<serde_json::Value>,
    pub backend: Backend,
}

/// How claims become tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// vmgateway's `vm_access` object.
    VmAccess,
    /// vmauth's `metrics_*` fields of the `vm_access` object.
    Vmauth,
    /// GEM-style access policies named by claim values.
    AccessPolicies(AccessPolicies),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// VictoriaMetrics single-node: `extra_label` / `extra_filters` arguments.
    VmSingle,
    /// VictoriaMetrics cluster: the tenant goes in the path.
    VmCluster {
        select_prefix: String,
        insert_prefix: String,
    },
    /// Mimir, Cortex, GEM: the tenant goes in `X-Scope-OrgID`, label
    /// policies in `X-Prom-Label-Policy`.
    Mimir {
        /// Prefix of the Prometheus read API (`/prometheus`).
        prometheus_prefix: String,
        /// Reads of a grant with several tenants federate them (`a|b`).
        federation: bool,
    },
}

/// Why a configuration was refused; always names the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    token_sources: Option<Vec<RawTokenSource>>,
    providers: Vec<RawProvider>,
    /// Read by `tenancy::settings`, by hand: derived readers cost the filter
    /// kilobytes per type.
    tenancy: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    key_wait_timeout_ms: Option<u64>,
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    max_token_bytes: Option<usize>,
    #[serde(default)]
    token_cache_size: Option<usize>,
    #[serde(default)]
    forward_authorization: bool,
    #[serde(default)]
    signature_backend: SignatureBackendChoice,
    #[serde(default)]
    identity_headers: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawTokenSource {
    AuthorizationBearer {},
    BasicPassword {},
    Header {
        name: String,
        #[serde(default)]
        prefix: Option<String>,
    },
    Query {
        name: String,
    },
    Cookie {
        name: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    issuer: String,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    discovery: Option<RawDiscovery>,
    #[serde(default)]
    remote_jwks: Option<RawRemoteJwks>,
    #[serde(default)]
    local_jwks: Option<RawLocalJwks>,
    #[serde(default)]
    pem_keys: Vec<RawPemKey>,
    #[serde(default)]
    hmac_secrets: Vec<RawHmacSecret>,
    #[serde(default)]
    cache_duration_s: Option<u64>,
    #[serde(default)]
    kid_refetch_interval_s: Option<u64>,
    #[serde(default)]
    max_stale_s: Option<u64>,
    #[serde(default)]
    clock_skew_s: Option<u64>,
    #[serde(default)]
    require_exp: Option<bool>,
    #[serde(default)]
    max_lifetime_s: Option<u64>,
    #[serde(default)]
    subjects: Vec<String>,
    #[serde(default)]
    required_claims: Vec<String>,
    #[serde(default)]
    expected_claims: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    #[serde(default)]
    uri: Option<String>,
    cluster: String,
    #[serde(default)]
    authority: Option<String>,
    #[serde(default)]
    jwks_cluster: Option<String>,
    #[serde(default)]
    jwks_authority: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteJwks {
    uri: String,
    cluster: String,
    #[serde(default)]
    authority: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

impl Config {
    /// Parses and validates the plugin configuration.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let raw: RawConfig =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                let path = error.path().to_string();
                let reason = error.into_inner().to_string();
                ConfigError::new(field_of_json_error(&path, &reason), reason)
            })?;
        compile(raw)
    }
}

/// serde reports a missing field at its parent; name the field itself.
fn field_of_json_error(path: &str, reason: &str) -> String {
    let missing = reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match (path, missing) {
        (".", Some(name)) => name.to_string(),
        (".", None) => "(root)".to_string(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (parent, None) => parent.to_string(),
    }
}

fn compile(raw: RawConfig) -> Result<Config, ConfigError> {
    if raw.providers.is_empty() {
        return Err(ConfigError::new(
            "providers",
            "at least one provider is required",
        ));
    }
    let mut providers = Vec::with_capacity(raw.providers.len());
    for (index, raw_provider) in raw.providers.into_iter().enumerate() {
        let provider = compile_provider(index, raw_provider)?;
        if providers.iter().any(|p: &Provider| p.name == provider.name) {
            return Err(ConfigError::new(
                format!("providers[{index}].name"),
                format!("duplicate provider name {:?}", provider.name),
            ));
        }
        if providers
            .iter()
            .any(|p: &Provider| p.issuer == provider.issuer)
        {
            return Err(ConfigError::new(
                format!("providers[{index}].issuer"),
                "two providers cannot share an issuer: tokens are matched to providers by `iss`",
            ));
        }
        providers.push(provider);
    }
    let realm = raw.realm.unwrap_or_else(|| DEFAULT_REALM.into());
    if !is_quotable(&realm) || realm.is_empty() {
        return Err(ConfigError::new(
            "realm",
            "must be non-empty printable ASCII without `\"` or `\\`",
        ));
    }
    let token_sources = match raw.token_sources {
        None => vec![TokenSource::AuthorizationBearer],
        Some(sources) => compile_token_sources(sources)?,
    };
    let tenancy = settings::tenancy(&raw.tenancy)?;
    let key_wait_timeout_ms = positive(
        "key_wait_timeout_ms",
        raw.key_wait_timeout_ms,
        DEFAULT_KEY_WAIT_TIMEOUT_MS,
    )?;
    let max_body_bytes =
        positive_usize("max_body_bytes", raw.max_body_bytes, DEFAULT_MAX_BODY_BYTES)?;
    let max_token_bytes = positive_usize(
        "max_token_bytes",
        raw.max_token_bytes,
        DEFAULT_MAX_TOKEN_BYTES,
    )?;
    let token_cache_size = match raw.token_cache_size {
        Some(size) if size > 1 << 20 => {
            return Err(ConfigError::new(
                "token_cache_size",
                "must be at most 1048576",
            ))
        }
        size => size.unwrap_or(DEFAULT_TOKEN_CACHE_SIZE),
    };
    let identity_headers = settings::identity_headers(&raw.identity_headers, &token_sources)?;
    let claim_names = claim_names(&providers, &tenancy, &identity_headers);
    Ok(Config {
        realm,
        token_sources,
        providers,
        tenancy,
        key_wait_timeout_ms,
        max_body_bytes,
        max_token_bytes,
        token_cache_size,
        forward_authorization: raw.forward_authorization,
        signature_backend: raw.signature_backend,
        identity_headers,
        claim_names,
    })
}

/// Every top-level claim the configuration reads beyond the registered
/// ones: required and expected claims, the tenancy claim, identity headers.
fn claim_names(
    providers: &[Provider],
    tenancy: &Tenancy,
    identity_headers: &[IdentityHeader],
) -> ClaimNames {
    let rules = providers.iter().flat_map(|provider| {
        let required = provider.claims.required.iter().map(String::as_str);
        required.chain(provider.claims.expected.keys().map(String::as_str))
    });
    let paths = std::iter::once(&tenancy.claim)
        .chain(identity_headers.iter().map(|header| &header.claim))
        .filter_map(ClaimPath::top_level_name);
    ClaimNames::registered_and(rules.chain(paths))
}

fn compile_token_sources(raw: Vec<RawTokenSource>) -> Result<Vec<TokenSource>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            "token_sources",
            "must list at least one source",
        ));
    }
    let mut sources = Vec::with_capacity(raw.len());
    for (index, source) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("token_sources[{index}].{name}");
        let source = match source {
            RawTokenSource::AuthorizationBearer {} => TokenSource::AuthorizationBearer,
            RawTokenSource::BasicPassword {} => TokenSource::BasicPassword,
            RawTokenSource::Header { name, prefix } => {
                let name = name.to_ascii_lowercase();
                if !is_header_name(&name) || matches!(name.as_str(), "authorization" | "cookie") {
                    return Err(ConfigError::new(
                        field("header.name"),
                        "must be an HTTP header name other than authorization and cookie (use their own sources)",
                    ));
                }
                if prefix
                    .as_deref()
                    .is_some_and(|p| p.is_empty() || !is_quotable(p))
                {
                    return Err(ConfigError::new(
                        field("header.prefix"),
                        "must be printable ASCII",
                    ));
                }
                TokenSource::Header { name, prefix }
            }
            RawTokenSource::Query { name } if !name.is_empty() => TokenSource::Query { name },
            RawTokenSource::Cookie { name } if is_header_name(&name) => {
                TokenSource::Cookie { name }
            }
            RawTokenSource::Query { .. } => {
                return Err(ConfigError::new(field("query.name"), "must not be empty"))
            }
            RawTokenSource::Cookie { .. } => {
                return Err(ConfigError::new(
                    field("cookie.name"),
                    "must be a cookie name",
                ))
            }
        };
        if sources.contains(&source) {
            return Err(ConfigError::new(
                format!("token_sources[{index}]"),
                "listed twice",
            ));
        }
        sources.push(source);
    }
    Ok(sources)
}

/// RFC 9110 `token` characters.
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn compile_provider(index: usize, raw: RawProvider) -> Result<Provider, ConfigError> {
    let field = |name: &str| format!("providers[{index}].{name}");
    if !is_valid_name(&raw.name) {
        return Err(ConfigError::new(
            field("name"),
            "must be 1-64 characters from [A-Za-z0-9_.-]",
        ));
    }
    if raw.issuer.is_empty() {
        return Err(ConfigError::new(field("issuer"), "must not be empty"));
    }
    if let Some(empty) = raw.audiences.iter().position(String::is_empty) {
        return Err(ConfigError::new(
            format!("providers[{index}].audiences[{empty}]"),
            "must not be empty",
        ));
    }
    let algorithms = match raw.algorithms {
        None => Algorithm::ALL.to_vec(),
        Some(names) => compile_algorithms(index, &names)?,
    };
    let has_local =
        raw.local_jwks.is_some() || !raw.pem_keys.is_empty() || !raw.hmac_secrets.is_empty();
    let key_source = match (raw.discovery, raw.remote_jwks, has_local) {
        (Some(discovery), None, false) => compile_discovery(index, &raw.issuer, discovery)?,
        (None, Some(remote), false) => compile_remote_jwks(index, remote)?,
        (None, None, true) => KeySource::Local(
            local::compile(raw.local_jwks, raw.pem_keys, raw.hmac_secrets)
                .map_err(|e| ConfigError::new(field(&e.field), e.reason))?,
        ),
        (None, None, false) => {
            return Err(ConfigError::new(
                field("discovery"),
                "a key source is required: `discovery`, `remote_jwks`, or configured keys \
                 (`local_jwks`, `pem_keys`, `hmac_secrets`)",
            ))
        }
        _ => {
            return Err(ConfigError::new(
                field("remote_jwks"),
                "set one key source: `discovery`, `remote_jwks`, or configured keys \
                 (`local_jwks`, `pem_keys`, `hmac_secrets`)",
            ))
        }
    };
    Ok(Provider {
        name: raw.name,
        issuer: raw.issuer,
        audiences: raw.audiences,
        algorithms,
        key_source,
        cache_duration_s: bounded(
            &field("cache_duration_s"),
            raw.cache_duration_s,
            DEFAULT_CACHE_DURATION_S,
            1..=WEEK_S,
        )?,
        kid_refetch_interval_s: bounded(
            &field("kid_refetch_interval_s"),
            raw.kid_refetch_interval_s,
            DEFAULT_KID_REFETCH_INTERVAL_S,
            1..=DAY_S,
        )?,
        max_stale_s: bounded(
            &field("max_stale_s"),
            raw.max_stale_s,
            DEFAULT_MAX_STALE_S,
            0..=WEEK_S,
        )?,
        clock_skew_s: bounded(
            &field("clock_skew_s"),
            raw.clock_skew_s,
            DEFAULT_CLOCK_SKEW_S,
            0..=MAX_CLOCK_SKEW_S,
        )?,
        claims: ClaimRules {
            require_exp: raw.require_exp.unwrap_or(true),
            max_lifetime_s: match raw.max_lifetime_s {
                Some(0) => {
                    return Err(ConfigError::new(
                        field("max_lifetime_s"),
                        "must be greater than 0",
                    ))
                }
                other => other,
            },
            subjects: raw.subjects,
            required: raw.required_claims,
            expected: raw.expected_claims,
        },
    })
}

fn compile_algorithms(index: usize, names: &[String]) -> Result<Vec<Algorithm>, ConfigError> {
    if names.is_empty() {
        return Err(ConfigError::new(
            format!("providers[{index}].algorithms"),
            "must list at least one algorithm",
        ));
    }
    names
        .iter()
        .enumerate()
        .map(|(position, name)| {
            Algorithm::from_name(name).ok_or_else(|| {
                ConfigError::new(
                    format!("providers[{index}].algorithms[{position}]"),
                    format!(
                        "unsupported algorithm {name:?}; supported: {}",
                        Algorithm::ALL.map(Algorithm::name).join(", ")
                    ),
                )
            })
        })
        .collect()
}

fn compile_discovery(
    index: usize,
    issuer: &str,
    raw: RawDiscovery,
) -> Result<KeySource, ConfigError> {
    let field = |name: &str| format!("providers[{index}].discovery.{name}");
    let uri = raw.uri.unwrap_or_else(|| {
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        )
    });
    let document = HttpTarget::parse(&raw.cluster, &uri)
        .map_err(|error| url_error(field("uri"), &uri, error))?
        .with_authority(authority(&field("authority"), raw.authority)?);
    require_cluster(&field("cluster"), &raw.cluster)?;
    let jwks_cluster = raw.jwks_cluster.unwrap_or_else(|| raw.cluster.clone());
    require_cluster(&field("jwks_cluster"), &jwks_cluster)?;
    Ok(KeySource::Discovery {
        document,
        jwks_cluster,
        jwks_authority: authority(&field("jwks_authority"), raw.jwks_authority)?,
        timeout_ms: positive(
            &field("timeout_ms"),
            raw.timeout_ms,
            DEFAULT_FETCH_TIMEOUT_MS,
        )?,
    })
}

fn compile_remote_jwks(index: usize, raw: RawRemoteJwks) -> Result<KeySource, ConfigError> {
    let field = |name: &str| format!("providers[{index}].remote_jwks.{name}");
    require_cluster(&field("cluster"), &raw.cluster)?;
    let jwks = HttpTarget::parse(&raw.cluster, &raw.uri)
        .map_err(|error| url_error(field("uri"), &raw.uri, error))?
        .with_authority(authority(&field("authority"), raw.authority)?);
    Ok(KeySource::RemoteJwks {
        jwks,
        timeout_ms: positive(
            &field("timeout_ms"),
            raw.timeout_ms,
            DEFAULT_FETCH_TIMEOUT_MS,
        )?,
    })
}

pub(crate) fn path_prefix(
    field: &str,
    value: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
    let prefix = value.unwrap_or_else(|| default.into());
    let well_formed = prefix.starts_with('/')
        && !prefix.ends_with('/')
        && prefix[1..]
            .split('/')
            .all(|segment| !segment.is_empty() && segment.bytes().all(is_path_prefix_byte));
    if well_formed {
        Ok(prefix)
    } else {
        Err(ConfigError::new(
            field,
            "must look like `/select` or `/a/b`: segments of [A-Za-z0-9_-], no trailing `/`",
        ))
    }
}

fn is_path_prefix_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// An `:authority` override: a host with an optional port.
fn authority(field: &str, value: Option<String>) -> Result<Option<String>, ConfigError> {
    match value {
        Some(authority)
            if authority.is_empty()
                || !authority.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
                }) =>
        {
            Err(ConfigError::new(
                field,
                "must be a host name with an optional port",
            ))
        }
        other => Ok(other),
    }
}

fn require_cluster(field: &str, cluster: &str) -> Result<(), ConfigError> {
    if cluster.is_empty() {
        Err(ConfigError::new(field, "must name an Envoy cluster"))
    } else {
        Ok(())
    }
}

fn url_error(field: String, uri: &str, error: UrlError) -> ConfigError {
    ConfigError::new(field, format!("{uri:?} is not usable: {error}"))
}

const DAY_S: u64 = 86_400;
const WEEK_S: u64 = 7 * DAY_S;
/// More skew than this would keep expired tokens alive for long.
const MAX_CLOCK_SKEW_S: u64 = 600;

fn bounded(
    field: &str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            field,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

fn positive(field: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(0) => Err(ConfigError::new(field, "must be greater than 0")),
        Some(value) => Ok(value),
    }
}

fn positive_usize(field: &str, value: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(0) => Err(ConfigError::new(field, "must be greater than 0")),
        Some(value) => Ok(value),
    }
}

fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Whether a value can sit inside a quoted-string of `WWW-Authenticate`.
pub(crate) fn is_quotable(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "providers": [{"name": "demo", "issuer": "http://idp.example:9000",
                       "audiences": ["tenantgate"],
                       "discovery": {"cluster": "idp"}}],
        "tenancy": {"backend": "vm_single"}
    }"#;

    fn error_of(json: &str) -> ConfigError {
        Config::from_json(json.as_bytes()).expect_err("configuration should be refused")
    }

    #[test]
    fn claim_names_are_every_top_level_claim_read() {
        let names = |json: &str| Config::from_json(json.as_bytes()).unwrap().claim_names;
        let minimal = names(MINIMAL);
        for name in ["iss", "sub", "aud", "exp", "nbf", "iat", "vm_access"] {
            assert!(minimal.contains(name), "{name}");
        }
        for name in ["jti", "scope", "email", "realm_access", ""] {
            assert!(!minimal.contains(name), "{name}");
        }
        let rich = names(
            r#"{
            "providers": [
                {"name": "a", "issuer": "https://a.example", "discovery": {"cluster": "a"},
                 "required_claims": ["email"], "expected_claims": {"azp": "grafana"}},
                {"name": "b", "issuer": "https://b.example", "discovery": {"cluster": "b"},
                 "required_claims": ["tid"], "expected_claims": {"x.y": 1}}],
            "tenancy": {"backend": "mimir", "mapping": "access_policies", "pattern": "(.+)",
                        "policies": {"p": {"tenants": ["t"], "scopes": ["read"]}}},
            "identity_headers": [
                {"claim": "realm_access.roles[0]", "header": "x-role"},
                {"claim": "\"https://example.com/claims\".team", "header": "x-team"},
                {"claim": "groups[1]", "header": "x-group"}]
        }"#,
        );
        for name in [
            "email",
            "azp",
            "tid",
            "x.y",
            "scope",
            "realm_access",
            "https://example.com/claims",
            "groups",
        ] {
            assert!(rich.contains(name), "{name}");
        }
        for name in ["vm_access", "roles", "team", "https", "x"] {
            assert!(!rich.contains(name), "{name}");
        }
        let quoted_tenancy = names(&MINIMAL.replace(
            r#""backend": "vm_single""#,
            r#""backend": "vm_single", "claim": "\"a.b\".c""#,
        ));
        assert!(quoted_tenancy.contains("a.b"));
        assert!(!quoted_tenancy.contains("vm_access"));
    }

    #[test]
    fn minimal_configuration_gets_documented_defaults() {
        let config = Config::from_json(MINIMAL.as_bytes()).unwrap();
        assert_eq!(config.realm, "tenantgate");
        assert_eq!(config.tenancy.claim.to_string(), "vm_access");
        assert_eq!(config.tenancy.backend, Backend::VmSingle);
        let provider = &config.providers[0];
        assert_eq!(provider.cache_duration_s, 600);
        assert_eq!(provider.clock_skew_s, 60);
        assert_eq!(provider.algorithms, Algorithm::ALL.to_vec());
        match &provider.key_source {
            KeySource::Discovery {
                document,
                jwks_cluster,
                timeout_ms,
                ..
            } => {
                assert_eq!(document.cluster, "idp");
                assert_eq!(document.authority, "idp.example:9000");
                assert_eq!(document.path, "/.well-known/openid-configuration");
                assert_eq!(jwks_cluster, "idp");
                assert_eq!(*timeout_ms, 5000);
            }
            other => panic!("unexpected key source {other:?}"),
        }
    }

    #[test]
    fn authorities_can_be_set_for_each_fetch() {
        let json = MINIMAL.replace(
            r#""cluster": "idp""#,
            r#""cluster": "idp", "authority": "login.example", "jwks_authority": "keys.example:8443""#,
        );
        let config = Config::from_json(json.as_bytes()).unwrap();
        let KeySource::Discovery {
            document,
            jwks_authority,
            ..
        } = &config.providers[0].key_source
        else {
            panic!("discovery expected");
        };
        assert_eq!(document.authority, "login.example");
        assert_eq!(jwks_authority.as_deref(), Some("keys.example:8443"));
        let bad = MINIMAL.replace(
            r#""cluster": "idp""#,
            r#""cluster": "idp", "authority": "a/b""#,
        );
        assert_eq!(error_of(&bad).field, "providers[0].discovery.authority");
    }

    #[test]
    fn cluster_backend_has_default_prefixes() {
        let json = MINIMAL.replace(r#""backend": "vm_single""#, r#""backend": "vm_cluster""#);
        let config = Config::from_json(json.as_bytes()).unwrap();
        assert_eq!(
            config.tenancy.backend,
            Backend::VmCluster {
                select_prefix: "/select".into(),
                insert_prefix: "/insert".into()
            }
        );
    }

    #[test]
    fn unknown_backend_names_the_field() {
        let error = error_of(&MINIMAL.replace("vm_single", "nope"));
        assert_eq!(error.field, "tenancy.backend");
        assert!(error.to_string().contains("tenancy.backend"), "{error}");
    }

    #[test]
    fn wrong_type_names_the_nested_field() {
        let error = error_of(&MINIMAL.replace(r#"["tenantgate"]"#, r#""tenantgate""#));
        assert_eq!(error.field, "providers[0].audiences");
    }

    #[test]
    fn missing_and_unknown_fields_are_refused() {
        assert_eq!(
            error_of(r#"{"tenancy": {"backend": "vm_single"}}"#).field,
            "providers"
        );
        let no_backend = MINIMAL.replace(r#""backend": "vm_single""#, r#""claim": "c""#);
        assert_eq!(error_of(&no_backend).field, "tenancy.backend");
        assert_eq!(error_of("1").field, "(root)");
        let error = error_of(
            &MINIMAL
                .replace(r#""realm""#, "x")
                .replace(r#""tenancy": {"#, r#""tenancy": {"unexpected": 1, "#),
        );
        assert_eq!(error.field, "tenancy.unexpected");
        assert!(error.reason.contains("unexpected"), "{error}");
    }

    #[test]
    fn invalid_values_are_refused_with_their_field() {
        let cases = [
            (
                MINIMAL.replace(r#""name": "demo""#, r#""name": """#),
                "providers[0].name",
            ),
            (
                MINIMAL.replace("http://idp.example:9000", ""),
                "providers[0].issuer",
            ),
            (
                MINIMAL.replace(
                    r#""audiences": ["tenantgate"],"#,
                    r#""algorithms": ["none"],"#,
                ),
                "providers[0].algorithms[0]",
            ),
            (
                MINIMAL.replace(r#""cluster": "idp""#, r#""cluster": """#),
                "providers[0].discovery.cluster",
            ),
            (
                MINIMAL.replace(
                    r#""cluster": "idp""#,
                    r#""cluster": "idp", "uri": "ftp://x/""#,
                ),
                "providers[0].discovery.uri",
            ),
            (
                MINIMAL.replace(
                    r#""cluster": "idp""#,
                    r#""cluster": "idp", "timeout_ms": 0"#,
                ),
                "providers[0].discovery.timeout_ms",
            ),
            (
                MINIMAL.replace(r#""discovery": {"cluster": "idp"}"#, r#""clock_skew_s": 5"#),
                "providers[0].discovery",
            ),
            (
                MINIMAL.replace(
                    r#""name": "demo","#,
                    r#""name": "demo", "clock_skew_s": 3600,"#,
                ),
                "providers[0].clock_skew_s",
            ),
            (
                MINIMAL.replace(
                    r#""name": "demo","#,
                    r#""name": "demo", "cache_duration_s": 0,"#,
                ),
                "providers[0].cache_duration_s",
            ),
            (
                MINIMAL.replace(r#""providers": ["#, r#""realm": "a\"b", "providers": ["#),
                "realm",
            ),
            (
                MINIMAL.replace(
                    r#""backend": "vm_single""#,
                    r#""backend": "vm_single", "select_prefix": "/s""#,
                ),
                "tenancy.select_prefix",
            ),
            (
                MINIMAL.replace(
                    r#""backend": "vm_single""#,
                    r#""backend": "vm_cluster", "insert_prefix": "/i/""#,
                ),
                "tenancy.insert_prefix",
            ),
        ];
        for (json, field) in cases {
            let error = error_of(&json);
            assert!(error.field.starts_with(field), "{field}: got {error}");
        }
    }

    #[test]
    fn empty_provider_list_and_duplicates_are_refused() {
        let json = r#"{"providers": [], "tenancy": {"backend": "vm_single"}}"#;
        assert_eq!(error_of(json).field, "providers");
        let provider = r#"{"name": "a", "issuer": "https://i", "remote_jwks": {"uri": "https://i/k", "cluster": "c"}}"#;
        let twice = format!(
            r#"{{"providers": [{provider}, {}], "tenancy": {{"backend": "vm_single"}}}}"#,
            provider.replace(r#""name": "a""#, r#""name": "b""#)
        );
        assert_eq!(error_of(&twice).field, "providers[1].issuer");
    }

    #[test]
    fn not_json_is_refused() {
        let error = error_of("not json");
        assert!(error.to_string().starts_with("invalid configuration:"));
    }
}
