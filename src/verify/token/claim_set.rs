//! A token's claims as its payload lists them: the top-level members in
//! order, each with its value. A payload has a handful of members and each
//! is looked up a few times, so a list is cheaper to build, search and drop
//! than a map. The names share one buffer: one allocation for all of them.

use std::ops::Range;

#[cfg(test)]
use serde_json::Map;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// Every member's name, one after another.
    names: String,
    /// Each member: where its name is in `names`, and its value.
    members: Vec<(Range<usize>, Value)>,
}

impl Claims {
    pub(super) fn with_capacity(members: usize, name_bytes: usize) -> Claims {
        Claims {
            names: String::with_capacity(name_bytes),
            members: Vec::with_capacity(members),
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

/// Claims built from a JSON object (its members in the map's order).
#[cfg(test)]
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
