//! Wire encodings: base64url as JOSE uses it, JSON with bounded nesting,
//! media types.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Tokens: no padding, no stray bits, so one token has exactly one spelling.
const STRICT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Key sets: some identity providers pad their JWK members; accept both.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBase64;

/// Decodes unpadded base64url as tokens carry it: only the 64 URL-safe
/// symbols, no padding or whitespace, a length that is not 1 more than a
/// multiple of 4, and zero bits after the last whole byte.
pub fn decode_strict(text: &str) -> Result<Vec<u8>, InvalidBase64> {
    let input = text.as_bytes();
    let (quads, tail) = input.split_at(input.len() - input.len() % 4);
    let tail_bytes = match tail.len() {
        0 => 0,
        // One symbol holds 6 bits: not a whole byte.
        1 => return Err(InvalidBase64),
        symbols => symbols - 1,
    };
    // Zeroed memory comes from the allocator as is, not written a byte at a
    // time.
    let mut out = vec![0; quads.len() / 4 * 3 + tail_bytes];
    let (whole, rest) = out.split_at_mut(quads.len() / 4 * 3);
    decode_quads(quads, whole)?;
    decode_tail(tail, rest)?;
    Ok(out)
}

/// Marks a byte that is not a base64url symbol in [`SEXTETS`].
const NOT_A_SYMBOL: u8 = 0x80;

/// The 6-bit value of each base64url symbol; [`NOT_A_SYMBOL`] elsewhere.
const SEXTETS: [u8; 256] = sextet_table();

const fn sextet_table() -> [u8; 256] {
    let mut table = [NOT_A_SYMBOL; 256];
    let symbols = URL_SAFE_SYMBOLS;
    let mut index = 0;
    while index < symbols.len() {
        table[symbols[index] as usize] = index as u8;
        index += 1;
    }
    table
}

const URL_SAFE_SYMBOLS: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Four symbols to three bytes at a time. Whether a byte outside the
/// alphabet came up is checked once at the end: the answer is the same,
/// and the loop has no branch per group. Plain slice steps: size-optimised
/// builds leave iterator adapters here uninlined.
fn decode_quads(mut quads: &[u8], mut out: &mut [u8]) -> Result<(), InvalidBase64> {
    let mut seen = 0u8;
    while let Some(([a, b, c, d], rest)) = quads.split_first_chunk::<4>() {
        let Some((triple, out_rest)) = std::mem::take(&mut out).split_first_chunk_mut::<3>() else {
            break;
        };
        let [a, b, c, d] = [
            SEXTETS[usize::from(*a)],
            SEXTETS[usize::from(*b)],
            SEXTETS[usize::from(*c)],
            SEXTETS[usize::from(*d)],
        ];
        seen |= a | b | c | d;
        let bits = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        *triple = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        quads = rest;
        out = out_rest;
    }
    if seen & NOT_A_SYMBOL == 0 {
        Ok(())
    } else {
        Err(InvalidBase64)
    }
}

/// The last two or three symbols: one or two bytes, and the bits left over
/// must be zero so that each byte string has a single spelling.
fn decode_tail(tail: &[u8], out: &mut [u8]) -> Result<(), InvalidBase64> {
    let mut bits = 0u32;
    for (index, &symbol) in tail.iter().enumerate() {
        let sextet = SEXTETS[usize::from(symbol)];
        if sextet & NOT_A_SYMBOL != 0 {
            return Err(InvalidBase64);
        }
        bits |= u32::from(sextet) << (18 - 6 * index);
    }
    let [_, high, low, spare] = bits.to_be_bytes();
    let (bytes, leftover) = match out.len() {
        0 => return Ok(()),
        1 => ([high, 0], low),
        _ => ([high, low], spare),
    };
    if leftover != 0 {
        return Err(InvalidBase64);
    }
    out.copy_from_slice(&bytes[..out.len()]);
    Ok(())
}

pub fn decode_lenient(text: &str) -> Result<Vec<u8>, InvalidBase64> {
    LENIENT.decode(text).map_err(|_| InvalidBase64)
}

pub fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

/// The media type of a `Content-Type` value: lower case, parameters dropped.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Deepest nesting of arrays and objects accepted in a token or key set.
/// Real tokens nest a few levels; serde's own limit (128) is far above what
/// any identity provider sends.
pub const MAX_JSON_DEPTH: usize = 20;

/// Whether the JSON text nests arrays and objects at most `max` deep.
/// Brackets inside strings do not count; malformed JSON is left for the
/// parser to refuse.
pub fn json_depth_within(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Why JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Arrays and objects nest deeper than allowed.
    TooDeep,
    /// Not one JSON object.
    Malformed,
}

