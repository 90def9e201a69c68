//! Token JSON read in one pass with its nesting bounded: the same answer
//! as a depth scan followed by serde_json, without the scan for valid text.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::{ClaimNames, Claims};
use crate::encoding::json_depth_within;

/// Why JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Arrays and objects nest deeper than allowed.
    TooDeep,
    /// Not one JSON object.
    Malformed,
}

/// Parses a JSON object whose arrays and objects nest at most `max` deep
/// (the object itself is the first level) into its members named in
/// `kept`. Same answer as [`json_depth_within`] followed by
/// `serde_json::from_slice`, but the depth is counted while parsing, so
/// valid text is read once, and members not kept are checked, not stored.
pub fn parse_object_within(
    json: &[u8],
    max: usize,
    kept: &ClaimNames,
) -> Result<Claims, JsonError> {
    // JSON text is UTF-8 throughout. Checked at once with vector
    // instructions, it spares the parser a check of every string.
    let parsed = simdutf8::basic::from_utf8(json).ok().and_then(|text| {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        deserializer
            .deserialize_map(Members {
                within: NestingWithin { levels_left: max },
                kept,
            })
            .and_then(|members| deserializer.end().map(|()| members))
            .ok()
    });
    match parsed {
        Some(members) => Ok(members),
        // Text that failed either nests too deep or is malformed; which one
        // does not depend on where the parser stopped.
        _ if !json_depth_within(json, max) => Err(JsonError::TooDeep),
        _ => Err(JsonError::Malformed),
    }
}

/// Typical claim sets fit without growing the list or the name buffer.
const EXPECTED_MEMBERS: usize = 8;
const EXPECTED_NAME_BYTES: usize = 64;

/// Reads the top-level object member by member, in order.
struct Members<'k> {
    within: NestingWithin,
    kept: &'k ClaimNames,
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = Claims;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Claims, A::Error> {
        let inner = self.within.opened()?;
        let mut claims = Claims::with_capacity(EXPECTED_MEMBERS, EXPECTED_NAME_BYTES, self.kept);
        while let Some(name) = members.next_key_seed(NameInto {
            claims: &mut claims,
            kept: self.kept,
        })? {
            match name {
                Some(name) => claims.push(name, members.next_value_seed(inner)?),
                None => members.next_value_seed(Checked(inner))?,
            }
        }
        Ok(claims)
    }
}

/// Reads a member's name into the claims' name buffer, without an
/// allocation of its own, when the name is kept: where it is, or `None`.
struct NameInto<'c> {
    claims: &'c mut Claims,
    kept: &'c ClaimNames,
}

impl<'de> DeserializeSeed<'de> for NameInto<'_> {
    type Value = Option<Range<usize>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameInto<'_> {
    type Value = Option<Range<usize>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.kept.contains(name).then(|| self.claims.add_name(name)))
    }
}

/// Reads one JSON value as `serde_json::Value` does, refusing to open
/// more than `levels_left` arrays or objects on the way down.
#[derive(Clone, Copy)]
struct NestingWithin {
    levels_left: usize,
}

