//! From verified claims to what the backend must enforce.
//!
//! A claim mapping ([`vm_access`], vmauth's `metrics_*` fields, or
//! [`access_policies`]) turns the token's claims into a [`Grant`]: the
//! tenants it may read, each with its label scope, and where it may write.
//! [`enforce`] then picks what one request gets on one backend, refusing
//! whatever the backend could not enforce exactly.

pub mod access_policies;
pub mod claim_path;
pub mod identity;
pub mod pattern;
pub mod settings;
pub mod tenant_id;
pub mod vm_access;

use std::borrow::Cow;
use std::fmt;

pub use tenant_id::VmTenant;
pub use vm_access::VmAccess;

use serde_json::Value;

use crate::config::{Backend, Mapping, Tenancy};
use crate::verify::token::Claims;

/// Client headers that select a tenant in some backend; never forwarded.
pub const TENANT_HEADERS: [&str; 5] = [
    "accountid",
    "projectid",
    "x-scope-orgid",
    "x-prom-label-policy",
    "thanos-tenant",
];

/// What a request does to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    pub fn allows(self, operation: Operation) -> bool {
        matches!(
            (self, operation),
            (Access::ReadWrite, _)
                | (Access::Read, Operation::Read)
                | (Access::Write, Operation::Write)
        )
    }
}

/// Why a valid token is not allowed this request (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenancyError {
    NoAccessClaim,
    InvalidAccessClaim,
    ReadNotAllowed,
    WriteNotAllowed,
    NoClusterTenant,
    NoLabelScope,
    WriteNeedsLabels,
    /// The client named a tenant the token does not grant.
    TenantNotGranted,
    /// The client named something that is no tenant id of this backend.
    InvalidTenant,
    /// Reads of several tenants without federation, and no tenant named.
    SeveralTenants,
    /// A write that would go to more than one tenant.
    SeveralWriteTenants,
}

impl TenancyError {
    pub fn description(self) -> &'static str {
        match self {
            TenancyError::NoAccessClaim => "token grants no tenant access",
            TenancyError::InvalidAccessClaim => "token access claim is malformed",
            TenancyError::ReadNotAllowed => "token does not allow reads",
            TenancyError::WriteNotAllowed => "token does not allow writes",
            TenancyError::NoClusterTenant => "token access claim has no tenant",
            TenancyError::NoLabelScope => "token access claim has no extra_labels or extra_filters",
            TenancyError::WriteNeedsLabels => "writes need extra_labels in the token access claim",
            TenancyError::TenantNotGranted => "token does not grant the requested tenant",
            TenancyError::InvalidTenant => "requested tenant is not a valid tenant id",
            TenancyError::SeveralTenants => "token grants several tenants: name one",
            TenancyError::SeveralWriteTenants => "a write goes to one tenant: name one",
        }
    }
}

impl fmt::Display for TenancyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for TenancyError {}

/// What a token may see of, or write to, one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Canonical tenant (`7:3`, `team-a`); `None` on VictoriaMetrics
    /// single-node, which has no tenants.
    pub tenant: Option<String>,
    /// `extra_label` values, `name=value`: ANDed; on writes they override
    /// the same labels in the data.
    pub labels: Vec<String>,
    /// Series selectors, ORed (`extra_filters`, `X-Prom-Label-Policy`).
    pub selectors: Vec<String>,
}

impl Scope {
    /// No label restriction: everything of the tenant.
    fn is_whole_tenant(&self) -> bool {
        self.labels.is_empty() && self.selectors.is_empty()
    }
}

/// Everything a token grants, before a request picks from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub reads: Vec<Scope>,
    /// Candidates; a write must resolve to exactly one tenant.
    pub writes: Vec<Scope>,
}

/// The one value a grant is worked out from: the configured claim, or the
/// configured default when the token lacks it (or has it as `null`).
pub fn mapped_claim<'c>(tenancy: &'c Tenancy, claims: &'c Claims) -> Option<&'c Value> {
    tenancy
        .claim
        .find(claims)
        .filter(|value| !value.is_null())
        .or(tenancy.default.as_ref())
}

