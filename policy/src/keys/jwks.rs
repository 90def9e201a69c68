//! JSON Web Key Sets (RFC 7517): the verification keys of a provider.
//!
//! Keys the filter cannot or must not use for signatures (`use: enc`, an
//! unknown `kty` or `alg`) are skipped and reported; a set is refused as a
//! whole when it is malformed, too large, has duplicate `kid`s or no usable
//! key, so the caller can keep its last good set.

use std::fmt;

use serde::Deserialize;

use super::material::{Curve, KeyError, PublicKey};
use crate::encoding::decode_lenient;
use crate::verify::{host_format, Algorithm};

pub const MAX_JWKS_BYTES: usize = 256 << 10;
pub const MAX_KEYS: usize = 64;

#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    /// When the JWK names an algorithm, only that algorithm may use it.
    pub alg: Option<Algorithm>,
    pub key: PublicKey,
    /// The key as a host verifier takes it (SubjectPublicKeyInfo DER),
    /// built once; `None` for keys no host verifier handles.
    pub spki_der: Option<Vec<u8>>,
}

impl Jwk {
    pub fn new(kid: Option<String>, alg: Option<Algorithm>, key: PublicKey) -> Jwk {
        let spki_der = spki_der(&key);
        Jwk {
            kid,
            alg,
            key,
            spki_der,
        }
    }

    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.key.kind() == alg.key_kind()
            && self.alg.is_none_or(|own| own == alg)
            && self.key.fits(alg)
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

/// The SubjectPublicKeyInfo DER of an RSA or EC key; `None` for keys no
/// host verifier takes.
fn spki_der(key: &PublicKey) -> Option<Vec<u8>> {
    use host_format::{ec_spki_der, rsa_spki_der, EcCurve};
    let ec = |curve, point: Vec<u8>| {
        let coordinates = point.strip_prefix(&[0x04])?;
        let (x, y) = coordinates.split_at(coordinates.len() / 2);
        ec_spki_der(curve, x, y).ok()
    };
    match key {
        PublicKey::Rsa(key) => rsa_spki_der(&key.modulus(), &key.exponent()).ok(),
        PublicKey::P256(key) => ec(EcCurve::P256, key.to_sec1_uncompressed()),
        PublicKey::P384(key) => ec(EcCurve::P384, key.to_sec1_uncompressed()),
        PublicKey::Ed25519(_) | PublicKey::Hmac(_) => None,
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
    /// Shared secrets are only taken from the configuration, never from a
    /// key set fetched over the network.
    SecretNotAllowed,
    Malformed(&'static str),
    Unusable(KeyError),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotForSignatures => f.write_str("not a signature key (use/key_ops)"),
            SkipReason::UnsupportedKeyType(kty) => write!(f, "unsupported kty {kty:?}"),
            SkipReason::UnsupportedAlgorithm(alg) => write!(f, "unsupported alg {alg:?}"),
            SkipReason::AlgorithmDoesNotFitKey => f.write_str("alg does not fit the key type"),
            SkipReason::SecretNotAllowed => {
                f.write_str("symmetric (oct) keys are only accepted in local_jwks")
            }
            SkipReason::Malformed(what) => write!(f, "malformed: {what}"),
            SkipReason::Unusable(error) => error.fmt(f),
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
    #[serde(default)]
    k: Option<String>,
}

/// Where a key set came from: symmetric keys are only trusted from the
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    Fetched,
    Configured,
}

/// A key set fetched from a provider.
pub fn parse_jwks(body: &[u8]) -> Result<ParsedJwks, JwksError> {
    parse_jwks_from(body, KeyOrigin::Fetched)
}

pub fn parse_jwks_from(body: &[u8], origin: KeyOrigin) -> Result<ParsedJwks, JwksError> {
    if body.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge(body.len()));
    }
    let raw: RawSet =
        serde_json::from_slice(body).map_err(|error| JwksError::NotJson(error.to_string()))?;
    if !crate::encoding::json_depth_within(body, crate::encoding::MAX_JSON_DEPTH) {
        return Err(JwksError::NotJson("nested too deeply".into()));
    }
    if raw.keys.len() > MAX_KEYS {
        return Err(JwksError::TooManyKeys(raw.keys.len()));
    }
    let mut keys: Vec<Jwk> = Vec::with_capacity(raw.keys.len());
    let mut skipped = Vec::new();
    for (index, raw_key) in raw.keys.into_iter().enumerate() {
        let kid = raw_key.kid.clone();
        match parse_key(raw_key, origin) {
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

fn parse_key(raw: RawJwk, origin: KeyOrigin) -> Result<Jwk, SkipReason> {
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
        "OKP" => okp_key(&raw)?,
        "oct" if origin == KeyOrigin::Configured => secret_key(&raw)?,
        "oct" => return Err(SkipReason::SecretNotAllowed),
        other => return Err(SkipReason::UnsupportedKeyType(other.to_string())),
    };
    if alg.is_some_and(|alg| alg.key_kind() != key.kind() || !key.fits(alg)) {
        return Err(SkipReason::AlgorithmDoesNotFitKey);
    }
    Ok(Jwk::new(raw.kid, alg, key))
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
    PublicKey::rsa(&decode_member(&raw.n, "n")?, &decode_member(&raw.e, "e")?)
        .map_err(SkipReason::Unusable)
}

fn ec_key(raw: &RawJwk) -> Result<PublicKey, SkipReason> {
    let crv = member(&raw.crv, "crv")?;
    let curve =
        Curve::from_name(crv).ok_or_else(|| SkipReason::UnsupportedKeyType(format!("EC {crv}")))?;
    let x = decode_member(&raw.x, "x")?;
    let y = decode_member(&raw.y, "y")?;
    PublicKey::ec_coordinates(curve, &x, &y).map_err(SkipReason::Unusable)
}

/// RFC 8037 octet key pairs; only Ed25519 signs JWS here.
fn okp_key(raw: &RawJwk) -> Result<PublicKey, SkipReason> {
    match member(&raw.crv, "crv")? {
        "Ed25519" => PublicKey::ed25519(&decode_member(&raw.x, "x")?).map_err(SkipReason::Unusable),
        other => Err(SkipReason::UnsupportedKeyType(format!("OKP {other}"))),
    }
}

fn secret_key(raw: &RawJwk) -> Result<PublicKey, SkipReason> {
    PublicKey::hmac(decode_member(&raw.k, "k")?).map_err(SkipReason::Unusable)
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