impl NestingWithin {
    /// The limit inside an array or object being opened.
    fn opened<E: de::Error>(self) -> Result<NestingWithin, E> {
        match self.levels_left.checked_sub(1) {
            Some(levels_left) => Ok(NestingWithin { levels_left }),
            None => Err(E::custom("nested too deeply")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for NestingWithin {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NestingWithin {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<Value, A::Error> {
        let inner = self.opened()?;
        let mut array = Vec::new();
        while let Some(element) = elements.next_element_seed(inner)? {
            array.push(element);
        }
        Ok(Value::Array(array))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let inner = self.opened()?;
        let mut object = Map::new();
        while let Some(name) = members.next_key::<String>()? {
            let value = members.next_value_seed(inner)?;
            // A repeated name keeps its last value, as serde_json does.
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads one JSON value through the same parser calls as [`NestingWithin`],
/// so it refuses exactly the same text, and keeps nothing of it.
#[derive(Clone, Copy)]
struct Checked(NestingWithin);

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<(), A::Error> {
        let inner = Checked(self.0.opened()?);
        while elements.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let inner = Checked(self.0.opened()?);
        while members.next_key_seed(CheckedName)?.is_some() {
            members.next_value_seed(inner)?;
        }
        Ok(())
    }
}

/// A member name read as `String` reads it, and dropped.
struct CheckedName;

impl<'de> DeserializeSeed<'de> for CheckedName {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for CheckedName {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::MAX_JSON_DEPTH;
    use proptest::prelude::*;

    proptest! {
        /// One pass gives what the depth scan followed by serde_json gives,
        /// less the members not kept, for JSON objects, for them with one
        /// character or one byte (not always UTF-8 then) changed, with
        /// values serde_json refuses, and for noise.
        #[test]
        fn object_parse_agrees_with_scan_then_parse(
            text in prop_oneof![
                json_object_text().prop_map(String::into_bytes),
                json_object_text_with_one_byte_changed().prop_map(String::into_bytes),
                json_object_bytes_with_any_byte(),
                json_object_text_with_edge_values().prop_map(String::into_bytes),
                r#"[\[\]{}":,\\a1 n]{0,24}"#.prop_map(String::into_bytes),
            ],
            max in 0usize..6,
            kept in kept_names(),
        ) {
            let reference = if !json_depth_within(&text, max) {
                Err(JsonError::TooDeep)
            } else {
                serde_json::from_slice::<Map<String, Value>>(&text)
                    .map(|members| members.into_iter().filter(|(name, _)| kept.contains(name)).collect())
                    .map_err(|_| JsonError::Malformed)
            };
            let parsed = parse_object_within(&text, max, &kept).map(|claims| claims.to_map());
            prop_assert_eq!(parsed, reference);
        }
    }

    fn kept_names() -> impl Strategy<Value = ClaimNames> {
        prop_oneof![
            1 => Just(ClaimNames::all()),
            3 => proptest::collection::vec("[a-c]{1,2}", 0..4)
                .prop_map(|names| ClaimNames::registered_and(names.iter().map(String::as_str))),
        ]
    }

    /// Numbers out of range, lone surrogates, negative zero, escapes.
    fn edge_value_text() -> impl Strategy<Value = String> {
        prop_oneof![
            json_value().prop_map(|value| value.to_string()),
            prop::sample::select(vec![
                "1e400",
                "-1e400",
                "1e-400",
                "-0",
                "0.0e0",
                "18446744073709551616",
                "-9223372036854775809",
                r#""\ud800""#,
                r#""\udc00x""#,
                r#""\ud83d\ude00""#,
                r#""\u00""#,
                r#""\x""#,
                r#"["\ud800"]"#,
                r#"{"\ud800":1}"#,
                r#"{"a":1e999}"#,
            ])
            .prop_map(str::to_string),
        ]
    }

    fn json_object_text_with_edge_values() -> impl Strategy<Value = String> {
        proptest::collection::vec(("[a-c]{1,2}", edge_value_text()), 0..4).prop_map(|members| {
            let members: Vec<String> = members
                .iter()
                .map(|(name, value)| format!("{}:{value}", Value::from(name.as_str())))
                .collect();
            format!("{{{}}}", members.join(","))
        })
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            r#"[a-z"\\\[{é]{0,4}"#.prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 24, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]{1,2}", inner, 0..3)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    fn json_object_text() -> impl Strategy<Value = String> {
        proptest::collection::btree_map("[a-c]{1,2}", json_value(), 0..3)
            .prop_map(|members| Value::Object(members.into_iter().collect()).to_string())
    }

    fn json_object_bytes_with_any_byte() -> impl Strategy<Value = Vec<u8>> {
        (
            json_object_text(),
            any::<prop::sample::Index>(),
            any::<u8>(),
        )
            .prop_map(|(text, at, byte)| {
                let mut bytes = text.into_bytes();
                let at = at.index(bytes.len());
                bytes[at] = byte;
                bytes
            })
    }

    fn json_object_text_with_one_byte_changed() -> impl Strategy<Value = String> {
        (
            json_object_text(),
            any::<prop::sample::Index>(),
            r#"[\[\]{}":,\\]"#,
        )
            .prop_map(|(text, at, replacement)| {
                let mut chars: Vec<char> = text.chars().collect();
                let at = at.index(chars.len());
                chars[at] = replacement.chars().next().unwrap_or(' ');
                chars.into_iter().collect()
            })
    }

    fn parse_every(json: &[u8], max: usize) -> Result<Claims, JsonError> {
        parse_object_within(json, max, &ClaimNames::all())
    }

    #[test]
    fn object_parse_keeps_values_and_counts_levels() {
        let text = br#"{"a":[1,{"b":2.5}],"c":"\u00e9","d":null,"a":true,"e":-3}"#;
        let expected: Map<String, Value> = serde_json::from_slice(text).unwrap();
        let parsed = parse_every(text, 3).unwrap();
        assert_eq!(parsed.to_map(), expected);
        assert_eq!(
            parsed.get("a"),
            Some(&Value::Bool(true)),
            "the last of a repeated name"
        );
        assert_eq!(parse_every(text, 2), Err(JsonError::TooDeep));
        let escaped = parse_every(br#"{"a\u0062":1,"\u00e9":2,"ab":3,"":4}"#, 1).unwrap();
        assert_eq!(
            escaped.get("ab"),
            Some(&Value::from(3)),
            "names are compared unescaped"
        );
        assert_eq!(escaped.get("\u{e9}"), Some(&Value::from(2)));
        assert_eq!(escaped.get(""), Some(&Value::from(4)));
        assert_eq!(escaped.get("a"), None);
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(19), "]".repeat(19));
        assert!(parse_every(deep.as_bytes(), MAX_JSON_DEPTH).is_ok());
        let deeper = format!("{{\"a\":{}{}}}", "[".repeat(20), "]".repeat(20));
        assert_eq!(
            parse_every(deeper.as_bytes(), MAX_JSON_DEPTH),
            Err(JsonError::TooDeep)
        );
        let broken_and_deep = format!("{{\"a\" {}", "[".repeat(30));
        assert_eq!(
            parse_every(broken_and_deep.as_bytes(), MAX_JSON_DEPTH),
            Err(JsonError::TooDeep),
            "too deep wins over malformed, wherever the parser stops"
        );
        for malformed in [
            &b"[]"[..],
            b"null",
            b"{} {}",
            b"{\"a\":1",
            b"",
            b"{\"a\":\"\xff\"}",
        ] {
            assert_eq!(
                parse_every(malformed, MAX_JSON_DEPTH),
                Err(JsonError::Malformed),
                "{}",
                String::from_utf8_lossy(malformed)
            );
        }
    }

    #[test]
    fn members_not_kept_are_checked_but_not_stored() {
        let kept = ClaimNames::registered_and(["vm_access"]);
        let text =
            br#"{"iss":"i","roles":{"a":["x",1.5,null]},"vm_access":{"tenant_id":"1"},"exp":9}"#;
        let parsed = parse_object_within(text, MAX_JSON_DEPTH, &kept).unwrap();
        let map = parsed.to_map();
        assert_eq!(map.len(), 3);
        assert!(!map.contains_key("roles"));
        assert_eq!(map["exp"], Value::from(9));
        for refused in [
            &br#"{"roles":1e400,"exp":9}"#[..],
            br#"{"roles":"\ud800","exp":9}"#,
            br#"{"roles":{"\udc00":1},"exp":9}"#,
            br#"{"roles":"\x","exp":9}"#,
        ] {
            assert_eq!(
                parse_object_within(refused, MAX_JSON_DEPTH, &kept),
                Err(JsonError::Malformed),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
        let deep = format!("{{\"roles\":{}{}}}", "[".repeat(20), "]".repeat(20));
        assert_eq!(
            parse_object_within(deep.as_bytes(), MAX_JSON_DEPTH, &kept),
            Err(JsonError::TooDeep),
            "a member not kept counts its levels too"
        );
    }
}