/// The grant of a verified token whose mapped claim (see [`mapped_claim`])
/// is `claim`: a function of that value and the configuration alone.
pub fn grant_of_claim(tenancy: &Tenancy, claim: Option<&Value>) -> Result<Grant, TenancyError> {
    match &tenancy.mapping {
        Mapping::VmAccess => Ok(VmAccess::from_claim(claim)?.grant()),
        Mapping::Vmauth => Ok(VmAccess::from_vmauth_claim(claim)?.grant()),
        Mapping::AccessPolicies(policies) => policies.grant(claim),
    }
}

/// What the rewritten request must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enforcement {
    /// Cluster backend: the tenant of the path.
    pub cluster_tenant: Option<VmTenant>,
    /// `extra_label` values, `name=value`.
    pub extra_labels: Vec<String>,
    /// `extra_filters` values; reads only (ingestion ignores them).
    pub extra_filters: Vec<String>,
    /// Header backend: `X-Scope-OrgID`, tenants joined by `|`.
    pub org_id: Option<String>,
    /// Header backend: `X-Prom-Label-Policy` values, one per selector.
    pub label_policies: Vec<String>,
}

/// Decides what `grant` means for one operation on one backend, for the
/// tenant the client named, if any. A grant that the backend could not
/// enforce exactly is refused rather than widened.
pub fn enforce(
    grant: &Grant,
    backend: &Backend,
    operation: Operation,
    requested: Option<&str>,
) -> Result<Enforcement, TenancyError> {
    let scopes = match operation {
        Operation::Read => &grant.reads,
        Operation::Write => &grant.writes,
    };
    if scopes.is_empty() {
        return Err(match operation {
            Operation::Read => TenancyError::ReadNotAllowed,
            Operation::Write => TenancyError::WriteNotAllowed,
        });
    }
    let chosen = match requested {
        None => merge_by_tenant(scopes.iter())?,
        Some(requested) => {
            let mut chosen = Vec::new();
            for tenant in requested_tenants(requested, backend, operation)? {
                let granted = scopes
                    .iter()
                    .filter(|scope| scope.tenant.as_deref() == Some(tenant.as_str()));
                let merged = merge_by_tenant(granted)?;
                if merged.is_empty() {
                    return Err(TenancyError::TenantNotGranted);
                }
                chosen.extend(merged);
            }
            chosen
        }
    };
    if chosen.len() > 1 {
        let federated = operation == Operation::Read
            && matches!(
                backend,
                Backend::Mimir {
                    federation: true,
                    ..
                }
            );
        if !federated {
            return Err(match operation {
                Operation::Read => TenancyError::SeveralTenants,
                Operation::Write => TenancyError::SeveralWriteTenants,
            });
        }
    }
    match backend {
        Backend::VmSingle | Backend::VmCluster { .. } => {
            vm_enforcement(&chosen[0], backend, operation)
        }
        Backend::Mimir { .. } => Ok(mimir_enforcement(&chosen, operation)),
    }
}

/// The tenants a client named, canonical; `a|b` only for federated reads.
fn requested_tenants(
    requested: &str,
    backend: &Backend,
    operation: Operation,
) -> Result<Vec<String>, TenancyError> {
    match backend {
        // Single-node has no tenants: a named one cannot be granted.
        Backend::VmSingle => Err(TenancyError::TenantNotGranted),
        Backend::VmCluster { .. } => VmTenant::parse(requested)
            .map(|tenant| vec![tenant.to_string()])
            .ok_or(TenancyError::InvalidTenant),
        Backend::Mimir { federation, .. } => {
            let tenants: Vec<&str> = requested.split('|').collect();
            if !tenants.iter().all(|t| tenant_id::is_org_id(t)) {
                return Err(TenancyError::InvalidTenant);
            }
            match (tenants.len(), operation, federation) {
                (1, _, _) => {}
                (_, Operation::Write, _) => return Err(TenancyError::SeveralWriteTenants),
                (_, Operation::Read, false) => return Err(TenancyError::SeveralTenants),
                (_, Operation::Read, true) => {}
            }
            let mut sorted: Vec<String> = Vec::with_capacity(tenants.len());
            for tenant in tenants {
                let at = sorted.partition_point(|known| known.as_str() < tenant);
                if sorted.get(at).map(String::as_str) != Some(tenant) {
                    sorted.insert(at, tenant.to_string());
                }
            }
            Ok(sorted)
        }
    }
}

