//! JSON Web Key Sets (RFC 7517): the verification keys of a provider.
//!
//! Keys the filter cannot or must not use for signatures (`use: enc`, an
//! unknown `kty` or `alg`) are skipped and reported; a set is refused as a
//! whole when it is malformed, too large, has duplicate `kid`s or no usable
//! key, so the caller can keep its last good set.

use std::fmt;

use rsa::BigUint;
use serde::Deserialize;

use crate::encoding::decode_lenient;
use crate::verify::{Algorithm, KeyKind};

pub const MAX_JWKS_BYTES: usize = 256 << 10;
pub const MAX_KEYS: usize = 64;
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 4096;

/// A public key ready to verify signatures.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl PublicKey {
    pub fn kind(&self) -> KeyKind {
        match self {
            PublicKey::Rsa(_) => KeyKind::Rsa,
            PublicKey::P256(_) => KeyKind::P256,
            PublicKey::P384(_) => KeyKind::P384,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    /// When the JWK names an algorithm, only that algorithm may use it.
    pub alg: Option<Algorithm>,
    pub key: PublicKey,
}

impl Jwk {
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.key.kind() == alg.key_kind() && self.alg.is_none_or(|own| own == alg)
    }
}

#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    pub fn new(keys: Vec<Jwk>) -> KeySet {
        KeySet { keys }
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A key left out of the set, and why (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    pub index: usize,
    pub kid: Option<String>,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    NotForSignatures,
    UnsupportedKeyType(String),
    UnsupportedAlgorithm(String),
    AlgorithmDoesNotFitKey,
    Malformed(&'static str),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotForSignatures => f.write_str("not a signature key (use/key_ops)"),
            SkipReason::UnsupportedKeyType(kty) => write!(f, "unsupported kty {kty:?}"),
            SkipReason::UnsupportedAlgorithm(alg) => write!(f, "unsupported alg {alg:?}"),
            SkipReason::AlgorithmDoesNotFitKey => f.write_str("alg does not fit the key type"),
            SkipReason::Malformed(what) => write!(f, "malformed: {what}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    TooLarge(usize),
    NotJson(String),
    TooManyKeys(usize),
    DuplicateKid(String),
    NoUsableKeys,
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::TooLarge(size) => {
                write!(f, "JWKS of {size} bytes exceeds {MAX_JWKS_BYTES} bytes")
            }
            JwksError::NotJson(error) => write!(f, "JWKS is not a JSON key set: {error}"),
            JwksError::TooManyKeys(count) => {
                write!(f, "JWKS holds {count} keys, more than {MAX_KEYS}")
            }
            JwksError::DuplicateKid(kid) => write!(f, "JWKS has two keys with kid {kid:?}"),
            JwksError::NoUsableKeys => f.write_str("JWKS has no usable signature key"),
        }
    }
}

impl std::error::Error for JwksError {}

#[derive(Debug, Clone)]
pub struct ParsedJwks {
    pub set: KeySet,
    pub skipped: Vec<SkippedKey>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawJwk>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

pub fn parse_jwks(body: &[u8]) -> Result<ParsedJwks, JwksError> {
    if body.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge(body.len()));
    }
    let raw: RawSet =
        serde_json::from_slice(body).map_err(|error| JwksError::NotJson(error.to_string()))?;
    if raw.keys.len() > MAX_KEYS {
        return Err(JwksError::TooManyKeys(raw.keys.len()));
    }
    let mut keys: Vec<Jwk> = Vec::with_capacity(raw.keys.len());
    let mut skipped = Vec::new();
    for (index, raw_key) in raw.keys.into_iter().enumerate() {
        let kid = raw_key.kid.clone();
        match parse_key(raw_key) {
            Ok(jwk) => {
                if let Some(kid) = &jwk.kid {
                    if keys.iter().any(|other| other.kid.as_ref() == Some(kid)) {
                        return Err(JwksError::DuplicateKid(kid.clone()));
                    }
                }
                keys.push(jwk);
            }
            Err(reason) => skipped.push(SkippedKey { index, kid, reason }),
        }
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys);
    }
    Ok(ParsedJwks {
        set: KeySet::new(keys),
        skipped,
    })
}

fn parse_key(raw: RawJwk) -> Result<Jwk, SkipReason> {
    if !is_for_signatures(&raw) {
        return Err(SkipReason::NotForSignatures);
    }
    let alg = match &raw.alg {
        None => None,
        Some(name) => Some(
            Algorithm::from_name(name)
                .ok_or_else(|| SkipReason::UnsupportedAlgorithm(name.clone()))?,
        ),
    };
    let key = match raw.kty.as_str() {
        "RSA" => rsa_key(&raw)?,
        "EC" => ec_key(&raw)?,
        other => return Err(SkipReason::UnsupportedKeyType(other.to_string())),
    };
    if alg.is_some_and(|alg| alg.key_kind() != key.kind()) {
        return Err(SkipReason::AlgorithmDoesNotFitKey);
    }
    Ok(Jwk {
        kid: raw.kid,
        alg,
        key,
    })
}

fn is_for_signatures(raw: &RawJwk) -> bool {
    let usage_ok = raw.usage.as_deref().is_none_or(|usage| usage == "sig");
    let ops_ok = raw
        .key_ops
        .as_ref()
        .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
    usage_ok && ops_ok
}

