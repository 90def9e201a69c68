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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_small_order_and_non_canonical_keys() {
        // y = 1: the identity.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::WeakKey));
        // y = p + 1 = 2^255 - 18, another spelling of the identity.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert_eq!(
            PublicKey::from_bytes(&non_canonical),
            Err(KeyError::Encoding)
        );
        // x = 0 with the sign bit set does not decode (RFC 8032 §5.1.3).
        let mut negative_zero = identity;
        negative_zero[31] |= 0x80;
        assert!(PublicKey::from_bytes(&negative_zero).is_err());
        assert_eq!(PublicKey::from_bytes(&[1; 31]), Err(KeyError::Encoding));
    }

    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn verifies_the_rfc_8032_example_and_nothing_near_it() {
        // RFC 8032 §7.1, test 1: the empty message.
        let encoded = bytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let key = PublicKey::from_bytes(&encoded).unwrap();
        assert_eq!(key.as_bytes().as_slice(), encoded.as_slice());
        let signature = bytes(concat!(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555",
            "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ));
        assert!(key.verify(b"", &signature));
        assert!(!key.verify(b"x", &signature));
        let mut flipped = signature.clone();
        flipped[40] ^= 4;
        assert!(!key.verify(b"", &flipped));
        assert!(!key.verify(b"", &signature[..63]));
    }
}
