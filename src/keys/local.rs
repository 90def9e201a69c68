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
    Ok(Jwk { kid, alg, key })
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
