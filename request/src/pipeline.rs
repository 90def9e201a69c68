//! One request's way through the filter, as a pure function: the host hands
//! in the request's header block, the keys it has and the time, gets back
//! what to do, and has a forward write its header changes. The order puts
//! cheap refusals first and signature work last.
//!
//! The functions a cached token's request runs through are marked
//! `#[inline]`, so that they merge into the decision. The ones the host
//! calls are not: an inline function is compiled in the crate that calls
//! it, and the host's is built for size.

use std::borrow::Cow;
use std::ops::Range;
use std::rc::Rc;

use crate::config::{Backend, Config, TokenSource};
use crate::extract::{check_token_syntax, locate, Credentials, Extracted};
use crate::header_pairs::{MalformedHeaderMap, PairSpan, Pairs};
use crate::keys::KeySet;
use crate::reply::Refusal;
use crate::rewrite::{self, body_check, BodyCheck, TENANT_HEADERS};
use crate::tenancy::{Enforcement, VmTenant};
use crate::verified::TokenKey;
use crate::verified::VerifiedToken;
use crate::verify::signature::{Portable, SignatureBackend};
use crate::verify::{self, token, TokenError};

pub use crate::verified::TokenCache;

/// The names and values of a header block as text. A part of UTF-8 text
/// that starts and ends at character boundaries is UTF-8 itself, so when
/// everything from the first name on is UTF-8 (one vector pass) each name
/// and value is taken from it after a boundary check; in a host's block
/// every one ends in a NUL, which no multi-byte character contains, so the
/// check holds. A part that fails it, and every part of a block with bytes
/// that are not UTF-8 somewhere, is checked on its own.
struct BlockText<'a> {
    block: &'a [u8],
    /// Everything from the first name on, when it is all UTF-8.
    whole: Option<(usize, &'a str)>,
}

impl<'a> BlockText<'a> {
    /// `names_start`: where the block's first name starts.
    fn of(block: &'a [u8], names_start: usize) -> BlockText<'a> {
        let whole = block
            .get(names_start..)
            .and_then(|text| simdutf8::basic::from_utf8(text).ok())
            .map(|text| (names_start, text));
        BlockText { block, whole }
    }

    /// The text of `span`; `None` when it is not UTF-8 (or not in the block).
    #[inline]
    fn decode(&self, span: &Range<usize>) -> Option<&'a str> {
        let known = self.whole.and_then(|(start, text)| {
            text.get(span.start.checked_sub(start)?..span.end.checked_sub(start)?)
        });
        known.or_else(|| simdutf8::basic::from_utf8(self.block.get(span.clone())?).ok())
    }
}

/// The parts of a request the decision needs.
#[derive(Debug, Clone, Default)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// `:path`, with the query.
    pub target: &'a str,
    /// Every header but the pseudo-headers, names in lower case.
    pub headers: Vec<(&'a str, &'a str)>,
    /// Names of headers whose values were not UTF-8 (left out of `headers`).
    pub undecodable: Vec<&'a str>,
}

impl<'a> RequestHead<'a> {
    /// The head of a request whose header map is `block`, laid out as a
    /// proxy-wasm host writes it (see [`crate::header_pairs`]). A value
    /// that is not UTF-8 leaves only its name (in `undecodable`); a name
    /// that is not UTF-8 cannot be one the filter reads and is skipped.
    ///
    /// Not `#[inline]`: the host calls it, and an inline function is
    /// compiled in the crate that calls it, the host's built for size.
    pub fn from_header_block(block: &'a [u8]) -> Result<RequestHead<'a>, MalformedHeaderMap> {
        let pairs = Pairs::of(block)?;
        let mut head = RequestHead {
            headers: Vec::with_capacity(pairs.pair_count()),
            ..RequestHead::default()
        };
        let text = BlockText::of(block, pairs.names_start());
        for pair in pairs {
            let PairSpan { name, value } = pair?;
            let Some(name) = text.decode(&name) else {
                continue;
            };
            match (name, text.decode(&value)) {
                (":method", Some(value)) => head.method = value,
                (":path", Some(value)) => head.target = value,
                (":method" | ":path", None) => head.undecodable.push(name),
                (pseudo, _) if pseudo.starts_with(':') => {}
                (_, Some(value)) => head.headers.push((name, value)),
                (_, None) => head.undecodable.push(name),
            }
        }
        Ok(head)
    }

    /// Whether the request has a header of this (lower-case) name, readable
    /// or not.
    #[inline]
    pub fn carries(&self, name: &str) -> bool {
        self.headers.iter().any(|(header, _)| *header == name) || self.undecodable.contains(&name)
    }

    #[inline]
    pub fn values(&self, name: &str) -> Vec<&'a str> {
        self.headers
            .iter()
            .filter(|(header, _)| *header == name)
            .map(|(_, value)| *value)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Forward(Forward),
    Refuse(Refusal),
    /// Wait for the provider's next key set, then decide again; answer
    /// `on_timeout` if it does not come in time.
    AwaitKeys {
        provider: usize,
        on_timeout: Refusal,
    },
}

/// The key sets the host holds, and its say on refetching them.
pub trait KeyStore {
    /// The provider's current key set, `None` while none was ever loaded.
    fn key_set(&self, provider: usize) -> Option<&KeySet>;
    /// Changes whenever the provider's key set changes.
    fn key_generation(&self, provider: usize) -> Option<u64>;
    /// A token names a `kid` the provider's set lacks: whether the request
    /// should wait for the set to be fetched again.
    fn wait_for_unknown_kid(&mut self, provider: usize) -> bool;
    /// Where signatures are checked; the host may offer a faster backend.
    fn signatures(&self) -> &dyn SignatureBackend {
        &Portable
    }
}

/// A fixed key set per provider, never refetched.
pub struct StaticKeys<'a>(pub Vec<Option<&'a KeySet>>);

