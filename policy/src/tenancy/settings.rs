//! The `tenancy` and `identity_headers` parts of the configuration, read
//! from JSON by hand (a derived reader costs the filter kilobytes per type)
//! and compiled once: claim paths split, the policy pattern compiled,
//! tenants validated for the backend, the default grant checked.

use serde_json::{Map, Value};

use super::access_policies::{AccessPolicies, Policy};
use super::claim_path::ClaimPath;
use super::identity::IdentityHeader;
use super::pattern::Pattern;
use super::tenant_id::{self, VmTenant};
use super::vm_access::{is_selector_text, VmAccess};
use crate::config::{
    is_header_name, is_quotable, path_prefix, Backend, ConfigError, Mapping, Tenancy, TokenSource,
};
use crate::tenancy::TENANT_HEADERS;

const TENANCY_FIELDS: [&str; 10] = [
    "backend",
    "claim",
    "mapping",
    "select_prefix",
    "insert_prefix",
    "prometheus_prefix",
    "federation",
    "pattern",
    "policies",
    "default",
];
const MAX_POLICIES: usize = 256;
const MAX_POLICY_ENTRIES: usize = 32;
const MAX_IDENTITY_HEADERS: usize = 32;

/// Headers the gateway itself decides or that carry credentials or framing.
const RESERVED_HEADERS: [&str; 10] = [
    "authorization",
    "cookie",
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "keep-alive",
];

/// The fields of one JSON object, each error naming `<prefix>.<field>`.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: &'a str,
}

impl Fields<'_> {
    fn error(&self, name: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::new(format!("{}.{name}", self.prefix), reason)
    }

    fn refuse_unknown(&self, known: &[&str]) -> Result<(), ConfigError> {
        match self
            .object
            .keys()
            .find(|key| !known.contains(&key.as_str()))
        {
            Some(unknown) => Err(self.error(unknown, format!("unknown field `{unknown}`"))),
            None => Ok(()),
        }
    }

    fn string(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match self.object.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.error(name, "must be a string")),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        match self.object.get(name) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(self.error(name, "must be true or false")),
        }
    }

    /// A list of strings; absent is empty.
    fn strings(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let invalid = || self.error(name, "must be a list of strings");
        match self.object.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string).ok_or_else(invalid))
                .collect(),
            Some(_) => Err(invalid()),
        }
    }

    /// One of `choices`, or `default` when absent; `expected` lists them.
    fn choice<'c>(
        &self,
        name: &str,
        choices: &[&'c str],
        default: Option<&'c str>,
        expected: &str,
    ) -> Result<&'c str, ConfigError> {
        let value = self.string(name)?;
        let found = match value.as_deref() {
            None => default,
            Some(text) => choices.iter().copied().find(|choice| *choice == text),
        };
        found.ok_or_else(|| self.error(name, expected))
    }
}

/// Compiles the `tenancy` object.
pub fn tenancy(object: &Map<String, Value>) -> Result<Tenancy, ConfigError> {
    let fields = Fields {
        object,
        prefix: "tenancy",
    };
    fields.refuse_unknown(&TENANCY_FIELDS)?;
    let backend = backend(&fields)?;
    let mapping_name = fields.choice(
        "mapping",
        &["vm_access", "vmauth", "access_policies"],
        Some("vm_access"),
        "expected `vm_access`, `vmauth` or `access_policies`",
    )?;
    if matches!(backend, Backend::Mimir { .. }) && mapping_name != "access_policies" {
        return Err(fields.error(
            "mapping",
            "the `mimir` backend takes its tenants from `access_policies`",
        ));
    }
    let default_claim = match mapping_name {
        "access_policies" => "scope",
        _ => "vm_access",
    };
    let claim_text = fields
        .string("claim")?
        .unwrap_or_else(|| default_claim.into());
    let claim = ClaimPath::parse(&claim_text).map_err(|reason| {
        fields.error(
            "claim",
            format!("{claim_text:?} is not a claim path: {reason}"),
        )
    })?;
    let mapping = match mapping_name {
        "access_policies" => Mapping::AccessPolicies(access_policies(&fields, &backend)?),
        _ if object.contains_key("pattern") || object.contains_key("policies") => {
            return Err(fields.error(
                "pattern",
                "`pattern` and `policies` belong to the `access_policies` mapping",
            ))
        }
        "vmauth" => Mapping::Vmauth,
        _ => Mapping::VmAccess,
    };
    let default = object.get("default").cloned();
    if let Some(default) = &default {
        check_default(&mapping, default).map_err(|reason| fields.error("default", reason))?;
    }
    Ok(Tenancy {
        claim,
        mapping,
        default,
        backend,
    })
}

