//! Wire encodings: base64url as JOSE uses it, media types.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

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

pub fn decode_strict(text: &str) -> Result<Vec<u8>, InvalidBase64> {
    STRICT.decode(text).map_err(|_| InvalidBase64)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn strict_refuses_padding_and_other_alphabets() {
        assert_eq!(decode_strict("aGk").unwrap(), b"hi");
        assert!(decode_strict("aGk=").is_err());
        assert!(decode_strict("a+/b").is_err());
        assert!(decode_strict("aGl").is_err(), "trailing bits set");
        assert_eq!(decode_lenient("aGk=").unwrap(), b"hi");
        assert_eq!(encode(b"hi"), "aGk");
    }
}
