//! Identity headers: claims passed to the backend as request headers
//! (Grafana's `X-WEBAUTH-USER`, a groups header for an auth proxy...).
//! Strings and numbers are sent as they are, lists of them joined with
//! `,`; anything else is not sent. A value that could break the header
//! (CR, LF, NUL, any control or non-ASCII character) is not sent either.

use serde_json::Value;

use crate::verify::token::Claims;

use super::claim_path::ClaimPath;

/// Longest header value sent.
pub const MAX_VALUE_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeader {
    pub claim: ClaimPath,
    /// Lower case.
    pub header: String,
}

impl IdentityHeader {
    /// The header value for these claims, if the claim is there and fits.
    pub fn value(&self, claims: &Claims) -> Option<String> {
        let value = match self.claim.find(claims)? {
            Value::Array(items) => {
                let mut joined = String::new();
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        joined.push(',');
                    }
                    joined.push_str(&scalar(item)?);
                }
                joined
            }
            other => scalar(other)?,
        };
        is_safe_header_value(&value).then_some(value)
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        // Through the integer or float itself: serde_json's number
        // formatting would bring its own float printer into the filter.
        Value::Number(number) => Some(match (number.as_u64(), number.as_i64()) {
            (Some(unsigned), _) => unsigned.to_string(),
            (None, Some(signed)) => signed.to_string(),
            (None, None) => number.as_f64()?.to_string(),
        }),
        _ => None,
    }
}

/// Printable ASCII and spaces only, not blank, bounded.
pub fn is_safe_header_value(value: &str) -> bool {
    !value.trim().is_empty()
        && value.len() <= MAX_VALUE_BYTES
        && value.bytes().all(|b| (b' '..=b'~').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value_of(path: &str, claims: Value) -> Option<String> {
        let header = IdentityHeader {
            claim: ClaimPath::parse(path).unwrap(),
            header: "x-test".into(),
        };
        header.value(&Claims::from(claims.as_object().unwrap().clone()))
    }

    #[test]
    fn strings_numbers_and_lists_of_them_are_sent() {
        let claims = json!({"email": "a@example.com", "uid": 42, "groups": ["ops", "dev", 7],
                            "nested": {"list": ["x"]}});
        assert_eq!(
            value_of("email", claims.clone()),
            Some("a@example.com".into())
        );
        assert_eq!(value_of("uid", claims.clone()), Some("42".into()));
        assert_eq!(value_of("groups", claims.clone()), Some("ops,dev,7".into()));
        assert_eq!(value_of("nested.list", claims.clone()), Some("x".into()));
        assert_eq!(value_of("missing", claims), None);
    }

    #[test]
    fn other_types_and_unsafe_values_are_not_sent() {
        for claims in [
            json!({"v": true}),
            json!({"v": null}),
            json!({"v": {"a": 1}}),
            json!({"v": ["a", {"b": 1}]}),
            json!({"v": ["a", true]}),
            json!({"v": []}),
            json!({"v": ""}),
            json!({"v": "a\r\nX-Scope-OrgID: other"}),
            json!({"v": "a\nb"}),
            json!({"v": "a\u{0}b"}),
            json!({"v": "tab\there"}),
            json!({"v": "José"}),
            json!({"v": ["a", "b\r\nc"]}),
            json!({"v": "x".repeat(MAX_VALUE_BYTES + 1)}),
        ] {
            assert_eq!(value_of("v", claims.clone()), None, "{claims}");
        }
    }
}
