//! JWS compact serialization: splitting a token and reading its header and
//! claims, before anything is trusted.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Algorithm, TokenError};
use crate::encoding::{decode_strict, json_depth_within, MAX_JSON_DEPTH};

/// A token whose parts were decoded but whose signature is not checked yet.
#[derive(Debug, Clone)]
pub struct UnverifiedToken<'a> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// `jwk`, `jku`, `x5u` and `x5c` are never read: keys come only from the
/// provider's configured key source.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the filter does not understand must make it refuse the
    /// token (RFC 7515 §4.1.11); none are understood.
    #[serde(default)]
    crit: Option<Value>,
}

pub fn parse(token: &str, max_bytes: usize) -> Result<UnverifiedToken<'_>, TokenError> {
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
    let raw_header: RawHeader = decode_json(header)?;
    if raw_header.crit.is_some() {
        return Err(TokenError::CriticalHeader);
    }
    let alg = Algorithm::from_name(&raw_header.alg).ok_or(TokenError::UnsupportedAlgorithm)?;
    let claims: Map<String, Value> = decode_json(payload)?;
    let signature = decode_strict(signature).map_err(|_| TokenError::Malformed)?;
    Ok(UnverifiedToken {
        alg,
        kid: raw_header.kid,
        claims,
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature,
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = decode_strict(part).map_err(|_| TokenError::Malformed)?;
    if !json_depth_within(&bytes, MAX_JSON_DEPTH) {
        return Err(TokenError::TooDeep);
    }
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}