/// One scope per tenant, in tenant order. Scopes of the same tenant are
/// united: the whole tenant if any of them is, otherwise every selector.
/// Label sets cannot be united exactly, so different ones are refused.
/// A scope is copied only when another one is united into it.
fn merge_by_tenant<'s>(
    scopes: impl Iterator<Item = &'s Scope>,
) -> Result<Vec<Cow<'s, Scope>>, TenancyError> {
    let mut merged: Vec<Cow<'s, Scope>> = Vec::new();
    for scope in scopes {
        let at = merged.partition_point(|m| m.tenant < scope.tenant);
        let Some(existing) = merged.get_mut(at).filter(|m| m.tenant == scope.tenant) else {
            merged.insert(at, Cow::Borrowed(scope));
            continue;
        };
        if **existing == *scope || existing.is_whole_tenant() {
            continue;
        }
        if scope.is_whole_tenant() {
            *existing = Cow::Borrowed(scope);
        } else if existing.labels.is_empty() && scope.labels.is_empty() {
            for selector in &scope.selectors {
                if !existing.selectors.contains(selector) {
                    existing.to_mut().selectors.push(selector.clone());
                }
            }
        } else {
            return Err(TenancyError::InvalidAccessClaim);
        }
    }
    Ok(merged)
}

fn vm_enforcement(
    scope: &Scope,
    backend: &Backend,
    operation: Operation,
) -> Result<Enforcement, TenancyError> {
    let extra_filters = match operation {
        Operation::Read => scope.selectors.clone(),
        Operation::Write => Vec::new(),
    };
    let cluster_tenant = match backend {
        Backend::VmCluster { .. } => Some(
            scope
                .tenant
                .as_deref()
                .and_then(VmTenant::parse)
                .ok_or(TenancyError::NoClusterTenant)?,
        ),
        _ => {
            match operation {
                Operation::Read if scope.labels.is_empty() && extra_filters.is_empty() => {
                    return Err(TenancyError::NoLabelScope)
                }
                Operation::Write if scope.labels.is_empty() => {
                    return Err(TenancyError::WriteNeedsLabels)
                }
                _ => {}
            }
            None
        }
    };
    Ok(Enforcement {
        cluster_tenant,
        extra_labels: scope.labels.clone(),
        extra_filters,
        ..Enforcement::default()
    })
}

