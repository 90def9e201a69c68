//! Signature checks, one function per key type. The caller has already made
//! sure the key fits the algorithm; a mismatch here still answers `false`.

use hmac::digest::core_api::BlockSizeUser;
use hmac::{Mac, SimpleHmac};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::Algorithm;
use crate::crypto::Hash;
use crate::keys::{Jwk, PublicKey};

/// Where signatures are checked: the portable verifiers of this crate, or
/// one the proxy offers for some algorithms.
pub trait SignatureBackend {
    fn is_valid(&self, alg: Algorithm, key: &Jwk, signing_input: &[u8], signature: &[u8]) -> bool;
}

/// The verifiers compiled into the filter; they run on any proxy-wasm host.
#[derive(Debug, Clone, Copy, Default)]
pub struct Portable;

impl SignatureBackend for Portable {
    fn is_valid(&self, alg: Algorithm, key: &Jwk, signing_input: &[u8], signature: &[u8]) -> bool {
        is_valid(alg, &key.key, signing_input, signature)
    }
}

/// Whether `signature` is a valid `alg` signature of `signing_input` by `key`.
pub fn is_valid(alg: Algorithm, key: &PublicKey, signing_input: &[u8], signature: &[u8]) -> bool {
    match (alg, key) {
        (Algorithm::Rs256, PublicKey::Rsa(key)) => {
            key.verify_pkcs1v15(Hash::Sha256, signing_input, signature)
        }
        (Algorithm::Rs384, PublicKey::Rsa(key)) => {
            key.verify_pkcs1v15(Hash::Sha384, signing_input, signature)
        }
        (Algorithm::Rs512, PublicKey::Rsa(key)) => {
            key.verify_pkcs1v15(Hash::Sha512, signing_input, signature)
        }
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
        (Algorithm::Ps256, PublicKey::Rsa(key)) => {
            key.verify_pss(Hash::Sha256, signing_input, signature)
        }
        (Algorithm::Ps384, PublicKey::Rsa(key)) => {
            key.verify_pss(Hash::Sha384, signing_input, signature)
        }
        (Algorithm::Ps512, PublicKey::Rsa(key)) => {
            key.verify_pss(Hash::Sha512, signing_input, signature)
        }
        // JWS carries r‖s (RFC 7518 §3.4).
        (Algorithm::Es256, PublicKey::P256(key)) => key.verify(signing_input, signature),
        (Algorithm::Es384, PublicKey::P384(key)) => key.verify(signing_input, signature),
        (Algorithm::EdDsa, PublicKey::Ed25519(key)) => key.verify(signing_input, signature),
        (Algorithm::Hs256, PublicKey::Hmac(secret)) => {
            hmac::<Sha256>(secret.bytes(), signing_input, signature)
        }
        (Algorithm::Hs384, PublicKey::Hmac(secret)) => {
            hmac::<Sha384>(secret.bytes(), signing_input, signature)
        }
        (Algorithm::Hs512, PublicKey::Hmac(secret)) => {
            hmac::<Sha512>(secret.bytes(), signing_input, signature)
        }
        _ => false,
    }
}

/// Compares in constant time: the expected tag depends on the secret.
fn hmac<D: Digest + BlockSizeUser>(secret: &[u8], message: &[u8], tag: &[u8]) -> bool {
    <SimpleHmac<D> as Mac>::new_from_slice(secret)
        .is_ok_and(|mac| mac.chain_update(message).verify_slice(tag).is_ok())
}