fn backend(fields: &Fields<'_>) -> Result<Backend, ConfigError> {
    let name = fields.choice(
        "backend",
        &["vm_single", "vm_cluster", "mimir"],
        None,
        "expected `vm_single`, `vm_cluster` or `mimir`",
    )?;
    let only_for = |field: &str, backend: &str| {
        if name != backend && fields.object.contains_key(field) {
            Err(fields.error(field, format!("only applies to the `{backend}` backend")))
        } else {
            Ok(())
        }
    };
    only_for("select_prefix", "vm_cluster")?;
    only_for("insert_prefix", "vm_cluster")?;
    only_for("prometheus_prefix", "mimir")?;
    only_for("federation", "mimir")?;
    let prefix = |field: &str, default: &str| {
        path_prefix(&format!("tenancy.{field}"), fields.string(field)?, default)
    };
    Ok(match name {
        "vm_single" => Backend::VmSingle,
        "vm_cluster" => Backend::VmCluster {
            select_prefix: prefix("select_prefix", "/select")?,
            insert_prefix: prefix("insert_prefix", "/insert")?,
        },
        _ => Backend::Mimir {
            prometheus_prefix: prefix("prometheus_prefix", "/prometheus")?,
            federation: fields.boolean("federation")?.unwrap_or(false),
        },
    })
}

fn access_policies(fields: &Fields<'_>, backend: &Backend) -> Result<AccessPolicies, ConfigError> {
    let pattern_text = fields
        .string("pattern")?
        .ok_or_else(|| fields.error("pattern", "the `access_policies` mapping needs a pattern"))?;
    let pattern = Pattern::new(&pattern_text)
        .map_err(|error| fields.error("pattern", format!("{pattern_text:?}: {error}")))?;
    if pattern.groups() == 0 {
        return Err(fields.error(
            "pattern",
            "needs a capture group: its first group names the policy",
        ));
    }
    let raw = match fields.object.get("policies") {
        Some(Value::Object(raw)) if (1..=MAX_POLICIES).contains(&raw.len()) => raw,
        _ => return Err(fields.error("policies", "must be an object of 1 to 256 policies")),
    };
    let mut policies = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        policies.push((name.clone(), policy(name, value, backend)?));
    }
    Ok(AccessPolicies { pattern, policies })
}

/// `{"tenants": [...], "scopes": ["read", "write"], "selectors": [...]}`.
fn policy(name: &str, value: &Value, backend: &Backend) -> Result<Policy, ConfigError> {
    let prefix = format!("tenancy.policies.{name}");
    let (Some(object), true) = (value.as_object(), !name.is_empty() && is_quotable(name)) else {
        return Err(ConfigError::new(
            prefix,
            "must be an object, named with printable ASCII",
        ));
    };
    let fields = Fields {
        object,
        prefix: &prefix,
    };
    fields.refuse_unknown(&["tenants", "scopes", "selectors"])?;
    let scopes = fields.strings("scopes")?;
    let read = scopes.iter().filter(|s| *s == "read").count();
    let write = scopes.iter().filter(|s| *s == "write").count();
    if scopes.is_empty() || read > 1 || write > 1 || read + write != scopes.len() {
        return Err(fields.error("scopes", "must list `read`, `write` or both, once each"));
    }
    if matches!(backend, Backend::VmSingle) && write > 0 {
        return Err(fields.error(
            "scopes",
            "`vm_single` writes need extra_labels: use the `vm_access` or `vmauth` mapping",
        ));
    }
    let tenants = policy_tenants(&fields, backend)?;
    let selectors = fields.strings("selectors")?;
    if selectors.len() > MAX_POLICY_ENTRIES || !selectors.iter().all(|s| is_selector_text(s)) {
        return Err(fields.error(
            "selectors",
            "at most 32 series selectors, not blank, without control characters",
        ));
    }
    Ok(Policy {
        tenants,
        read: read > 0,
        write: write > 0,
        selectors,
    })
}

/// Canonical tenants of the backend; none on single-node.
fn policy_tenants(fields: &Fields<'_>, backend: &Backend) -> Result<Vec<String>, ConfigError> {
    let tenants = fields.strings("tenants")?;
    let mut canonical: Vec<String> = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let valid = match backend {
            Backend::VmSingle => {
                return Err(fields.error(
                    "tenants",
                    "`vm_single` has no tenants: scope policies with selectors",
                ))
            }
            Backend::VmCluster { .. } => VmTenant::parse(&tenant).map(|t| t.to_string()),
            Backend::Mimir { .. } => tenant_id::is_org_id(&tenant).then_some(tenant.clone()),
        };
        let valid = valid.ok_or_else(|| {
            fields.error(
                "tenants",
                format!("{tenant:?} is not a tenant id of this backend"),
            )
        })?;
        if !canonical.contains(&valid) {
            canonical.push(valid);
        }
    }
    let needed = !matches!(backend, Backend::VmSingle);
    if (needed && canonical.is_empty()) || canonical.len() > MAX_POLICY_ENTRIES {
        return Err(fields.error("tenants", "must list 1 to 32 tenants"));
    }
    Ok(canonical)
}