/// `X-Scope-OrgID` with the tenants; on reads, a label policy per selector
/// of each tenant that is not granted whole (GEM: `<tenant>:<selector>`,
/// the selector percent-encoded).
fn mimir_enforcement(scopes: &[Cow<'_, Scope>], operation: Operation) -> Enforcement {
    let mut org_id = String::new();
    for tenant in scopes.iter().filter_map(|s| s.tenant.as_deref()) {
        if !org_id.is_empty() {
            org_id.push('|');
        }
        org_id.push_str(tenant);
    }
    let label_policies = match operation {
        Operation::Read => scopes
            .iter()
            .filter_map(|scope| Some((scope.tenant.as_deref()?, &scope.selectors)))
            .flat_map(|(tenant, selectors)| {
                selectors
                    .iter()
                    .map(move |selector| format!("{tenant}:{}", percent_encode(selector)))
            })
            .collect(),
        Operation::Write => Vec::new(),
    };
    Enforcement {
        org_id: Some(org_id),
        label_policies,
        ..Enforcement::default()
    }
}

/// Everything but RFC 3986 unreserved characters, as `%XX`: what Go's
/// `url.PathUnescape` (GEM's reader) turns back into the selector.
pub fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 15)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm_grant(value: serde_json::Value) -> Grant {
        VmAccess::from_claim(Some(&value)).unwrap().grant()
    }

    fn cluster() -> Backend {
        Backend::VmCluster {
            select_prefix: "/select".into(),
            insert_prefix: "/insert".into(),
        }
    }

    fn mimir(federation: bool) -> Backend {
        Backend::Mimir {
            prometheus_prefix: "/prometheus".into(),
            federation,
        }
    }

    fn scope(tenant: &str, selectors: &[&str]) -> Scope {
        Scope {
            tenant: Some(tenant.into()),
            labels: Vec::new(),
            selectors: selectors.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn single_node_reads_get_labels_and_filters_writes_only_labels() {
        let grant =
            vm_grant(json!({"extra_labels": {"team": "a"}, "extra_filters": ["{x=\"y\"}"]}));
        let read = enforce(&grant, &Backend::VmSingle, Operation::Read, None).unwrap();
        assert_eq!(read.extra_labels, ["team=a"]);
        assert_eq!(read.extra_filters, ["{x=\"y\"}"]);
        assert_eq!(read.cluster_tenant, None);
        let write = enforce(&grant, &Backend::VmSingle, Operation::Write, None).unwrap();
        assert!(write.extra_filters.is_empty());
    }

    #[test]
    fn single_node_refuses_unscoped_grants_and_named_tenants() {
        let filters_only = vm_grant(json!({"extra_filters": ["{x=\"y\"}"]}));
        assert!(enforce(&filters_only, &Backend::VmSingle, Operation::Read, None).is_ok());
        assert_eq!(
            enforce(&filters_only, &Backend::VmSingle, Operation::Write, None),
            Err(TenancyError::WriteNeedsLabels)
        );
        let tenant_only = vm_grant(json!({"tenant_id": {"account_id": 1}}));
        assert_eq!(
            enforce(&tenant_only, &Backend::VmSingle, Operation::Read, None),
            Err(TenancyError::NoLabelScope)
        );
        assert_eq!(
            enforce(
                &filters_only,
                &Backend::VmSingle,
                Operation::Read,
                Some("1")
            ),
            Err(TenancyError::TenantNotGranted)
        );
    }

    #[test]
    fn cluster_needs_a_tenant_and_checks_the_named_one() {
        let grant = vm_grant(json!({"tenant_id": {"account_id": 7, "project_id": 3}}));
        let read = enforce(&grant, &cluster(), Operation::Read, None).unwrap();
        assert_eq!(
            read.cluster_tenant.map(|t| t.to_string()),
            Some("7:3".into())
        );
        assert!(enforce(&grant, &cluster(), Operation::Read, Some("7:3")).is_ok());
        assert_eq!(
            enforce(&grant, &cluster(), Operation::Read, Some("7")),
            Err(TenancyError::TenantNotGranted)
        );
        assert_eq!(
            enforce(&grant, &cluster(), Operation::Read, Some("seven")),
            Err(TenancyError::InvalidTenant)
        );
        let labels_only = vm_grant(json!({"extra_labels": {"team": "a"}}));
        assert_eq!(
            enforce(&labels_only, &cluster(), Operation::Read, None),
            Err(TenancyError::NoClusterTenant)
        );
    }

    #[test]
    fn modes_limit_operations() {
        let read_only = vm_grant(json!({"extra_labels": {"team": "a"}, "mode": 1}));
        assert_eq!(
            enforce(&read_only, &Backend::VmSingle, Operation::Write, None),
            Err(TenancyError::WriteNotAllowed)
        );
        let write_only = vm_grant(json!({"extra_labels": {"team": "a"}, "mode": 2}));
        assert_eq!(
            enforce(&write_only, &Backend::VmSingle, Operation::Read, None),
            Err(TenancyError::ReadNotAllowed)
        );
    }

    #[test]
    fn mimir_sets_the_org_id_and_label_policies_on_reads_only() {
        let grant = Grant {
            reads: vec![scope("team-a", &["{env=\"prod\"}", "{job=~\"a|b\"}"])],
            writes: vec![scope("team-a", &[])],
        };
        let read = enforce(&grant, &mimir(false), Operation::Read, None).unwrap();
        assert_eq!(read.org_id.as_deref(), Some("team-a"));
        assert_eq!(
            read.label_policies,
            [
                "team-a:%7Benv%3D%22prod%22%7D",
                "team-a:%7Bjob%3D~%22a%7Cb%22%7D"
            ]
        );
        assert!(read.extra_labels.is_empty() && read.extra_filters.is_empty());
        let write = enforce(&grant, &mimir(false), Operation::Write, None).unwrap();
        assert_eq!(write.org_id.as_deref(), Some("team-a"));
        assert!(write.label_policies.is_empty());
    }

    #[test]
    fn several_tenants_federate_only_when_allowed() {
        let grant = Grant {
            reads: vec![scope("b", &[]), scope("a", &["{x=\"1\"}"])],
            writes: vec![scope("a", &[]), scope("b", &[])],
        };
        assert_eq!(
            enforce(&grant, &mimir(false), Operation::Read, None),
            Err(TenancyError::SeveralTenants)
        );
        let federated = enforce(&grant, &mimir(true), Operation::Read, None).unwrap();
        assert_eq!(federated.org_id.as_deref(), Some("a|b"));
        assert_eq!(federated.label_policies, ["a:%7Bx%3D%221%22%7D"]);
        let picked = enforce(&grant, &mimir(false), Operation::Read, Some("b")).unwrap();
        assert_eq!(picked.org_id.as_deref(), Some("b"));
        assert!(picked.label_policies.is_empty());
        assert_eq!(
            enforce(&grant, &mimir(false), Operation::Read, Some("a|b")),
            Err(TenancyError::SeveralTenants)
        );
        assert_eq!(
            enforce(&grant, &mimir(true), Operation::Read, Some("b|a"))
                .unwrap()
                .org_id
                .as_deref(),
            Some("a|b")
        );
        assert_eq!(
            enforce(&grant, &mimir(true), Operation::Read, Some("a|c")),
            Err(TenancyError::TenantNotGranted)
        );
        // Writes never federate.
        assert_eq!(
            enforce(&grant, &mimir(true), Operation::Write, None),
            Err(TenancyError::SeveralWriteTenants)
        );
        assert_eq!(
            enforce(&grant, &mimir(true), Operation::Write, Some("a|b")),
            Err(TenancyError::SeveralWriteTenants)
        );
        assert_eq!(
            enforce(&grant, &mimir(true), Operation::Write, Some("b"))
                .unwrap()
                .org_id
                .as_deref(),
            Some("b")
        );
        for bad in ["", ".", "a b", "a:b", "a||b"] {
            assert_eq!(
                enforce(&grant, &mimir(true), Operation::Read, Some(bad)),
                Err(TenancyError::InvalidTenant),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scopes_of_one_tenant_are_united() {
        let grant = Grant {
            reads: vec![
                scope("a", &["{x=\"1\"}"]),
                scope("a", &["{y=\"2\"}", "{x=\"1\"}"]),
            ],
            writes: Vec::new(),
        };
        let read = enforce(&grant, &mimir(false), Operation::Read, None).unwrap();
        assert_eq!(read.label_policies.len(), 2);
        let widened = Grant {
            reads: vec![scope("a", &["{x=\"1\"}"]), scope("a", &[])],
            writes: Vec::new(),
        };
        let read = enforce(&widened, &mimir(false), Operation::Read, None).unwrap();
        assert!(
            read.label_policies.is_empty(),
            "one policy grants the whole tenant"
        );
    }
}