impl KeyStore for StaticKeys<'_> {
    fn key_set(&self, provider: usize) -> Option<&KeySet> {
        self.0.get(provider).copied().flatten()
    }

    fn key_generation(&self, provider: usize) -> Option<u64> {
        self.key_set(provider).map(|_| 0)
    }

    fn wait_for_unknown_kid(&mut self, _provider: usize) -> bool {
        false
    }
}

/// How to change the request before it goes upstream, in this order:
/// remove, set, add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub path: String,
    pub remove_headers: Vec<Cow<'static, str>>,
    /// Headers replaced with a new value (the cookie header without the
    /// token, `X-Scope-OrgID`, identity headers).
    pub set_headers: Vec<(Cow<'static, str>, String)>,
    /// Headers added once per value (`X-Prom-Label-Policy`).
    pub add_headers: Vec<(&'static str, String)>,
    pub body_check: BodyCheck,
}

/// The proxy's request headers, as a decision changes them.
pub trait RequestHeaders {
    fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderNotWritten>;
    fn remove(&mut self, name: &str) -> Result<(), HeaderNotWritten>;
    fn add(&mut self, name: &str, value: &str) -> Result<(), HeaderNotWritten>;
}

/// The proxy did not take a header change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderNotWritten;

impl Forward {
    /// Sets the new `:path`, removes the client's tenancy headers, then
    /// sets and adds the gateway's; gives back how the body is checked.
    /// After a failure the request must not go on as it is.
    pub fn apply(self, headers: &mut dyn RequestHeaders) -> Result<BodyCheck, HeaderNotWritten> {
        headers.set(":path", &self.path)?;
        for name in &self.remove_headers {
            headers.remove(name)?;
        }
        for (name, value) in &self.set_headers {
            headers.set(name, value)?;
        }
        for (name, value) in &self.add_headers {
            headers.add(name, value)?;
        }
        Ok(self.body_check)
    }
}

/// Decides about the request whose header map is `block`, laid out as a
/// proxy-wasm host writes it. A block that cannot be read leaves the
/// request without credentials, which is refused.
pub fn decide_on_header_block(
    config: &Config,
    block: &[u8],
    keys: &mut dyn KeyStore,
    cache: &mut TokenCache,
    now_s: u64,
) -> Decision {
    let head = RequestHead::from_header_block(block).unwrap_or_default();
    decide(config, &head, keys, cache, now_s)
}

/// Decides about one request; `cache` remembers verified tokens. `keys`
/// is a trait object so that the decision is compiled in this crate, built
/// for speed, rather than in the host's, built for size.
pub fn decide(
    config: &Config,
    head: &RequestHead<'_>,
    keys: &mut dyn KeyStore,
    cache: &mut TokenCache,
    now_s: u64,
) -> Decision {
    match decide_inner(config, head, keys, cache, now_s) {
        Ok(decision) => decision,
        Err(refusal) => Decision::Refuse(refusal),
    }
}

fn decide_inner(
    config: &Config,
    head: &RequestHead<'_>,
    keys: &mut dyn KeyStore,
    cache: &mut TokenCache,
    now_s: u64,
) -> Result<Decision, Refusal> {
    if head
        .undecodable
        .iter()
        .any(|name| is_read_header(config, name))
    {
        return Err(Refusal::Request(rewrite::RewriteError::UndecodableHeader));
    }
    let query = token_query(config, head.target);
    let credentials = Credentials {
        headers: &head.headers,
        query: &query,
    };
    let extracted = locate(&config.token_sources, &credentials).map_err(Refusal::Credentials)?;
    let cache_key = cache.key_of(&extracted.token);
    let cached =
        cache_key.and_then(|key| cache.tokens.get(&key, |p| keys.key_generation(p), now_s));
    let verified = match cached {
        Some(verified) => verified,
        None => match verify_token(config, &extracted.token, keys, cache, cache_key, now_s)? {
            Verified::Token(verified) => verified,
            Verified::Await(decision) => return Ok(decision),
        },
    };

    let backend = &config.tenancy.backend;
    let mut route = rewrite::route(head.method, head.target, backend).map_err(Refusal::Request)?;
    let enforced = verified
        .enforced(
            &config.tenancy,
            route.endpoint.operation,
            requested_tenant(&extracted, backend),
        )
        .map_err(Refusal::Forbidden)?;
    let body_check = match backend {
        // Mimir reads no tenancy from bodies.
        Backend::Mimir { .. } => BodyCheck::None,
        Backend::VmSingle | Backend::VmCluster { .. } => {
            body_check(&head.values("content-type")).map_err(Refusal::Request)?
        }
    };

    let mut forward = Forward {
        path: String::new(),
        remove_headers: Vec::new(),
        set_headers: Vec::new(),
        add_headers: Vec::new(),
        body_check,
    };
    for name in TENANT_HEADERS {
        remove_carried(&mut forward, head, name);
    }
    if !config.forward_authorization {
        remove_carried(&mut forward, head, "authorization");
        match extracted.source {
            TokenSource::Header { name, .. } => remove_carried(&mut forward, head, name.clone()),
            TokenSource::Query { name } => route.token_param = Some(name),
            TokenSource::Cookie { name } => match cookies_without(&head.values("cookie"), name) {
                Some(rest) => forward.set_headers.push(("cookie".into(), rest)),
                None => remove_carried(&mut forward, head, "cookie"),
            },
            TokenSource::AuthorizationBearer | TokenSource::BasicPassword => {}
        }
    }
    tenant_headers(&mut forward, &enforced.enforcement);
    identity_headers(&mut forward, head, config, &verified);
    forward.path = rewrite::rewritten_path(
        &route,
        &enforced.enforcement,
        &enforced.query_arguments,
        backend,
    );
    Ok(Decision::Forward(forward))
}

/// Puts `name` on the remove list when the request carries it: each
/// removal is a call into the proxy, and a header the request does not
/// carry needs none.
#[inline]
fn remove_carried(
    forward: &mut Forward,
    head: &RequestHead<'_>,
    name: impl Into<Cow<'static, str>>,
) {
    let name = name.into();
    if head.carries(&name) {
        forward.remove_headers.push(name);
    }
}

/// The tenant the client named. A Basic auth user name names a tenant as
/// in GEM, except where it cannot be one: single-node has no tenants, and on
/// the cluster only `<account>[:<project>]` is a tenant, so there `vmagent`
/// or `grafana` stay user names (clients always send one). A tenant in a
/// bearer value is always a request, refused when not granted.
#[inline]
fn requested_tenant<'e>(extracted: &'e Extracted<'_>, backend: &Backend) -> Option<&'e str> {
    let tenant = extracted.tenant.as_deref()?;
    let user_name_only = matches!(extracted.source, TokenSource::BasicPassword)
        && match backend {
            Backend::VmSingle => true,
            Backend::VmCluster { .. } => VmTenant::parse(tenant).is_none(),
            Backend::Mimir { .. } => false,
        };
    (!user_name_only).then_some(tenant)
}

/// `X-Scope-OrgID` and `X-Prom-Label-Policy` for the header backend (the
/// client's copies are already on the remove list, when it sent any).
#[inline]
fn tenant_headers(forward: &mut Forward, enforcement: &Enforcement) {
    if let Some(org_id) = &enforcement.org_id {
        forward
            .set_headers
            .push(("x-scope-orgid".into(), org_id.clone()));
    }
    for policy in &enforcement.label_policies {
        forward
            .add_headers
            .push(("x-prom-label-policy", policy.clone()));
    }
}

/// Configured claims as headers; every client copy is removed, also when
/// the token lacks the claim or its value cannot be sent.
#[inline]
fn identity_headers(
    forward: &mut Forward,
    head: &RequestHead<'_>,
    config: &Config,
    verified: &VerifiedToken,
) {
    let values = verified.identity_values(config);
    for (identity, value) in config.identity_headers.iter().zip(values) {
        remove_carried(forward, head, identity.header.clone());
        if let Some(value) = value {
            forward
                .set_headers
                .push((Cow::Owned(identity.header.clone()), value.clone()));
        }
    }
}

enum Verified {
    Token(Rc<VerifiedToken>),
    Await(Decision),
}

/// Full verification of a token not in the cache; a success is remembered
/// under its key when the cache is on.
fn verify_token(
    config: &Config,
    raw_token: &str,
    keys: &mut dyn KeyStore,
    cache: &mut TokenCache,
    cache_key: Option<TokenKey>,
    now_s: u64,
) -> Result<Verified, Refusal> {
    let token = token::parse(raw_token, config.max_token_bytes, config.claim_names())
        .map_err(|error| unparsed(raw_token, error))?;
    let (index, provider) =
        verify::provider_for(&token, &config.providers).map_err(Refusal::InvalidToken)?;
    let verified = match keys.key_set(index) {
        Some(key_set) => verify::verify(&token, provider, key_set, keys.signatures(), now_s),
        None => {
            return Ok(Verified::Await(Decision::AwaitKeys {
                provider: index,
                on_timeout: Refusal::KeysUnavailable,
            }))
        }
    };
    match verified {
        Err(TokenError::UnknownKeyId) if keys.wait_for_unknown_kid(index) => {
            return Ok(Verified::Await(Decision::AwaitKeys {
                provider: index,
                on_timeout: Refusal::InvalidToken(TokenError::UnknownKeyId),
            }))
        }
        other => other.map_err(Refusal::InvalidToken)?,
    }
    let valid_until = verify::claims::valid_until_s(&token.claims, provider);
    let verified = cache.grants.verified_token(&config.tenancy, token.claims);
    if let (Some(key), Some(generation)) = (cache_key, keys.key_generation(index)) {
        cache
            .tokens
            .insert(key, index, generation, valid_until, verified.clone());
    }
    Ok(Verified::Token(verified))
}

/// Why a token that does not parse is refused. One that is not even an RFC
/// 6750 `b64token` is no credential at all. A token that parses is one
/// (three parts of base64url symbols), so only these need the scan.
fn unparsed(raw_token: &str, error: TokenError) -> Refusal {
    match check_token_syntax(raw_token) {
        Err(malformed) => Refusal::Credentials(malformed),
        Ok(()) => Refusal::InvalidToken(error),
    }
}

/// Headers the decision reads; one that is not UTF-8 is refused.
fn is_read_header(config: &Config, name: &str) -> bool {
    matches!(
        name,
        ":method" | ":path" | "authorization" | "content-type" | "cookie"
    ) || config
        .token_sources
        .iter()
        .any(|source| matches!(source, TokenSource::Header { name: header, .. } if header == name))
}

/// The decoded query, only when a token may come in it.
#[inline]
fn token_query<'a>(config: &Config, target: &'a str) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let wanted = config
        .token_sources
        .iter()
        .any(|source| matches!(source, TokenSource::Query { .. }));
    if !wanted {
        return Vec::new();
    }
    match target.split_once('?') {
        Some((_, query)) => form_urlencoded::parse(query.as_bytes()).collect(),
        None => Vec::new(),
    }
}