fn member<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, SkipReason> {
    value.as_deref().ok_or(SkipReason::Malformed(name))
}

fn decode_member(value: &Option<String>, name: &'static str) -> Result<Vec<u8>, SkipReason> {
    decode_lenient(member(value, name)?).map_err(|_| SkipReason::Malformed(name))
}

fn rsa_key(raw: &RawJwk) -> Result<PublicKey, SkipReason> {
    let n = BigUint::from_bytes_be(&decode_member(&raw.n, "n")?);
    let e = BigUint::from_bytes_be(&decode_member(&raw.e, "e")?);
    let bits = n.bits();
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(SkipReason::Malformed(
            "RSA modulus must be 2048 to 4096 bits",
        ));
    }
    rsa::RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS)
        .map(PublicKey::Rsa)
        .map_err(|_| SkipReason::Malformed("RSA public key"))
}

fn ec_key(raw: &RawJwk) -> Result<PublicKey, SkipReason> {
    let crv = member(&raw.crv, "crv")?;
    let coordinate_len = match crv {
        "P-256" => 32,
        "P-384" => 48,
        other => return Err(SkipReason::UnsupportedKeyType(format!("EC {other}"))),
    };
    let x = decode_member(&raw.x, "x")?;
    let y = decode_member(&raw.y, "y")?;
    if x.len() != coordinate_len || y.len() != coordinate_len {
        return Err(SkipReason::Malformed("EC coordinate length"));
    }
    let mut point = Vec::with_capacity(1 + 2 * coordinate_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let not_on_curve = SkipReason::Malformed("EC point is not on the curve");
    match crv {
        "P-256" => p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
            .map(PublicKey::P256)
            .map_err(|_| not_on_curve),
        _ => p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
            .map(PublicKey::P384)
            .map_err(|_| not_on_curve),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::encode;

    fn p256_jwk(key: &p256::ecdsa::VerifyingKey, kid: &str) -> serde_json::Value {
        let point = key.to_encoded_point(false);
        serde_json::json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
            "x": encode(point.x().unwrap()), "y": encode(point.y().unwrap())})
    }

    fn p256_key() -> p256::ecdsa::VerifyingKey {
        *p256::ecdsa::SigningKey::from_slice(&[7u8; 32])
            .unwrap()
            .verifying_key()
    }

    fn parse(value: serde_json::Value) -> Result<ParsedJwks, JwksError> {
        parse_jwks(value.to_string().as_bytes())
    }

    #[test]
    fn parses_ec_keys_and_skips_what_it_cannot_use() {
        let ec = p256_jwk(&p256_key(), "ec-1");
        let parsed = parse(serde_json::json!({"keys": [
            ec,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "wrong-alg", "alg": "RS256",
             "x": ec["x"], "y": ec["y"]},
            {"kty": "EC", "crv": "P-256", "kid": "short", "x": "AAAA", "y": "AAAA"},
            {"kty": "RSA", "kid": "small", "n": encode(&[0xff; 128]), "e": "AQAB"},
        ]}))
        .unwrap();
        assert_eq!(parsed.set.len(), 1);
        let key = &parsed.set.keys()[0];
        assert_eq!(key.kid.as_deref(), Some("ec-1"));
        assert!(key.accepts(Algorithm::Es256));
        assert!(!key.accepts(Algorithm::Es384));
        assert!(!key.accepts(Algorithm::Rs256));
        let reasons: Vec<_> = parsed
            .skipped
            .iter()
            .map(|s| s.kid.clone().unwrap())
            .collect();
        assert_eq!(reasons, ["hmac", "enc", "wrong-alg", "short", "small"]);
    }

    #[test]
    fn point_off_the_curve_is_skipped() {
        let mut ec = p256_jwk(&p256_key(), "bad");
        ec["y"] = serde_json::Value::String(encode(&[1u8; 32]));
        assert_eq!(
            parse(serde_json::json!({"keys": [ec]})).unwrap_err(),
            JwksError::NoUsableKeys
        );
    }

    #[test]
    fn whole_set_is_refused_when_malformed_or_ambiguous() {
        let ec = p256_jwk(&p256_key(), "same");
        assert_eq!(
            parse(serde_json::json!({"keys": [ec.clone(), ec]})).unwrap_err(),
            JwksError::DuplicateKid("same".into())
        );
        assert!(matches!(parse_jwks(b"<html>"), Err(JwksError::NotJson(_))));
        assert!(matches!(
            parse_jwks(b"{\"keys\": 1}"),
            Err(JwksError::NotJson(_))
        ));
        assert_eq!(
            parse(serde_json::json!({"keys": []})).unwrap_err(),
            JwksError::NoUsableKeys
        );
        let big = vec![b' '; MAX_JWKS_BYTES + 1];
        assert!(matches!(parse_jwks(&big), Err(JwksError::TooLarge(_))));
        let many: Vec<_> = (0..=MAX_KEYS)
            .map(|_| serde_json::json!({"kty": "oct"}))
            .collect();
        assert!(matches!(
            parse(serde_json::json!({ "keys": many })),
            Err(JwksError::TooManyKeys(_))
        ));
    }
}
