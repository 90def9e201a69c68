//! From verified claims to what the backend must enforce.

pub mod vm_access;

use std::fmt;

pub use vm_access::{VmAccess, VmTenant};

use crate::config::Backend;

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
}

impl TenancyError {
    pub fn description(self) -> &'static str {
        match self {
            TenancyError::NoAccessClaim => "token grants no tenant access",
            TenancyError::InvalidAccessClaim => "token access claim is malformed",
            TenancyError::ReadNotAllowed => "token does not allow reads",
            TenancyError::WriteNotAllowed => "token does not allow writes",
            TenancyError::NoClusterTenant => "token access claim has no tenant_id",
            TenancyError::NoLabelScope => "token access claim has no extra_labels or extra_filters",
            TenancyError::WriteNeedsLabels => "writes need extra_labels in the token access claim",
        }
    }
}

impl fmt::Display for TenancyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for TenancyError {}

/// What the rewritten request must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    /// Cluster backend: the tenant of the path.
    pub cluster_tenant: Option<VmTenant>,
    /// `extra_label` values, `name=value`.
    pub extra_labels: Vec<String>,
    /// `extra_filters` values; reads only (ingestion ignores them).
    pub extra_filters: Vec<String>,
}

/// Decides what `access` means for one operation on one backend. A grant
/// that the backend could not enforce is refused rather than widened.
pub fn enforce(
    access: &VmAccess,
    backend: &Backend,
    operation: Operation,
) -> Result<Enforcement, TenancyError> {
    if !access.access.allows(operation) {
        return Err(match operation {
            Operation::Read => TenancyError::ReadNotAllowed,
            Operation::Write => TenancyError::WriteNotAllowed,
        });
    }
    let extra_labels: Vec<String> = access
        .extra_labels
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let extra_filters = match operation {
        Operation::Read => access.extra_filters.clone(),
        Operation::Write => Vec::new(),
    };
    let cluster_tenant = match backend {
        Backend::VmCluster { .. } => Some(access.tenant.ok_or(TenancyError::NoClusterTenant)?),
        Backend::VmSingle => {
            match operation {
                Operation::Read if extra_labels.is_empty() && extra_filters.is_empty() => {
                    return Err(TenancyError::NoLabelScope)
                }
                Operation::Write if extra_labels.is_empty() => {
                    return Err(TenancyError::WriteNeedsLabels)
                }
                _ => {}
            }
            None
        }
    };
    Ok(Enforcement {
        cluster_tenant,
        extra_labels,
        extra_filters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn access(value: serde_json::Value) -> VmAccess {
        VmAccess::from_claim(Some(&value)).unwrap()
    }

    fn cluster() -> Backend {
        Backend::VmCluster {
            select_prefix: "/select".into(),
            insert_prefix: "/insert".into(),
        }
    }

    #[test]
    fn single_node_reads_get_labels_and_filters_writes_only_labels() {
        let grant = access(json!({"extra_labels": {"team": "a"}, "extra_filters": ["{x=\"y\"}"]}));
        let read = enforce(&grant, &Backend::VmSingle, Operation::Read).unwrap();
        assert_eq!(read.extra_labels, ["team=a"]);
        assert_eq!(read.extra_filters, ["{x=\"y\"}"]);
        assert_eq!(read.cluster_tenant, None);
        let write = enforce(&grant, &Backend::VmSingle, Operation::Write).unwrap();
        assert!(write.extra_filters.is_empty());
    }

    #[test]
    fn single_node_refuses_unscoped_grants() {
        let filters_only = access(json!({"extra_filters": ["{x=\"y\"}"]}));
        assert!(enforce(&filters_only, &Backend::VmSingle, Operation::Read).is_ok());
        assert_eq!(
            enforce(&filters_only, &Backend::VmSingle, Operation::Write),
            Err(TenancyError::WriteNeedsLabels)
        );
        let tenant_only = access(json!({"tenant_id": {"account_id": 1}}));
        assert_eq!(
            enforce(&tenant_only, &Backend::VmSingle, Operation::Read),
            Err(TenancyError::NoLabelScope)
        );
    }

    #[test]
    fn cluster_needs_a_tenant() {
        let grant = access(json!({"tenant_id": {"account_id": 7, "project_id": 3}}));
        let read = enforce(&grant, &cluster(), Operation::Read).unwrap();
        assert_eq!(
            read.cluster_tenant,
            Some(VmTenant {
                account_id: 7,
                project_id: 3
            })
        );
        let labels_only = access(json!({"extra_labels": {"team": "a"}}));
        assert_eq!(
            enforce(&labels_only, &cluster(), Operation::Read),
            Err(TenancyError::NoClusterTenant)
        );
    }

    #[test]
    fn modes_limit_operations() {
        let read_only = access(json!({"extra_labels": {"team": "a"}, "mode": 1}));
        assert_eq!(
            enforce(&read_only, &Backend::VmSingle, Operation::Write),
            Err(TenancyError::WriteNotAllowed)
        );
        let write_only = access(json!({"extra_labels": {"team": "a"}, "mode": 2}));
        assert_eq!(
            enforce(&write_only, &Backend::VmSingle, Operation::Read),
            Err(TenancyError::ReadNotAllowed)
        );
    }
}