/// The default must grant something under the mapping.
fn check_default(mapping: &Mapping, default: &Value) -> Result<(), String> {
    let granted = match mapping {
        Mapping::VmAccess => VmAccess::from_claim(Some(default)).map(|_| ()),
        Mapping::Vmauth => VmAccess::from_vmauth_claim(Some(default)).map(|_| ()),
        Mapping::AccessPolicies(policies) => policies.grant(Some(default)).map(|_| ()),
    };
    granted.map_err(|error| format!("must be a claim value the mapping accepts: {error}"))
}

/// Compiles `identity_headers`: `[{"claim": <path>, "header": <name>}]`.
pub fn identity_headers(
    value: &Value,
    token_sources: &[TokenSource],
) -> Result<Vec<IdentityHeader>, ConfigError> {
    let entries = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) if entries.len() <= MAX_IDENTITY_HEADERS => entries,
        _ => {
            return Err(ConfigError::new(
                "identity_headers",
                "must be a list of at most 32 {\"claim\", \"header\"} objects",
            ))
        }
    };
    let mut headers: Vec<IdentityHeader> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let prefix = format!("identity_headers[{index}]");
        let Some(object) = entry.as_object() else {
            return Err(ConfigError::new(prefix, "must be an object"));
        };
        let fields = Fields {
            object,
            prefix: &prefix,
        };
        fields.refuse_unknown(&["claim", "header"])?;
        let required = |name: &str| {
            fields
                .string(name)?
                .ok_or_else(|| fields.error(name, "missing field"))
        };
        let claim_text = required("claim")?;
        let claim = ClaimPath::parse(&claim_text).map_err(|reason| {
            fields.error(
                "claim",
                format!("{claim_text:?} is not a claim path: {reason}"),
            )
        })?;
        let header = required("header")?.to_ascii_lowercase();
        if !is_identity_header(&header, token_sources) {
            return Err(fields.error(
                "header",
                "must be an HTTP header name that carries no credentials, tenant or framing",
            ));
        }
        if headers.iter().any(|h| h.header == header) {
            return Err(fields.error("header", "listed twice"));
        }
        headers.push(IdentityHeader { claim, header });
    }
    Ok(headers)
}