/// Parses a JSON object whose arrays and objects nest at most `max` deep
/// (the object itself is the first level). Same answer as
/// [`json_depth_within`] followed by `serde_json::from_slice`, but the
/// depth is counted while parsing, so valid text is read once.
pub fn parse_object_within(json: &[u8], max: usize) -> Result<Map<String, Value>, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let parsed = deserializer
        .deserialize_map(NestingWithin { levels_left: max })
        .and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(Value::Object(object)) => Ok(object),
        // Text that failed either nests too deep or is malformed; which one
        // does not depend on where the parser stopped.
        _ if !json_depth_within(json, max) => Err(JsonError::TooDeep),
        _ => Err(JsonError::Malformed),
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
    use proptest::prelude::*;

    #[test]
    fn json_depth_counts_only_structure() {
        assert!(json_depth_within(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(!json_depth_within(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(json_depth_within(br#"{"a":"[[[[{{{{\"[["}"#, 1));
        let deep = format!("{}{}", "[".repeat(21), "]".repeat(21));
        assert!(!json_depth_within(deep.as_bytes(), MAX_JSON_DEPTH));
        let ok = format!("{}{}", "[".repeat(20), "]".repeat(20));
        assert!(json_depth_within(ok.as_bytes(), MAX_JSON_DEPTH));
    }

    #[test]
    fn strict_decodes_every_tail_length() {
        assert_eq!(decode_strict("").unwrap(), b"");
        assert_eq!(decode_strict("aA").unwrap(), b"h");
        assert_eq!(decode_strict("aGk").unwrap(), b"hi");
        assert_eq!(decode_strict("aGlq").unwrap(), b"hij");
        assert_eq!(decode_strict("-_-_").unwrap(), [0xfb, 0xff, 0xbf]);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_strict(&encode(&all)).unwrap(), all);
    }

    #[test]
    fn strict_refuses_each_irregular_spelling() {
        let refused = [
            ("aGk=", "padding"),
            ("aA==", "double padding"),
            ("====", "padding only"),
            ("aG=k", "padding inside"),
            ("a", "a single symbol is no byte"),
            ("aGlqa", "one symbol after whole groups"),
            (" aGk", "leading space"),
            ("aG k", "inner space"),
            ("aGk\n", "trailing newline"),
            ("aGk\r\n", "trailing line break"),
            ("a+/b", "standard alphabet"),
            ("aGk+", "standard alphabet in the last group"),
            ("aGk.", "separator"),
            ("aGé", "not ASCII"),
            ("aB", "bits set after the only byte"),
            ("aGl", "bits set after the second byte"),
        ];
        for (text, why) in refused {
            assert_eq!(decode_strict(text), Err(InvalidBase64), "{why}: {text:?}");
        }
    }

    proptest! {
        /// The decoder refuses and accepts exactly what a strict general
        /// purpose engine does.
        #[test]
        fn strict_agrees_with_a_reference_engine(text in "[A-Za-z0-9_+/= .-]{0,12}") {
            prop_assert_eq!(decode_strict(&text).ok(), STRICT.decode(&text).ok());
        }

        #[test]
        fn strict_reads_back_what_was_encoded(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(decode_strict(&encode(&bytes)), Ok(bytes));
        }

        /// One pass gives what the depth scan followed by serde_json gives,
        /// for JSON objects, for them with one byte changed, and for noise.
        #[test]
        fn object_parse_agrees_with_scan_then_parse(
            text in prop_oneof![json_object_text(), json_object_text_with_one_byte_changed(), r#"[\[\]{}":,\\a1 n]{0,24}"#],
            max in 0usize..6,
        ) {
            let reference = if !json_depth_within(text.as_bytes(), max) {
                Err(JsonError::TooDeep)
            } else {
                serde_json::from_slice::<Map<String, Value>>(text.as_bytes())
                    .map_err(|_| JsonError::Malformed)
            };
            prop_assert_eq!(parse_object_within(text.as_bytes(), max), reference);
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
        assert_eq!(parse_object_within(text, 3), Ok(expected));
        assert_eq!(parse_object_within(text, 2), Err(JsonError::TooDeep));
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

    #[test]
    fn strict_refuses_padding_and_other_alphabets() {
        assert_eq!(decode_strict("aGk").unwrap(), b"hi");
        assert!(decode_strict("aGk=").is_err());
        assert!(decode_strict("a+/b").is_err());
        assert!(decode_strict("aGl").is_err(), "trailing bits set");
        assert_eq!(decode_lenient("aGk=").unwrap(), b"hi");
        assert_eq!(encode(b"hi"), "aGk");
    }
}
