//! Keys written into the configuration: an inline JWKS, PEM keys and HMAC
//! secrets. Unlike a fetched set, a configured key the filter cannot use
//! is an error, not something to skip: the operator can fix it.

use std::fmt;

use serde::Deserialize;

use super::jwks::{parse_jwks_from, Jwk, JwksError, KeyOrigin, KeySet, MAX_KEYS};
use super::material::PublicKey;
use super::pem::parse_pem;
use crate::verify::Algorithm;

/// `local_jwks`: a JWKS object, or the same as a JSON string (the form
/// Envoy's `local_jwks.inline_string` takes).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum RawLocalJwks {
    Text(String),
    Object(serde_json::Value),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPemKey {
    pem: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHmacSecret {
    /// The secret's UTF-8 bytes.
    #[serde(default)]
    secret: Option<String>,
    /// The secret in base64 or base64url, padded or not.
    #[serde(default)]
    secret_base64: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
}

/// A configured key that cannot be used; `field` is relative to the
/// provider (`pem_keys[1].pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalKeyError {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for LocalKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for LocalKeyError {}

fn error(field: impl Into<String>, reason: impl ToString) -> LocalKeyError {
    LocalKeyError {
        field: field.into(),
        reason: reason.to_string(),
    }
}

/// Builds one key set from every configured form.
pub fn compile(
    jwks: Option<RawLocalJwks>,
    pem_keys: Vec<RawPemKey>,
    hmac_secrets: Vec<RawHmacSecret>,
) -> Result<KeySet, LocalKeyError> {
    // Each key with the field it came from, for duplicate-kid errors.
    let mut keys: Vec<(String, Jwk)> = match jwks {
        Some(raw) => jwks_keys(raw)?
            .into_iter()
            .map(|key| ("local_jwks".to_string(), key))
            .collect(),
        None => Vec::new(),
    };
    for (index, raw) in pem_keys.into_iter().enumerate() {
        let field = |name: &str| format!("pem_keys[{index}].{name}");
        let key = parse_pem(&raw.pem).map_err(|e| error(field("pem"), e))?;
        keys.push((field("kid"), configured_key(key, raw.kid, raw.alg, &field)?));
    }
    for (index, raw) in hmac_secrets.into_iter().enumerate() {
        let field = |name: &str| format!("hmac_secrets[{index}].{name}");
        let key = secret(&raw, &field)?;
        keys.push((field("kid"), configured_key(key, raw.kid, raw.alg, &field)?));
    }
    check_kids(&keys)?;
    if keys.len() > MAX_KEYS {
        return Err(error(
            "local_jwks",
            format!("more than {MAX_KEYS} keys in all"),
        ));
    }
    Ok(KeySet::new(keys.into_iter().map(|(_, key)| key).collect()))
}

fn jwks_keys(raw: RawLocalJwks) -> Result<Vec<Jwk>, LocalKeyError> {
    let text = match raw {
        RawLocalJwks::Text(text) => text,
        RawLocalJwks::Object(value) => value.to_string(),
    };
    let parsed = parse_jwks_from(text.as_bytes(), KeyOrigin::Configured).map_err(|e| match e {
        JwksError::NoUsableKeys => error("local_jwks", "holds no usable signature key"),
        other => error("local_jwks", other),
    })?;
    if let Some(skipped) = parsed.skipped.first() {
        return Err(error(
            format!("local_jwks.keys[{}]", skipped.index),
            format!("cannot be used: {}", skipped.reason),
        ));
    }
    Ok(parsed.set.keys().to_vec())
}

fn secret(raw: &RawHmacSecret, field: &dyn Fn(&str) -> String) -> Result<PublicKey, LocalKeyError> {
    let bytes = match (&raw.secret, &raw.secret_base64) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(encoded)) => decode_any_base64(encoded)
            .ok_or_else(|| error(field("secret_base64"), "is not base64 or base64url"))?,
        _ => {
            return Err(error(
                field("secret"),
                "set exactly one of `secret` and `secret_base64`",
            ))
        }
    };
    let name = if raw.secret.is_some() {
        "secret"
    } else {
        "secret_base64"
    };
    PublicKey::hmac(bytes).map_err(|e| error(field(name), e))
}

fn decode_any_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let trimmed = text.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .ok()
}

fn configured_key(
    key: PublicKey,
    kid: Option<String>,
    alg: Option<String>,
    field: &dyn Fn(&str) -> String,
) -> Result<Jwk, LocalKeyError> {
    if kid.as_deref() == Some("") {
        return Err(error(field("kid"), "must not be empty"));
    }
    let alg = match alg {
        None => None,
        Some(name) => {
            let alg = Algorithm::from_name(&name)
                .ok_or_else(|| error(field("alg"), format!("unsupported algorithm {name:?}")))?;
            if alg.key_kind() != key.kind() || !key.fits(alg) {
                return Err(error(field("alg"), format!("{name} does not fit the key")));
            }
            Some(alg)
        }
    };
    Ok(Jwk::new(kid, alg, key))
}

