//! Paths to nested claims: `vm_access`, `realm_access.roles`, `groups[0]`,
//! `"https://example.com/claims".tenant` (a quoted key may hold dots).
//!
//! A small subset of JMESPath's field and index expressions, written here
//! because that is all a claim mapping needs: the JMESPath crates carry a
//! whole expression language (functions, projections, their own value type)
//! into the filter for it.

use std::fmt;

use serde_json::Value;

use crate::verify::token::Claims;

const MAX_SEGMENTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A parsed claim path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath {
    source: String,
    segments: Vec<Segment>,
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl ClaimPath {
    pub fn parse(source: &str) -> Result<ClaimPath, String> {
        let mut segments = Vec::new();
        let mut rest = source;
        let mut expect_key = true;
        while !rest.is_empty() || expect_key {
            let (segment, after) = if expect_key {
                key(rest)?
            } else if let Some(after) = rest.strip_prefix('.') {
                expect_key = true;
                rest = after;
                continue;
            } else {
                index(rest)?
            };
            segments.push(segment);
            rest = after;
            expect_key = false;
            if segments.len() > MAX_SEGMENTS {
                return Err(format!("at most {MAX_SEGMENTS} segments"));
            }
        }
        Ok(ClaimPath {
            source: source.to_string(),
            segments,
        })
    }

    /// The top-level claim the path starts at.
    pub fn top_level_name(&self) -> Option<&str> {
        match self.segments.first()? {
            Segment::Key(name) => Some(name),
            Segment::Index(_) => None,
        }
    }

    /// The claim the path names, if the token has it.
    pub fn find<'c>(&self, claims: &'c Claims) -> Option<&'c Value> {
        let mut segments = self.segments.iter();
        let mut value = match segments.next()? {
            Segment::Key(name) => claims.get(name)?,
            Segment::Index(_) => return None,
        };
        for segment in segments {
            value = match (segment, value) {
                (Segment::Key(name), Value::Object(object)) => object.get(name)?,
                (Segment::Index(index), Value::Array(items)) => items.get(*index)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

/// A bare key (`[A-Za-z0-9_$-]`, also `:`, `/`, `@`, `+` as claim names
/// use them) or a `"quoted key"` with `\"` and `\\` escapes, followed by any
/// `[n]` indexes.
fn key(text: &str) -> Result<(Segment, &str), String> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' if !name.is_empty() => {
                    return Ok((Segment::Key(name), &quoted[at + 1..]));
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => name.push(escaped),
                    _ => return Err("only `\\\"` and `\\\\` escapes are allowed in quotes".into()),
                },
                c if c.is_control() => return Err("control character in a quoted key".into()),
                c => name.push(c),
            }
        }
        return Err("unterminated or empty quoted key".into());
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_$-:/@+".contains(c)))
        .unwrap_or(text.len());
    if end == 0 {
        return Err(format!("expected a claim name at {text:?}"));
    }
    Ok((Segment::Key(text[..end].to_string()), &text[end..]))
}

/// `[n]`.
fn index(text: &str) -> Result<(Segment, &str), String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .filter(|(digits, _)| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    match inner {
        Some((digits, after)) => digits
            .parse()
            .map(|n| (Segment::Index(n), after))
            .map_err(|_| "array index is too large".into()),
        None => Err(format!("expected `.name` or `[index]` at {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, claims: Value) -> Option<Value> {
        let Value::Object(claims) = claims else {
            panic!("claims must be an object");
        };
        ClaimPath::parse(path)
            .unwrap()
            .find(&Claims::from(claims))
            .cloned()
    }

    #[test]
    fn follows_keys_indexes_and_quoted_names() {
        let claims = json!({
            "vm_access": {"mode": 1},
            "realm_access": {"roles": ["a", "b"]},
            "groups": [["x"], ["y", "z"]],
            "https://example.com/claims": {"tenant": "t1"},
            "a.b": 5,
            "say \"hi\"": true,
        });
        assert_eq!(find("vm_access", claims.clone()), Some(json!({"mode": 1})));
        assert_eq!(
            find("realm_access.roles[1]", claims.clone()),
            Some(json!("b"))
        );
        assert_eq!(find("groups[1][0]", claims.clone()), Some(json!("y")));
        assert_eq!(
            find("\"https://example.com/claims\".tenant", claims.clone()),
            Some(json!("t1"))
        );
        assert_eq!(find("\"a.b\"", claims.clone()), Some(json!(5)));
        assert_eq!(
            find("\"say \\\"hi\\\"\"", claims.clone()),
            Some(json!(true))
        );
        assert_eq!(find("a.b", claims.clone()), None);
        assert_eq!(find("groups[2]", claims.clone()), None);
        assert_eq!(find("vm_access[0]", claims.clone()), None);
        assert_eq!(find("realm_access.roles.x", claims), None);
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "", ".a", "a.", "a..b", "a[", "a[]", "a[-1]", "a[x]", "a b", "\"\"", "\"open", "a.[0]",
            "[0]", "a\"b\"",
        ] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
