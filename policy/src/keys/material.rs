//! Verification keys built from their raw parts, whatever form they came in
//! (a JWK, a PEM file, a configured secret). Every constructor checks the
//! key is one the filter may use.

use std::fmt;

use crate::crypto;
use crate::verify::KeyKind;

/// RFC 7518 §3.2: HS256 needs at least 256 bits of key.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;
/// Secrets longer than a hash block are hashed first by HMAC; bound them.
pub const MAX_HMAC_SECRET_BYTES: usize = 1024;

/// A key ready to verify signatures.
#[derive(Clone)]
pub enum PublicKey {
    Rsa(crypto::rsa::RsaPublicKey),
    P256(crypto::p256::PublicKey),
    P384(crypto::p384::PublicKey),
    Ed25519(crypto::ed25519::PublicKey),
    Hmac(HmacSecret),
}

/// A shared secret; never printed.
#[derive(Clone)]
pub struct HmacSecret(Vec<u8>);

impl HmacSecret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKey::Rsa(key) => write!(f, "Rsa({} bits)", key.bits()),
            PublicKey::P256(_) => f.write_str("P256"),
            PublicKey::P384(_) => f.write_str("P384"),
            PublicKey::Ed25519(_) => f.write_str("Ed25519"),
            PublicKey::Hmac(secret) => write!(f, "Hmac({} bytes)", secret.0.len()),
        }
    }
}

impl PublicKey {
    pub fn kind(&self) -> KeyKind {
        match self {
            PublicKey::Rsa(_) => KeyKind::Rsa,
            PublicKey::P256(_) => KeyKind::P256,
            PublicKey::P384(_) => KeyKind::P384,
            PublicKey::Ed25519(_) => KeyKind::Ed25519,
            PublicKey::Hmac(_) => KeyKind::Hmac,
        }
    }

    /// An RSA key (2048 to 4096 bits) from its big-endian modulus and
    /// exponent.
    pub fn rsa(modulus: &[u8], exponent: &[u8]) -> Result<PublicKey, KeyError> {
        crypto::rsa::RsaPublicKey::from_be_bytes(modulus, exponent)
            .map(PublicKey::Rsa)
            .map_err(KeyError::Unusable)
    }

    /// An EC key from its SEC1 point encoding.
    pub fn ec(curve: Curve, sec1_point: &[u8]) -> Result<PublicKey, KeyError> {
        match curve {
            Curve::P256 => crypto::p256::PublicKey::from_sec1(sec1_point).map(PublicKey::P256),
            Curve::P384 => crypto::p384::PublicKey::from_sec1(sec1_point).map(PublicKey::P384),
        }
        .map_err(KeyError::Unusable)
    }

    /// An EC key from its affine coordinates, each exactly as long as the
    /// curve's field elements (RFC 7518 §6.2.1.2).
    pub fn ec_coordinates(curve: Curve, x: &[u8], y: &[u8]) -> Result<PublicKey, KeyError> {
        match curve {
            Curve::P256 => crypto::p256::PublicKey::from_affine(x, y).map(PublicKey::P256),
            Curve::P384 => crypto::p384::PublicKey::from_affine(x, y).map(PublicKey::P384),
        }
        .map_err(KeyError::Unusable)
    }

    /// An Ed25519 key from its 32-byte encoding (RFC 8032 §5.1.5).
    pub fn ed25519(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        crypto::ed25519::PublicKey::from_bytes(bytes)
            .map(PublicKey::Ed25519)
            .map_err(KeyError::Unusable)
    }

    /// An Ed25519 key derived from a private key's 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8]) -> Result<PublicKey, KeyError> {
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| KeyError::Unusable(crypto::KeyError::Encoding))?;
        let public = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
        PublicKey::ed25519(public.as_bytes())
    }

    pub fn hmac(secret: Vec<u8>) -> Result<PublicKey, KeyError> {
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(KeyError::HmacTooShort);
        }
        if secret.len() > MAX_HMAC_SECRET_BYTES {
            return Err(KeyError::HmacTooLong);
        }
        Ok(PublicKey::Hmac(HmacSecret(secret)))
    }

    /// Shorter HMAC secrets only serve the shorter hashes (RFC 7518 §3.2).
    pub fn fits(&self, alg: crate::verify::Algorithm) -> bool {
        match self {
            PublicKey::Hmac(secret) => secret.0.len() >= alg.min_secret_bytes(),
            _ => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

impl Curve {
    /// The JOSE `crv` name.
    pub fn from_name(name: &str) -> Option<Curve> {
        match name {
            "P-256" => Some(Curve::P256),
            "P-384" => Some(Curve::P384),
            _ => None,
        }
    }

    pub fn coordinate_bytes(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

/// Why key material cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    Unusable(crypto::KeyError),
    HmacTooShort,
    HmacTooLong,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unusable(error) => error.fmt(f),
            KeyError::HmacTooShort => {
                f.write_str("HMAC secret must be at least 32 bytes (RFC 7518 section 3.2)")
            }
            KeyError::HmacTooLong => f.write_str("HMAC secret must be at most 1024 bytes"),
        }
    }
}

impl std::error::Error for KeyError {}
