//! JWS compact serialization: splitting a token and reading its header and
//! claims, before anything is trusted.

use std::borrow::Cow;
use std::cell::RefCell;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{Algorithm, TokenError};
use crate::encoding::{decode_strict, json_depth_within, MAX_JSON_DEPTH};
use bounded_json::{parse_object_within, JsonError};
pub use claim_set::{ClaimNames, Claims};

mod bounded_json;
mod claim_set;

/// A token whose parts were decoded but whose signature is not checked yet.
#[derive(Debug, Clone)]
pub struct UnverifiedToken<'a> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub claims: Claims,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// `jwk`, `jku`, `x5u` and `x5c` are never read: keys come only from the
/// provider's configured key source. Fields borrow from the decoded header
/// unless they hold escapes.
#[derive(Deserialize)]
struct RawHeader<'h> {
    #[serde(borrow)]
    alg: Cow<'h, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'h, str>>,
    /// Extensions the filter does not understand must make it refuse the
    /// token (RFC 7515 §4.1.11); none are understood.
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Splits and decodes `token`; its claims keep the members named in `kept`.
pub fn parse<'t>(
    token: &'t str,
    max_bytes: usize,
    kept: &ClaimNames,
) -> Result<UnverifiedToken<'t>, TokenError> {
    if token.len() > max_bytes {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(TokenError::Malformed);
    }
    let (alg, kid) = read_header_remembered(header)?;
    let payload_json = decode_strict(payload).map_err(|_| TokenError::Malformed)?;
    let claims =
        parse_object_within(&payload_json, MAX_JSON_DEPTH, kept).map_err(|error| match error {
            JsonError::TooDeep => TokenError::TooDeep,
            JsonError::Malformed => TokenError::Malformed,
        })?;
    let signature = decode_strict(signature).map_err(|_| TokenError::Malformed)?;
    Ok(UnverifiedToken {
        alg,
        kid,
        claims,
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature,
    })
}

/// A header read before and its reading.
struct ReadHeader {
    text: String,
    alg: Algorithm,
    kid: Option<String>,
}

thread_local! {
    /// The last header read well. Tokens from one identity provider carry
    /// one of a few headers, so a new token's header is usually the last
    /// one's, byte for byte; reading it is a pure function of those bytes.
    static LAST_HEADER: RefCell<Option<ReadHeader>> = const { RefCell::new(None) };
}

/// [`read_header`], answered from the last header read when `header` is
/// the same text.
fn read_header_remembered(header: &str) -> Result<(Algorithm, Option<String>), TokenError> {
    let remembered = LAST_HEADER.with_borrow(|last| {
        last.as_ref()
            .filter(|last| last.text == header)
            .map(|last| (last.alg, last.kid.clone()))
    });
    if let Some(read) = remembered {
        return Ok(read);
    }
    let (alg, kid) = read_header(header)?;
    LAST_HEADER.set(Some(ReadHeader {
        text: header.to_string(),
        alg,
        kid: kid.clone(),
    }));
    Ok((alg, kid))
}

