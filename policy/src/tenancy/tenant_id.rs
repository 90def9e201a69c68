//! Tenant identifiers as each backend spells them.
//!
//! - VictoriaMetrics cluster: `<account_id>[:<project_id>]`, both uint32;
//!   `7` is `7:0`, and the canonical spelling is `7:0`.
//! - Mimir, Cortex, Loki, GEM (`X-Scope-OrgID`): at most 150 bytes of
//!   `[a-zA-Z0-9!-_.*'()]`, not `.` or `..`; `|` separates the tenants of a
//!   federated read and is never part of one tenant.

use std::fmt;

/// Mimir's limit on the length of one tenant id.
pub const MAX_ORG_ID_BYTES: usize = 150;

/// A VictoriaMetrics cluster tenant, `<account_id>:<project_id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VmTenant {
    pub account_id: u32,
    pub project_id: u32,
}

impl fmt::Display for VmTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.account_id, self.project_id)
    }
}

impl VmTenant {
    /// `7` or `7:3`; digits only, no sign, no spaces.
    pub fn parse(text: &str) -> Option<VmTenant> {
        let (account, project) = text.split_once(':').unwrap_or((text, "0"));
        Some(VmTenant {
            account_id: uint32(account)?,
            project_id: uint32(project)?,
        })
    }
}

fn uint32(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Whether `id` is one valid Mimir tenant id.
pub fn is_org_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ORG_ID_BYTES
        && id != "."
        && id != ".."
        && id.bytes().all(is_org_id_byte)
}

fn is_org_id_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(byte, b'!' | b'-' | b'_' | b'.' | b'*' | b'\'' | b'(' | b')')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_tenants_are_uint32_pairs() {
        assert_eq!(
            VmTenant::parse("7:3"),
            Some(VmTenant {
                account_id: 7,
                project_id: 3
            })
        );
        assert_eq!(
            VmTenant::parse("7").map(|t| t.to_string()),
            Some("7:0".into())
        );
        assert_eq!(
            VmTenant::parse("4294967295:0").map(|t| t.account_id),
            Some(u32::MAX)
        );
        for bad in [
            "",
            ":",
            "7:",
            ":3",
            "-1",
            "+7",
            " 7",
            "7:3:1",
            "4294967296",
            "a",
        ] {
            assert_eq!(VmTenant::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn org_ids_follow_mimir() {
        for good in ["team-a", "a.b", "x_(y)*'!", "...", &"a".repeat(150)] {
            assert!(is_org_id(good), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a|b",
            "a b",
            "a:b",
            "a/b",
            "é",
            &"a".repeat(151),
        ] {
            assert!(!is_org_id(bad), "{bad:?}");
        }
    }
}
