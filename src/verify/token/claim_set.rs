//! A token's claims as its payload lists them: the top-level members in
//! order, each with its value. A payload has a handful of members and each
//! is looked up a few times, so a list is cheaper to build, search and drop
//! than a map.

#[cfg(test)]
use serde_json::Map;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    members: Vec<(String, Value)>,
}

impl Claims {
    pub(super) fn with_capacity(capacity: usize) -> Claims {
        Claims {
            members: Vec::with_capacity(capacity),
        }
    }

    pub(super) fn push(&mut self, name: String, value: Value) {
        self.members.push((name, value));
    }

    /// The claim's value. A name the payload repeats has its last value,
    /// as in serde_json's map (RFC 7519 §4 allows either that or refusal).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members
            .iter()
            .rev()
            .find(|(member, _)| member == name)
            .map(|(_, value)| value)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The same claims as a map, each name with its last value.
    #[cfg(test)]
    pub fn to_map(&self) -> Map<String, Value> {
        self.members.iter().cloned().collect()
    }
}

/// Claims built from a JSON object (its members in the map's order).
#[cfg(test)]
impl From<Map<String, Value>> for Claims {
    fn from(object: Map<String, Value>) -> Claims {
        Claims {
            members: object.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_name_has_its_last_value() {
        let mut claims = Claims::default();
        claims.push("a".into(), json!(1));
        claims.push("b".into(), json!(2));
        claims.push("a".into(), json!(3));
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