/// The cookie header without the named cookie; `None` when nothing is left.
fn cookies_without(headers: &[&str], name: &str) -> Option<String> {
    let kept: Vec<&str> = headers
        .iter()
        .flat_map(|header| header.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').is_none_or(|(key, _)| key != name))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Decides about a complete body held back by `check`.
pub fn check_body(config: &Config, check: &BodyCheck, body: &[u8]) -> Result<(), Refusal> {
    if body.len() > config.max_body_bytes {
        return Err(Refusal::Request(rewrite::RewriteError::BodyTooLarge));
    }
    rewrite::check_body(check, body).map_err(Refusal::Request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header_pairs::{pair_spans, write_block};

    /// A request's block with a token-length value: all of it is read in
    /// the one pass, but for a block with a byte that is not UTF-8.
    #[test]
    fn a_text_block_is_checked_in_one_pass() {
        let token = "Bearer ".to_string() + &"a".repeat(800);
        let mut pairs: Vec<(&[u8], &[u8])> = vec![
            (b":path", "/api/v1/query?query=\u{e9}".as_bytes()),
            (b"authorization", token.as_bytes()),
        ];
        let block = write_block(&pairs);
        let spans = pair_spans(&block).unwrap();
        let text = BlockText::of(&block, spans[0].name.start);
        assert!(text.whole.is_some());
        assert_eq!(text.decode(&spans[1].value), Some(token.as_str()));
        pairs.push((b"user-agent", b"\xff"));
        let block = write_block(&pairs);
        let spans = pair_spans(&block).unwrap();
        let text = BlockText::of(&block, spans[0].name.start);
        assert!(text.whole.is_none());
        assert_eq!(text.decode(&spans[1].value), Some(token.as_str()));
        assert_eq!(text.decode(&spans[2].value), None);
    }
}
