//! VictoriaMetrics' `vm_access` claim, in the two vocabularies its gateways
//! read. vmgateway's:
//!
//! ```json
//! {"tenant_id": {"account_id": 1, "project_id": 5},
//!  "extra_labels": {"team": "a"}, "extra_filters": ["{env=~\"prod|dev\"}"],
//!  "mode": 1}
//! ```
//!
//! and vmauth's (`logs_*` fields are for VictoriaLogs and ignored here):
//!
//! ```json
//! {"metrics_account_id": 1, "metrics_project_id": 5,
//!  "metrics_extra_labels": ["team=a"], "metrics_extra_filters": ["{env=\"prod\"}"]}
//! ```
//!
//! The claim may also be a JSON string holding that object (some identity
//! providers can only emit string claims). A token issued for both gateways
//! carries both vocabularies; each mapping reads its own and ignores the
//! other's. `mode` (0 full access, 1 read only, 2 write only; bit flags, so
//! 3 is full access too) is honoured by both, so a read-only token never
//! writes.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use super::{Access, Grant, Operation, Scope, TenancyError, VmTenant};

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
    #[serde(default)]
    metrics_account_id: Option<u32>,
    #[serde(default)]
    metrics_project_id: Option<u32>,
    #[serde(default)]
    metrics_extra_labels: Vec<String>,
    #[serde(default)]
    metrics_extra_filters: Vec<String>,
    #[serde(default, rename = "logs_account_id")]
    _logs_account_id: IgnoredAny,
    #[serde(default, rename = "logs_project_id")]
    _logs_project_id: IgnoredAny,
    #[serde(default, rename = "logs_extra_filters")]
    _logs_extra_filters: IgnoredAny,
    #[serde(default, rename = "logs_extra_stream_filters")]
    _logs_extra_stream_filters: IgnoredAny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    account_id: u32,
    #[serde(default)]
    project_id: u32,
}

impl VmAccess {
    /// Reads vmgateway's fields of the claim; `None` when the token has no
    /// such claim.
    pub fn from_claim(claim: Option<&Value>) -> Result<VmAccess, TenancyError> {
        let raw = parse(claim)?;
        let access = access_of(raw.mode)?;
        validate(VmAccess {
            tenant: raw.tenant_id.map(|t| VmTenant {
                account_id: t.account_id,
                project_id: t.project_id,
            }),
            extra_labels: raw.extra_labels,
            extra_filters: raw.extra_filters,
            access,
        })
    }

    /// Reads vmauth's `metrics_*` fields of the claim.
    pub fn from_vmauth_claim(claim: Option<&Value>) -> Result<VmAccess, TenancyError> {
        let raw = parse(claim)?;
        let access = access_of(raw.mode)?;
        if raw.metrics_project_id.is_some() && raw.metrics_account_id.is_none() {
            return Err(TenancyError::InvalidAccessClaim);
        }
        let mut extra_labels = BTreeMap::new();
        for label in &raw.metrics_extra_labels {
            let (name, value) = label
                .split_once('=')
                .ok_or(TenancyError::InvalidAccessClaim)?;
            // The same label twice would be two ANDed values: refuse.
            if extra_labels
                .insert(name.to_string(), value.to_string())
                .is_some()
            {
                return Err(TenancyError::InvalidAccessClaim);
            }
        }
        validate(VmAccess {
            tenant: raw.metrics_account_id.map(|account_id| VmTenant {
                account_id,
                project_id: raw.metrics_project_id.unwrap_or(0),
            }),
            extra_labels,
            extra_filters: raw.metrics_extra_filters,
            access,
        })
    }

    /// The grant: one scope, for reads and writes as `mode` allows
    /// (ingestion ignores filters, so writes carry only the labels).
    pub fn grant(self) -> Grant {
        let labels: Vec<String> = self
            .extra_labels
            .iter()
            .map(|(name, value)| label_argument(name, value))
            .collect();
        let tenant = self.tenant.map(|t| t.to_string());
        let mut grant = Grant::default();
        if self.access.allows(Operation::Write) {
            grant.writes.push(Scope {
                tenant: tenant.clone(),
                labels: labels.clone(),
                selectors: Vec::new(),
            });
        }
        if self.access.allows(Operation::Read) {
            grant.reads.push(Scope {
                tenant,
                labels,
                selectors: self.extra_filters,
            });
        }
        grant
    }
}

