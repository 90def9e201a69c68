//! GEM-style access policies named by a claim. The claim is a string (split
//! at white space, as OAuth's `scope`) or a list of strings (`groups`,
//! `roles`); each value that the configured pattern matches names a policy
//! through its first capture group. Policies are defined in the
//! configuration:
//!
//! ```json
//! {"pattern": "metrics-(.+)",
//!  "policies": {"team-a": {"tenants": ["team-a"], "scopes": ["read", "write"],
//!                          "selectors": ["{env=\"prod\"}"]}}}
//! ```
//!
//! Reads are the union of the matched policies' reads. A write needs one
//! policy that grants `write` to exactly one tenant: a policy writing to
//! several tenants cannot say where a write goes.

use serde_json::Value;

use super::pattern::Pattern;
use super::{Grant, Scope, TenancyError};

/// Claim values looked at; more is a malformed claim.
const MAX_VALUES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Canonical tenants; empty on VictoriaMetrics single-node.
    pub tenants: Vec<String>,
    pub read: bool,
    pub write: bool,
    /// Series selectors, ORed; empty: the whole tenant.
    pub selectors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicies {
    pub pattern: Pattern,
    /// By name.
    pub policies: Vec<(String, Policy)>,
}

impl AccessPolicies {
    /// The policies `claim` names; no claim or no known policy grants nothing.
    pub fn matched(&self, claim: Option<&Value>) -> Result<Vec<&Policy>, TenancyError> {
        let values: Vec<&str> = match claim {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => text.split_ascii_whitespace().collect(),
            // Other items (objects in a groups claim) name no policy.
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => return Err(TenancyError::InvalidAccessClaim),
        };
        if values.len() > MAX_VALUES {
            return Err(TenancyError::InvalidAccessClaim);
        }
        let mut matched: Vec<&Policy> = Vec::new();
        for value in values {
            let Some(policy) = self
                .pattern
                .first_group(value)
                .and_then(|name| self.policies.iter().find(|(n, _)| n == name))
                .map(|(_, policy)| policy)
            else {
                continue;
            };
            if !matched.iter().any(|known| std::ptr::eq(*known, policy)) {
                matched.push(policy);
            }
        }
        Ok(matched)
    }

    pub fn grant(&self, claim: Option<&Value>) -> Result<Grant, TenancyError> {
        let matched = self.matched(claim)?;
        if matched.is_empty() {
            return Err(TenancyError::NoAccessClaim);
        }
        let mut grant = Grant::default();
        for policy in matched {
            // One scope per tenant; one without a tenant on single-node.
            let tenants: Vec<Option<String>> = match policy.tenants.as_slice() {
                [] => vec![None],
                tenants => tenants.iter().cloned().map(Some).collect(),
            };
            let writes = policy.write && tenants.len() == 1;
            for tenant in tenants {
                let scope = Scope {
                    tenant,
                    labels: Vec::new(),
                    selectors: Vec::new(),
                };
                if writes {
                    grant.writes.push(scope.clone());
                }
                if policy.read {
                    grant.reads.push(Scope {
                        selectors: policy.selectors.clone(),
                        ..scope
                    });
                }
            }
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policies() -> AccessPolicies {
        let policy = |tenants: &[&str], read, write, selectors: &[&str]| Policy {
            tenants: tenants.iter().map(|t| t.to_string()).collect(),
            read,
            write,
            selectors: selectors.iter().map(|s| s.to_string()).collect(),
        };
        AccessPolicies {
            pattern: Pattern::new("metrics-(.+)").unwrap(),
            policies: Vec::from([
                ("a-rw".to_string(), policy(&["a"], true, true, &[])),
                (
                    "b-prod".to_string(),
                    policy(&["b"], true, false, &["{env=\"prod\"}"]),
                ),
                ("ab-rw".to_string(), policy(&["a", "b"], true, true, &[])),
            ]),
        }
    }

    #[test]
    fn claim_values_name_policies() {
        let grant = policies()
            .grant(Some(&json!("openid metrics-a-rw metrics-b-prod other")))
            .unwrap();
        assert_eq!(grant.reads.len(), 2);
        assert_eq!(grant.writes.len(), 1);
        assert_eq!(grant.writes[0].tenant.as_deref(), Some("a"));
        let listed = policies()
            .grant(Some(&json!(["metrics-b-prod", {"x": 1}, 7])))
            .unwrap();
        assert_eq!(listed.reads[0].selectors, ["{env=\"prod\"}"]);
        assert!(listed.writes.is_empty());
    }

    #[test]
    fn a_policy_writing_to_several_tenants_grants_no_write() {
        let grant = policies().grant(Some(&json!(["metrics-ab-rw"]))).unwrap();
        assert_eq!(grant.reads.len(), 2);
        assert!(grant.writes.is_empty());
    }

    #[test]
    fn no_known_policy_grants_nothing() {
        for claim in [json!("metrics-unknown x"), json!([]), json!(null)] {
            assert_eq!(
                policies().grant(Some(&claim)),
                Err(TenancyError::NoAccessClaim)
            );
        }
        assert_eq!(policies().grant(None), Err(TenancyError::NoAccessClaim));
        assert_eq!(
            policies().grant(Some(&json!({"a": 1}))),
            Err(TenancyError::InvalidAccessClaim)
        );
        let many: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
        assert_eq!(
            policies().grant(Some(&json!(many))),
            Err(TenancyError::InvalidAccessClaim)
        );
    }
}