fn is_identity_header(header: &str, token_sources: &[TokenSource]) -> bool {
    let token_header = token_sources
        .iter()
        .any(|s| matches!(s, TokenSource::Header { name, .. } if name == header));
    is_header_name(header)
        && !RESERVED_HEADERS.contains(&header)
        && !TENANT_HEADERS.contains(&header)
        && !header.starts_with("proxy-")
        && !token_header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn config(tenancy: Value, identity: Value) -> Result<Config, ConfigError> {
        let document = json!({
            "providers": [{"name": "p", "issuer": "https://i", "remote_jwks": {"uri": "https://i/k", "cluster": "c"}}],
            "tenancy": tenancy,
            "identity_headers": identity,
        });
        Config::from_json(document.to_string().as_bytes())
    }

    fn field_of(tenancy: Value) -> String {
        config(tenancy, Value::Null).expect_err("refused").field
    }

    fn policies(backend: &str, tenants: Value) -> Value {
        json!({"backend": backend, "mapping": "access_policies", "pattern": "metrics-(.+)",
               "policies": {"a": {"tenants": tenants, "scopes": ["read", "write"]}}})
    }

    #[test]
    fn mappings_claims_and_backends_compile() {
        let mimir = config(policies("mimir", json!(["team-a"])), Value::Null).unwrap();
        assert_eq!(mimir.tenancy.claim.to_string(), "scope");
        assert_eq!(
            mimir.tenancy.backend,
            Backend::Mimir {
                prometheus_prefix: "/prometheus".into(),
                federation: false
            }
        );
        let Mapping::AccessPolicies(compiled) = &mimir.tenancy.mapping else {
            panic!("access policies expected");
        };
        assert_eq!(compiled.policies[0].1.tenants, ["team-a"]);
        let cluster = config(
            policies("vm_cluster", json!(["7", "7:0", "8:1"])),
            Value::Null,
        )
        .unwrap();
        let Mapping::AccessPolicies(compiled) = &cluster.tenancy.mapping else {
            panic!("access policies expected");
        };
        assert_eq!(
            compiled.policies[0].1.tenants,
            ["7:0", "8:1"],
            "canonical, once each"
        );
        let vmauth = config(
            json!({"backend": "vm_single", "mapping": "vmauth", "claim": "ext.\"vm.access\"",
                   "default": {"metrics_extra_labels": ["team=guest"], "mode": 1}}),
            Value::Null,
        )
        .unwrap();
        assert_eq!(vmauth.tenancy.mapping, Mapping::Vmauth);
        assert_eq!(vmauth.tenancy.claim.to_string(), "ext.\"vm.access\"");
        assert!(vmauth.tenancy.default.is_some());
    }

    #[test]
    fn mistakes_name_their_field() {
        let cases = [
            (json!({"backend": "nope"}), "tenancy.backend"),
            (json!({}), "tenancy.backend"),
            (
                json!({"backend": "vm_single", "unexpected": 1}),
                "tenancy.unexpected",
            ),
            (
                json!({"backend": "vm_single", "mapping": "gem"}),
                "tenancy.mapping",
            ),
            (json!({"backend": "mimir"}), "tenancy.mapping"),
            (
                json!({"backend": "vm_single", "claim": "a..b"}),
                "tenancy.claim",
            ),
            (
                json!({"backend": "vm_single", "federation": true}),
                "tenancy.federation",
            ),
            (
                json!({"backend": "vm_single", "prometheus_prefix": "/p"}),
                "tenancy.prometheus_prefix",
            ),
            (
                json!({"backend": "mimir", "mapping": "access_policies", "federation": "yes"}),
                "tenancy.federation",
            ),
            (
                json!({"backend": "vm_single", "pattern": "(x)"}),
                "tenancy.pattern",
            ),
            (
                json!({"backend": "vm_single", "default": {"mode": 7}}),
                "tenancy.default",
            ),
            (
                json!({"backend": "vm_single", "default": "not an object"}),
                "tenancy.default",
            ),
            (
                policies("mimir", json!(["a|b"])),
                "tenancy.policies.a.tenants",
            ),
            (
                policies("mimir", json!([".."])),
                "tenancy.policies.a.tenants",
            ),
            (policies("mimir", json!([])), "tenancy.policies.a.tenants"),
            (
                policies("vm_cluster", json!(["team-a"])),
                "tenancy.policies.a.tenants",
            ),
            (
                policies("vm_single", json!([])),
                "tenancy.policies.a.scopes",
            ),
        ];
        for (tenancy, field) in cases {
            assert_eq!(field_of(tenancy.clone()), field, "{tenancy}");
        }
        let mut no_group = policies("mimir", json!(["a"]));
        no_group["pattern"] = json!("metrics-.+");
        assert_eq!(field_of(no_group), "tenancy.pattern");
        let mut bad_pattern = policies("mimir", json!(["a"]));
        bad_pattern["pattern"] = json!("(?i)(x)");
        assert_eq!(field_of(bad_pattern), "tenancy.pattern");
        let mut twice = policies("mimir", json!(["a"]));
        twice["policies"]["a"]["scopes"] = json!(["read", "read"]);
        assert_eq!(field_of(twice), "tenancy.policies.a.scopes");
        let mut unknown = policies("mimir", json!(["a"]));
        unknown["policies"]["a"]["labels"] = json!({});
        assert_eq!(field_of(unknown), "tenancy.policies.a.labels");
        let mut default_unmatched = policies("mimir", json!(["a"]));
        default_unmatched["default"] = json!(["metrics-unknown"]);
        assert_eq!(field_of(default_unmatched), "tenancy.default");
    }

    #[test]
    fn identity_headers_are_checked() {
        let single = json!({"backend": "vm_single"});
        let ok = config(
            single.clone(),
            json!([{"claim": "email", "header": "X-WEBAUTH-EMAIL"},
                   {"claim": "groups", "header": "X-Groups"}]),
        )
        .unwrap();
        assert_eq!(ok.identity_headers[0].header, "x-webauth-email");
        for (identity, field) in [
            (
                json!([{"claim": "email", "header": "Authorization"}]),
                "identity_headers[0].header",
            ),
            (
                json!([{"claim": "email", "header": "X-Scope-OrgID"}]),
                "identity_headers[0].header",
            ),
            (
                json!([{"claim": "email", "header": "bad header"}]),
                "identity_headers[0].header",
            ),
            (
                json!([{"claim": "email", "header": "Host"}]),
                "identity_headers[0].header",
            ),
            (
                json!([{"claim": "a", "header": "x-a"}, {"claim": "b", "header": "X-A"}]),
                "identity_headers[1].header",
            ),
            (
                json!([{"claim": "", "header": "x-a"}]),
                "identity_headers[0].claim",
            ),
            (json!([{"header": "x-a"}]), "identity_headers[0].claim"),
            (
                json!([{"claim": "a", "header": "x-a", "other": 1}]),
                "identity_headers[0].other",
            ),
            (json!({"claim": "a"}), "identity_headers"),
        ] {
            let error = config(single.clone(), identity.clone()).expect_err("refused");
            assert_eq!(error.field, field, "{identity}");
        }
    }
}