/// `name=value`, as `extra_label` takes it.
fn label_argument(name: &str, value: &str) -> String {
    let mut argument = String::with_capacity(name.len() + 1 + value.len());
    argument.push_str(name);
    argument.push('=');
    argument.push_str(value);
    argument
}

fn parse(claim: Option<&Value>) -> Result<RawVmAccess, TenancyError> {
    let invalid = |_| TenancyError::InvalidAccessClaim;
    match claim {
        None | Some(Value::Null) => Err(TenancyError::NoAccessClaim),
        // Through a `Value`, so one reader serves both forms.
        Some(Value::String(text)) => {
            let value: Value = serde_json::from_slice(text.as_bytes()).map_err(invalid)?;
            RawVmAccess::deserialize(&value).map_err(invalid)
        }
        Some(value) => RawVmAccess::deserialize(value).map_err(invalid),
    }
}

fn access_of(mode: u8) -> Result<Access, TenancyError> {
    match mode {
        0 | 3 => Ok(Access::ReadWrite),
        1 => Ok(Access::Read),
        2 => Ok(Access::Write),
        _ => Err(TenancyError::InvalidAccessClaim),
    }
}

fn validate(access: VmAccess) -> Result<VmAccess, TenancyError> {
    if access.extra_labels.len() > MAX_ENTRIES || access.extra_filters.len() > MAX_ENTRIES {
        return Err(TenancyError::InvalidAccessClaim);
    }
    let labels_ok = access
        .extra_labels
        .iter()
        // An empty value would match series without the label: a wider grant.
        .all(|(name, value)| is_label_name(name) && is_selector_text(value));
    let filters_ok = access.extra_filters.iter().all(|f| is_selector_text(f));
    if !labels_ok || !filters_ok {
        return Err(TenancyError::InvalidAccessClaim);
    }
    Ok(access)
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= MAX_VALUE_BYTES
}

/// A label value or series selector the gateway may pass on: not blank, no
/// control characters, bounded.
pub fn is_selector_text(value: &str) -> bool {
    !value.trim().is_empty()
        && value.len() <= MAX_VALUE_BYTES
        && !value.chars().any(char::is_control)
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
    fn reads_vmauth_metrics_fields_and_ignores_the_other_vocabulary() {
        let claim = json!({
            "metrics_account_id": 1, "metrics_project_id": 5,
            "metrics_extra_labels": ["team=dev", "env=a=b"],
            "metrics_extra_filters": ["{job=\"x\"}"],
            "logs_account_id": 9, "logs_extra_filters": ["{}"],
            "tenant_id": {"account_id": 2}, "extra_labels": {"team": "other"},
        });
        let parsed = VmAccess::from_vmauth_claim(Some(&claim)).unwrap();
        assert_eq!(parsed.tenant.map(|t| t.to_string()), Some("1:5".into()));
        assert_eq!(parsed.extra_labels["team"], "dev");
        assert_eq!(parsed.extra_labels["env"], "a=b");
        assert_eq!(parsed.extra_filters, ["{job=\"x\"}"]);
        assert_eq!(parsed.access, Access::ReadWrite);
        let gateway = VmAccess::from_claim(Some(&claim)).unwrap();
        assert_eq!(gateway.tenant.map(|t| t.to_string()), Some("2:0".into()));
        assert_eq!(gateway.extra_labels["team"], "other");
        let as_string = json!(claim.to_string());
        assert_eq!(
            VmAccess::from_vmauth_claim(Some(&as_string)).unwrap(),
            parsed
        );
        for bad in [
            json!({"metrics_extra_labels": ["team"]}),
            json!({"metrics_extra_labels": ["team=a", "team=b"]}),
            json!({"metrics_extra_labels": ["bad-name=a"]}),
            json!({"metrics_extra_labels": ["team="]}),
            json!({"metrics_account_id": "1"}),
            json!({"metrics_project_id": 1}),
            json!({"metrics_extra_filters": "{a=\"b\"}"}),
            json!({"metrics_extra_labels": ["a=b"], "mode": 9}),
        ] {
            assert_eq!(
                VmAccess::from_vmauth_claim(Some(&bad)),
                Err(TenancyError::InvalidAccessClaim),
                "{bad}"
            );
        }
        let read_only = json!({"metrics_extra_labels": ["a=b"], "mode": 1});
        assert_eq!(
            VmAccess::from_vmauth_claim(Some(&read_only))
                .unwrap()
                .access,
            Access::Read
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
