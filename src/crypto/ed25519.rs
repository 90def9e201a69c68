//! EdDSA with Ed25519 (RFC 8032, JWS per RFC 8037), through `ed25519-dalek`,
//! whose field arithmetic uses 32-bit limbs on wasm32.

use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};

use super::KeyError;

pub const PUBLIC_KEY_BYTES: usize = 32;
pub const SIGNATURE_BYTES: usize = 64;

/// An Ed25519 public key: a canonical encoding of a point that is not of
/// small order.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ed25519::PublicKey")
            .field(&super::hex(self.0.as_bytes()))
            .finish()
    }
}

impl PublicKey {
    /// A key from its 32-byte encoding (the JWK `x`, RFC 8037 §2).
    /// Refuses encodings RFC 8032 §5.1.3 does not decode, non-canonical
    /// ones, and keys of small order, for which signatures can be forged.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let bytes: &[u8; PUBLIC_KEY_BYTES] = bytes.try_into().map_err(|_| KeyError::Encoding)?;
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotOnCurve)?;
        if key.to_edwards().compress().as_bytes() != bytes {
            return Err(KeyError::Encoding);
        }
        if key.is_weak() {
            return Err(KeyError::WeakKey);
        }
        Ok(PublicKey(key))
    }

    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_BYTES] {
        self.0.as_bytes()
    }

    /// Whether `signature` (`R || S`, 64 bytes) is valid for `message`:
    /// `S` must be below the group order and `R` must be the canonical
    /// encoding of `[S]B - [k]A` (RFC 8032 §5.1.7); an `R` of small order
    /// is refused as well.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|signature| self.0.verify_strict(message, &signature).is_ok())
    }
}