/// Two keys with one `kid` would make key choice ambiguous.
fn check_kids(keys: &[(String, Jwk)]) -> Result<(), LocalKeyError> {
    for (index, (field, key)) in keys.iter().enumerate() {
        let Some(kid) = &key.kid else { continue };
        if keys[..index]
            .iter()
            .any(|(_, other)| other.kid.as_ref() == Some(kid))
        {
            return Err(error(
                field.clone(),
                format!("another configured key already has kid {kid:?}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::KeyKind;

    const P256_PKCS8: &str = include_str!("../../../tests/data/token-table/p256-private.pem");
    const RSA_PKCS8: &str = include_str!("../../../tests/data/token-table/rsa-private.pem");
    const ED25519_PKCS8: &str = include_str!("../../../tests/data/token-table/ed25519-private.pem");

    fn pem(text: &str, kid: Option<&str>, alg: Option<&str>) -> RawPemKey {
        RawPemKey {
            pem: text.to_string(),
            kid: kid.map(str::to_string),
            alg: alg.map(str::to_string),
        }
    }

    fn secret(text: &str, kid: Option<&str>) -> RawHmacSecret {
        RawHmacSecret {
            secret: Some(text.to_string()),
            secret_base64: None,
            kid: kid.map(str::to_string),
            alg: None,
        }
    }

    fn field_of(result: Result<KeySet, LocalKeyError>) -> String {
        result.map(|_| ()).unwrap_err().field
    }

    #[test]
    fn private_key_files_yield_their_public_keys() {
        let set = compile(
            None,
            vec![
                pem(P256_PKCS8, Some("ec"), None),
                pem(RSA_PKCS8, Some("rsa"), Some("PS256")),
                pem(ED25519_PKCS8, None, None),
            ],
            vec![secret(&"s".repeat(32), Some("hs"))],
        )
        .unwrap();
        let kinds: Vec<KeyKind> = set.keys().iter().map(|key| key.key.kind()).collect();
        assert_eq!(
            kinds,
            [KeyKind::P256, KeyKind::Rsa, KeyKind::Ed25519, KeyKind::Hmac]
        );
        assert!(set.keys()[1].accepts(Algorithm::Ps256));
        assert!(!set.keys()[1].accepts(Algorithm::Rs256));
        assert!(set.keys()[3].accepts(Algorithm::Hs256));
        assert!(
            !set.keys()[3].accepts(Algorithm::Hs384),
            "32 bytes is too short"
        );
    }

    #[test]
    fn unusable_configured_keys_name_their_field() {
        let garbage = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            field_of(compile(None, vec![pem(garbage, None, None)], vec![])),
            "pem_keys[0].pem"
        );
        assert_eq!(
            field_of(compile(None, vec![pem("not pem", None, None)], vec![])),
            "pem_keys[0].pem"
        );
        let label = compile(None, vec![pem(cert, None, None)], vec![])
            .map(|_| ())
            .unwrap_err();
        assert!(label.reason.contains("CERTIFICATE"), "{label}");
        assert_eq!(
            field_of(compile(
                None,
                vec![pem(P256_PKCS8, None, Some("RS256"))],
                vec![]
            )),
            "pem_keys[0].alg"
        );
        assert_eq!(
            field_of(compile(None, vec![], vec![secret("short", None)])),
            "hmac_secrets[0].secret"
        );
        let both = RawHmacSecret {
            secret_base64: Some("c2VjcmV0".into()),
            ..secret(&"s".repeat(40), None)
        };
        assert_eq!(
            field_of(compile(None, vec![], vec![both])),
            "hmac_secrets[0].secret"
        );
        assert_eq!(
            field_of(compile(
                None,
                vec![pem(P256_PKCS8, Some("same"), None)],
                vec![secret(&"s".repeat(40), Some("same"))]
            )),
            "hmac_secrets[0].kid"
        );
        let enc_key = RawLocalJwks::Object(serde_json::json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "kid": "a"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
        ]}));
        assert_eq!(
            field_of(compile(Some(enc_key), vec![], vec![])),
            "local_jwks.keys[1]"
        );
    }

    #[test]
    fn inline_jwks_may_be_a_string_and_hold_secrets() {
        let text = r#"{"keys": [{"kty": "oct", "kid": "a", "alg": "HS256",
            "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}"#;
        let set = compile(Some(RawLocalJwks::Text(text.into())), vec![], vec![]).unwrap();
        assert!(set.keys()[0].accepts(Algorithm::Hs256));
        let fetched = super::super::jwks::parse_jwks(text.as_bytes()).map(|_| ());
        assert_eq!(
            fetched.unwrap_err(),
            JwksError::NoUsableKeys,
            "never from the network"
        );
    }
}
