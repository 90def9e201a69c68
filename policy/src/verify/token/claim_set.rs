//! A token's claims as its payload lists them: the top-level members in
//! order, each with its value. A payload has a handful of members and each
//! is looked up a few times, so a list is cheaper to build, search and drop
//! than a map. The names share one buffer: one allocation for all of them.
//!
//! Only the members a configuration reads ([`ClaimNames`]) are kept.
//! Identity providers fill tokens with claims no decision reads (profile
//! fields, other clients' roles); those are still parsed, so a payload is
//! accepted or refused exactly as if all were kept, but never stored.

use std::ops::Range;

use serde_json::{Map, Value};

/// The registered claims the verification itself reads.
const REGISTERED: [&str; 6] = ["iss", "sub", "aud", "exp", "nbf", "iat"];

/// The top-level claim names whose values a token's [`Claims`] keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// `None`: every member.
    kept: Option<Vec<String>>,
}

impl ClaimNames {
    /// Every member of the payload.
    pub fn all() -> ClaimNames {
        ClaimNames { kept: None }
    }

    /// The registered claims the verification reads, and `names`.
    pub fn registered_and<'n>(names: impl IntoIterator<Item = &'n str>) -> ClaimNames {
        let mut kept: Vec<String> = REGISTERED.iter().map(|name| name.to_string()).collect();
        for name in names {
            if !kept.iter().any(|known| known == name) {
                kept.push(name.to_string());
            }
        }
        ClaimNames { kept: Some(kept) }
    }

    pub fn contains(&self, name: &str) -> bool {
        match &self.kept {
            None => true,
            Some(kept) => kept.iter().any(|known| same_name(known, name)),
        }
    }
}

/// Equality, deciding most pairs on length and first byte without a call
/// to compare the bytes: claim names are short, and the registered ones
/// all have three letters.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// Every kept member's name, one after another.
    names: String,
    /// Each kept member: where its name is in `names`, and its value.
    members: Vec<(Range<usize>, Value)>,
    /// What was kept, so that tests catch a read of a claim the
    /// configuration does not list: it would look absent.
    #[cfg(debug_assertions)]
    kept: Option<ClaimNames>,
}

impl Claims {
    pub(super) fn with_capacity(members: usize, name_bytes: usize, kept: &ClaimNames) -> Claims {
        #[cfg(not(debug_assertions))]
        let _ = kept;
        Claims {
            names: String::with_capacity(name_bytes),
            members: Vec::with_capacity(members),
            #[cfg(debug_assertions)]
            kept: Some(kept.clone()),
        }
    }

    /// Appends a name to the buffer; [`Claims::push`] pairs it with a value.
    pub(super) fn add_name(&mut self, name: &str) -> Range<usize> {
        let start = self.names.len();
        self.names.push_str(name);
        start..self.names.len()
    }

    pub(super) fn push(&mut self, name: Range<usize>, value: Value) {
        self.members.push((name, value));
    }

    /// The claim's value. A name the payload repeats has its last value,
    /// as in serde_json's map (RFC 7519 §4 allows either that or refusal).
    pub fn get(&self, name: &str) -> Option<&Value> {
        #[cfg(debug_assertions)]
        debug_assert!(
            self.kept.as_ref().is_none_or(|kept| kept.contains(name)),
            "claim {name:?} is read but not in the configuration's claim names"
        );
        self.members
            .iter()
            .rev()
            .find(|(member, _)| self.names.get(member.clone()) == Some(name))
            .map(|(_, value)| value)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The same claims as a map, each name with its last value.
    #[cfg(test)]
    pub fn to_map(&self) -> Map<String, Value> {
        self.members
            .iter()
            .map(|(name, value)| (self.names[name.clone()].to_string(), value.clone()))
            .collect()
    }
}

/// The same members in the same order; what was kept is not compared, so
/// equality is the same in every build.
impl PartialEq for Claims {
    fn eq(&self, other: &Claims) -> bool {
        self.members.len() == other.members.len()
            && self
                .members
                .iter()
                .zip(&other.members)
                .all(|((a, a_value), (b, b_value))| {
                    self.names.get(a.clone()) == other.names.get(b.clone()) && a_value == b_value
                })
    }
}

/// Claims built from a JSON object (its members in the map's order); for
/// tests, here and in the crates that use this one.
impl From<Map<String, Value>> for Claims {
    fn from(object: Map<String, Value>) -> Claims {
        let mut claims = Claims::default();
        for (name, value) in object {
            let name = claims.add_name(&name);
            claims.push(name, value);
        }
        claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_name_has_its_last_value() {
        let mut claims = Claims::default();
        for (name, value) in [("a", json!(1)), ("b", json!(2)), ("a", json!(3))] {
            let name = claims.add_name(name);
            claims.push(name, value);
        }
        assert_eq!(claims.get("a"), Some(&json!(3)));
        assert_eq!(claims.get("b"), Some(&json!(2)));
        assert_eq!(claims.get("c"), None);
        assert!(claims.contains_key("b"));
        assert!(!claims.contains_key("A"));
        let map = claims.to_map();
        assert_eq!(map.len(), 2);
        assert_eq!(map["a"], json!(3));
    }
}
