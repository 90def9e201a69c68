//! Public-key signature verification for JWS: RSA (PKCS#1 v1.5 and PSS),
//! ECDSA over P-256 and P-384, and Ed25519.
//!
//! The arithmetic uses limbs of at most 32 bits so that it stays fast on
//! wasm32, where a 64x64->128 multiply is a software routine: 32-bit limbs
//! for the elliptic curves, 27-bit limbs for RSA, whose carry-free columns
//! wasm SIMD multiplies two limbs at a time (`narrow_limbs`). Keys do their expensive set-up
//! once, when they are built (Montgomery constants for RSA, tables of
//! multiples for ECDSA), so that each verification is cheap.
//!
//! Verification only ever handles public values (keys, messages,
//! signatures), so the code may take time that depends on them.

pub(crate) mod bigint;
mod ecdsa;
pub mod ed25519;
mod narrow_limbs;
pub mod p256;
pub mod p384;
pub mod rsa;

use std::fmt;

/// Why a public key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The RSA modulus is outside 2048..=4096 bits.
    ModulusSize { bits: usize },
    /// An even RSA modulus cannot be a product of two odd primes.
    EvenModulus,
    /// The RSA public exponent is even, below 3 or above 2^32.
    Exponent,
    /// The key's bytes have the wrong length or form.
    Encoding,
    /// A coordinate is not below the field prime.
    CoordinateOutOfRange,
    /// The point does not satisfy the curve equation.
    NotOnCurve,
    /// The point at infinity is not a public key.
    Identity,
    /// An Ed25519 key of small order: anyone could forge its signatures.
    WeakKey,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::ModulusSize { bits } => {
                write!(f, "RSA modulus of {bits} bits, not 2048 to 4096")
            }
            KeyError::EvenModulus => f.write_str("RSA modulus is even"),
            KeyError::Exponent => f.write_str("RSA exponent must be odd and from 3 to 2^32"),
            KeyError::Encoding => f.write_str("key has the wrong length or form"),
            KeyError::CoordinateOutOfRange => f.write_str("coordinate is not below the prime"),
            KeyError::NotOnCurve => f.write_str("point is not on the curve"),
            KeyError::Identity => f.write_str("point at infinity"),
            KeyError::WeakKey => f.write_str("Ed25519 key of small order"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The message digests JWS signatures use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    /// The digest of the concatenation of `parts`.
    pub(crate) fn digest(self, parts: &[&[u8]]) -> Digest {
        fn run<D: sha2::Digest>(parts: &[&[u8]], out: &mut [u8]) {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            out.copy_from_slice(&hasher.finalize());
        }
        let mut digest = Digest {
            bytes: [0; 64],
            len: self.output_len(),
        };
        let out = &mut digest.bytes[..self.output_len()];
        match self {
            Hash::Sha256 => run::<sha2::Sha256>(parts, out),
            Hash::Sha384 => run::<sha2::Sha384>(parts, out),
            Hash::Sha512 => run::<sha2::Sha512>(parts, out),
        }
        digest
    }
}

/// A message digest of up to 64 bytes, kept on the stack.
pub(crate) struct Digest {
    bytes: [u8; 64],
    len: usize,
}

impl Digest {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Lower-case hexadecimal, for `Debug` output of keys.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn digests_match_the_sha2_crate_over_concatenated_parts() {
        let parts: [&[u8]; 3] = [b"header", b".", b"payload"];
        assert_eq!(
            Hash::Sha256.digest(&parts).as_bytes(),
            &sha2::Sha256::digest(b"header.payload")[..]
        );
        assert_eq!(
            Hash::Sha384.digest(&parts).as_bytes(),
            &sha2::Sha384::digest(b"header.payload")[..]
        );
        assert_eq!(
            Hash::Sha512.digest(&parts).as_bytes(),
            &sha2::Sha512::digest(b"header.payload")[..]
        );
    }
}