/// The algorithm and key id the header names, refusing critical
/// extensions.
fn read_header(header: &str) -> Result<(Algorithm, Option<String>), TokenError> {
    let json = decode_strict(header).map_err(|_| TokenError::Malformed)?;
    if !json_depth_within(&json, MAX_JSON_DEPTH) {
        return Err(TokenError::TooDeep);
    }
    let raw: RawHeader = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if raw.crit.is_some() {
        return Err(TokenError::CriticalHeader);
    }
    let alg = Algorithm::from_name(&raw.alg).ok_or(TokenError::UnsupportedAlgorithm)?;
    Ok((alg, raw.kid.map(Cow::into_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::encode;

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            encode(header.as_bytes()),
            encode(payload.as_bytes()),
            encode(b"signature")
        )
    }

    fn parsed(header: &str, payload: &str) -> Result<(Algorithm, Option<String>), TokenError> {
        let text = token(header, payload);
        parse(&text, 8192, &ClaimNames::all()).map(|token| (token.alg, token.kid))
    }

    #[test]
    fn reads_the_header_and_keeps_the_parts() {
        let text = token(
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"i"}"#,
        );
        let token = parse(&text, 8192, &ClaimNames::all()).unwrap();
        assert_eq!(token.alg, Algorithm::from_name("HS256").unwrap());
        assert_eq!(token.kid.as_deref(), Some("k1"));
        assert_eq!(
            token.claims.get("iss").and_then(|iss| iss.as_str()),
            Some("i")
        );
        assert_eq!(token.signature, b"signature");
        assert_eq!(
            token.signing_input,
            &text[..text.rfind('.').unwrap()],
            "header.payload as sent"
        );
    }

    #[test]
    fn a_remembered_header_answers_only_for_the_same_text() {
        let first = r#"{"alg":"RS256","kid":"k1"}"#;
        let rs256 = Algorithm::from_name("RS256").unwrap();
        let es256 = Algorithm::from_name("ES256").unwrap();
        for _ in 0..2 {
            assert_eq!(parsed(first, "{}"), Ok((rs256, Some("k1".into()))));
        }
        assert_eq!(
            parsed(r#"{"alg":"RS256","kid":"k2"}"#, "{}"),
            Ok((rs256, Some("k2".into())))
        );
        assert_eq!(
            parsed(r#"{"alg":"ES256","kid":"k2"}"#, "{}"),
            Ok((es256, Some("k2".into())))
        );
        assert_eq!(
            parsed(r#"{"alg":"ES256","kid":"k2","crit":["b64"]}"#, "{}"),
            Err(TokenError::CriticalHeader)
        );
        assert_eq!(parsed(r#"{"alg":"RS256"}"#, "{}"), Ok((rs256, None)));
        assert_eq!(parsed(first, "{}"), Ok((rs256, Some("k1".into()))));
    }

    #[test]
    fn header_strings_may_hold_escapes() {
        assert_eq!(
            parsed(r#"{"alg":"HS\u0032\u00356","kid":"a\"b"}"#, "{}"),
            Ok((Algorithm::from_name("HS256").unwrap(), Some("a\"b".into())))
        );
    }

    #[test]
    fn header_refusals() {
        let alg = r#""alg":"HS256""#;
        assert!(parsed(&format!("{{{alg},\"crit\":null}}"), "{}").is_ok());
        assert!(parsed(&format!("{{{alg},\"kid\":null}}"), "{}").is_ok());
        for (header, error) in [
            (
                format!("{{{alg},\"crit\":[\"exp\"]}}"),
                TokenError::CriticalHeader,
            ),
            (format!("{{{alg},\"crit\":[]}}"), TokenError::CriticalHeader),
            (r#"{"alg":"none"}"#.into(), TokenError::UnsupportedAlgorithm),
            (r#"{"alg":7}"#.into(), TokenError::Malformed),
            (r#"{"kid":"k"}"#.into(), TokenError::Malformed),
            (format!("{{{alg},{alg}}}"), TokenError::Malformed),
            (format!("{{{alg},\"kid\":1}}"), TokenError::Malformed),
            (
                format!("{{{alg},\"x\":{}{}}}", "[".repeat(20), "]".repeat(20)),
                TokenError::TooDeep,
            ),
        ] {
            assert_eq!(parsed(&header, "{}"), Err(error), "{header}");
        }
    }

    #[test]
    fn payload_refusals() {
        let header = r#"{"alg":"HS256"}"#;
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(20), "]".repeat(20));
        let deep_and_broken = format!("{{\"x\" {}", "[".repeat(20));
        for (payload, error) in [
            (deep.as_str(), TokenError::TooDeep),
            (deep_and_broken.as_str(), TokenError::TooDeep),
            ("[]", TokenError::Malformed),
            ("null", TokenError::Malformed),
            ("{} x", TokenError::Malformed),
        ] {
            assert_eq!(parsed(header, payload), Err(error), "{payload}");
        }
        let within = format!("{{\"x\":{}{}}}", "[".repeat(19), "]".repeat(19));
        assert!(parsed(header, &within).is_ok());
    }

    #[test]
    fn part_refusals() {
        let good = token(r#"{"alg":"HS256"}"#, "{}");
        let (head, signature) = good.rsplit_once('.').unwrap();
        for text in [
            head.to_string(),
            format!("{head}.{signature}.x"),
            format!("{head}."),
            format!(".{good}"),
            format!("{head}.{signature}="),
            format!("{head}.a"),
            format!("{}={}", &head[..4], &good[4..]),
        ] {
            assert_eq!(
                parse(&text, 8192, &ClaimNames::all()).map(|_| ()),
                Err(TokenError::Malformed),
                "{text}"
            );
        }
        assert_eq!(
            parse(&good, good.len() - 1, &ClaimNames::all()).map(|_| ()),
            Err(TokenError::TooLarge)
        );
        assert!(parse(&good, good.len(), &ClaimNames::all()).is_ok());
    }
}
