//! Token JSON read in one pass with its nesting bounded: the same answer
//! as a depth scan followed by serde_json, without the scan for valid text.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::Claims;
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
/// (the object itself is the first level) into its members. Same answer as
/// [`json_depth_within`] followed by `serde_json::from_slice`, but the
/// depth is counted while parsing, so valid text is read once.
pub fn parse_object_within(json: &[u8], max: usize) -> Result<Claims, JsonError> {
    // JSON text is UTF-8 throughout. Checked at once with vector
    // instructions, it spares the parser a check of every string.
    let parsed = simdutf8::basic::from_utf8(json).ok().and_then(|text| {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        deserializer
            .deserialize_map(Members {
                within: NestingWithin { levels_left: max },
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
struct Members {
    within: NestingWithin,
}

impl<'de> Visitor<'de> for Members {
    type Value = Claims;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Claims, A::Error> {
        let inner = self.within.opened()?;
        let mut claims = Claims::with_capacity(EXPECTED_MEMBERS, EXPECTED_NAME_BYTES);
        while let Some(name) = members.next_key_seed(NameInto {
            claims: &mut claims,
        })? {
            claims.push(name, members.next_value_seed(inner)?);
        }
        Ok(claims)
    }
}

/// Reads a member's name into the claims' name buffer, without an
/// allocation of its own.
struct NameInto<'c> {
    claims: &'c mut Claims,
}

impl<'de> DeserializeSeed<'de> for NameInto<'_> {
    type Value = Range<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Range<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameInto<'_> {
    type Value = Range<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Range<usize>, E> {
        Ok(self.claims.add_name(name))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::MAX_JSON_DEPTH;
    use proptest::prelude::*;

    proptest! {
        /// One pass gives what the depth scan followed by serde_json gives,
        /// for JSON objects, for them with one character or one byte (not
        /// always UTF-8 then) changed, and for noise.
        #[test]
        fn object_parse_agrees_with_scan_then_parse(
            text in prop_oneof![
                json_object_text().prop_map(String::into_bytes),
                json_object_text_with_one_byte_changed().prop_map(String::into_bytes),
                json_object_bytes_with_any_byte(),
                r#"[\[\]{}":,\\a1 n]{0,24}"#.prop_map(String::into_bytes),
            ],
            max in 0usize..6,
        ) {
            let reference = if !json_depth_within(&text, max) {
                Err(JsonError::TooDeep)
            } else {
                serde_json::from_slice::<Map<String, Value>>(&text)
                    .map_err(|_| JsonError::Malformed)
            };
            let parsed = parse_object_within(&text, max).map(|claims| claims.to_map());
            prop_assert_eq!(parsed, reference);
        }
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

    #[test]
    fn object_parse_keeps_values_and_counts_levels() {
        let text = br#"{"a":[1,{"b":2.5}],"c":"\u00e9","d":null,"a":true,"e":-3}"#;
        let expected: Map<String, Value> = serde_json::from_slice(text).unwrap();
        let parsed = parse_object_within(text, 3).unwrap();
        assert_eq!(parsed.to_map(), expected);
        assert_eq!(
            parsed.get("a"),
            Some(&Value::Bool(true)),
            "the last of a repeated name"
        );
        assert_eq!(parse_object_within(text, 2), Err(JsonError::TooDeep));
        let escaped = parse_object_within(br#"{"a\u0062":1,"\u00e9":2,"ab":3,"":4}"#, 1).unwrap();
        assert_eq!(
            escaped.get("ab"),
            Some(&Value::from(3)),
            "names are compared unescaped"
        );
        assert_eq!(escaped.get("\u{e9}"), Some(&Value::from(2)));
        assert_eq!(escaped.get(""), Some(&Value::from(4)));
        assert_eq!(escaped.get("a"), None);
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(19), "]".repeat(19));
        assert!(parse_object_within(deep.as_bytes(), MAX_JSON_DEPTH).is_ok());
        let deeper = format!("{{\"a\":{}{}}}", "[".repeat(20), "]".repeat(20));
        assert_eq!(
            parse_object_within(deeper.as_bytes(), MAX_JSON_DEPTH),
            Err(JsonError::TooDeep)
        );
        let broken_and_deep = format!("{{\"a\" {}", "[".repeat(30));
        assert_eq!(
            parse_object_within(broken_and_deep.as_bytes(), MAX_JSON_DEPTH),
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
                parse_object_within(malformed, MAX_JSON_DEPTH),
                Err(JsonError::Malformed),
                "{}",
                String::from_utf8_lossy(malformed)
            );
        }
    }
}
