//! vmgateway's `vm_access` claim:
//!
//! ```json
//! {"tenant_id": {"account_id": 1, "project_id": 5},
//!  "extra_labels": {"team": "a"}, "extra_filters": ["{env=~\"prod|dev\"}"],
//!  "mode": 1}
//! ```
//!
//! The claim may also be a JSON string holding that object (some identity
//! providers can only emit string claims). `mode` 0 is full access, 1 read
//! only, 2 write only (bit flags, so 3 is full access too).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{Access, TenancyError};

const MAX_ENTRIES: usize = 32;
const MAX_VALUE_BYTES: usize = 1024;

/// What a `vm_access` claim grants, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmAccess {
    pub tenant: Option<VmTenant>,
    /// `extra_label` arguments, `name=value`, ANDed.
    pub extra_labels: BTreeMap<String, String>,
    /// `extra_filters` series selectors, ORed.
    pub extra_filters: Vec<String>,
    pub access: Access,
}

/// A VictoriaMetrics cluster tenant, `<account_id>:<project_id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmTenant {
    pub account_id: u32,
    pub project_id: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVmAccess {
    #[serde(default)]
    tenant_id: Option<RawTenant>,
    #[serde(default)]
    extra_labels: BTreeMap<String, String>,
    #[serde(default)]
    extra_filters: Vec<String>,
    #[serde(default)]
    mode: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    account_id: u32,
    #[serde(default)]
    project_id: u32,
}

impl VmAccess {
    /// Reads the claim value; `None` when the token has no such claim.
    pub fn from_claim(claim: Option<&Value>) -> Result<VmAccess, TenancyError> {
        let raw: RawVmAccess = match claim {
            None | Some(Value::Null) => return Err(TenancyError::NoAccessClaim),
            Some(Value::String(text)) => serde_json::from_str(text),
            Some(value) => RawVmAccess::deserialize(value),
        }
        .map_err(|_| TenancyError::InvalidAccessClaim)?;
        validate(raw)
    }
}

fn validate(raw: RawVmAccess) -> Result<VmAccess, TenancyError> {
    let access = match raw.mode {
        0 | 3 => Access::ReadWrite,
        1 => Access::Read,
        2 => Access::Write,
        _ => return Err(TenancyError::InvalidAccessClaim),
    };
    if raw.extra_labels.len() > MAX_ENTRIES || raw.extra_filters.len() > MAX_ENTRIES {
        return Err(TenancyError::InvalidAccessClaim);
    }
    let labels_ok = raw
        .extra_labels
        .iter()
        // An empty value would match series without the label: a wider grant.
        .all(|(name, value)| {
            is_label_name(name) && !value.trim().is_empty() && is_printable(value)
        });
    let filters_ok = raw
        .extra_filters
        .iter()
        .all(|filter| !filter.trim().is_empty() && is_printable(filter));
    if !labels_ok || !filters_ok {
        return Err(TenancyError::InvalidAccessClaim);
    }
    Ok(VmAccess {
        tenant: raw.tenant_id.map(|t| VmTenant {
            account_id: t.account_id,
            project_id: t.project_id,
        }),
        extra_labels: raw.extra_labels,
        extra_filters: raw.extra_filters,
        access,
    })
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= MAX_VALUE_BYTES
}

fn is_printable(value: &str) -> bool {
    value.len() <= MAX_VALUE_BYTES && !value.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn access(value: Value) -> Result<VmAccess, TenancyError> {
        VmAccess::from_claim(Some(&value))
    }

    #[test]
    fn reads_the_object_form() {
        let parsed = access(json!({
            "tenant_id": {"account_id": 7},
            "extra_labels": {"team": "a", "env": "prod"},
            "extra_filters": ["{job=\"x\"}"],
            "mode": 1
        }))
        .unwrap();
        assert_eq!(
            parsed.tenant,
            Some(VmTenant {
                account_id: 7,
                project_id: 0
            })
        );
        assert_eq!(parsed.extra_labels.len(), 2);
        assert_eq!(parsed.extra_filters, ["{job=\"x\"}"]);
        assert_eq!(parsed.access, Access::Read);
    }

    #[test]
    fn reads_the_string_form_and_modes() {
        let parsed = access(json!("{\"extra_labels\":{\"team\":\"a\"},\"mode\":2}")).unwrap();
        assert_eq!(parsed.access, Access::Write);
        assert_eq!(
            access(json!({"mode": 0})).unwrap().access,
            Access::ReadWrite
        );
        assert_eq!(
            access(json!({"mode": 3})).unwrap().access,
            Access::ReadWrite
        );
    }

    #[test]
    fn refuses_what_cannot_be_enforced_exactly() {
        assert_eq!(VmAccess::from_claim(None), Err(TenancyError::NoAccessClaim));
        for bad in [
            json!({"mode": 4}),
            json!({"mode": -1}),
            json!({"tenant_id": {"account_id": -1}}),
            json!({"tenant_id": {"account_id": 4294967296u64}}),
            json!({"tenant_id": {"account_id": "7"}}),
            json!({"extra_labels": {"bad-name": "x"}}),
            json!({"extra_labels": {"team": "a\nb"}}),
            json!({"extra_labels": {"team": ""}}),
            json!({"extra_labels": {"team": "  "}}),
            json!({"extra_labels": {"team": 1}}),
            json!({"extra_filters": [""]}),
            json!({"extra_filters": "{a=\"b\"}"}),
            json!({"unknown": 1}),
            json!("not json"),
            json!(42),
        ] {
            assert_eq!(
                access(bad.clone()),
                Err(TenancyError::InvalidAccessClaim),
                "{bad}"
            );
        }
    }
}
