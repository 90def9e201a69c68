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
    let mut at = 0;
    // An index loop: size-optimised builds leave slice iterators uninlined.
    while at < json.len() {
        match json[at] {
            b'"' => at = after_string(json, at + 1),
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    true
}

/// Where the string whose content starts at `at` has its closing quote;
/// past the end when it has none. A backslash escapes the byte after it.
fn after_string(json: &[u8], mut at: usize) -> usize {
    while at < json.len() {
        match json[at] {
            b'"' => return at,
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    at
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

    /// Depth by the plain definition, one byte at a time.
    fn reference_depth_within(json: &[u8], max: usize) -> bool {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for &byte in json {
            match (in_string, escaped, byte) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
                (false, _, b'[' | b'{') => depth += 1,
                (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > max {
                return false;
            }
        }
        true
    }

    proptest! {
        #[test]
        fn depth_scan_agrees_with_its_definition(text in r#"[\[\]{}"\\a]{0,16}"#, max in 0usize..4) {
            prop_assert_eq!(
                json_depth_within(text.as_bytes(), max),
                reference_depth_within(text.as_bytes(), max)
            );
        }

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
