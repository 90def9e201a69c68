//! Signature checks, one function per key type. The caller has already made
//! sure the key fits the algorithm; a mismatch here still answers `false`.

use hmac::digest::core_api::BlockSizeUser;
use hmac::{Mac, SimpleHmac};
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Verifier;

use super::Algorithm;
use crate::keys::PublicKey;

/// Whether `signature` is a valid `alg` signature of `signing_input` by `key`.
pub fn is_valid(alg: Algorithm, key: &PublicKey, signing_input: &[u8], signature: &[u8]) -> bool {
    match (alg, key) {
        (Algorithm::Rs256, PublicKey::Rsa(key)) => {
            rsa_pkcs1::<Sha256>(key, signing_input, signature)
        }
        (Algorithm::Rs384, PublicKey::Rsa(key)) => {
            rsa_pkcs1::<Sha384>(key, signing_input, signature)
        }
        (Algorithm::Rs512, PublicKey::Rsa(key)) => {
            rsa_pkcs1::<Sha512>(key, signing_input, signature)
        }
        (Algorithm::Ps256, PublicKey::Rsa(key)) => rsa_pss::<Sha256>(key, signing_input, signature),
        (Algorithm::Ps384, PublicKey::Rsa(key)) => rsa_pss::<Sha384>(key, signing_input, signature),
        (Algorithm::Ps512, PublicKey::Rsa(key)) => rsa_pss::<Sha512>(key, signing_input, signature),
        (Algorithm::Es256, PublicKey::P256(key)) => {
            // JWS carries r‖s (RFC 7518 §3.4), exactly 64 bytes for P-256.
            p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(signing_input, &signature).is_ok())
        }
        (Algorithm::Es384, PublicKey::P384(key)) => p384::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|signature| key.verify(signing_input, &signature).is_ok()),
        // Strict RFC 8032 checks: canonical S, no small-order keys or R.
        (Algorithm::EdDsa, PublicKey::Ed25519(key)) => {
            ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(signing_input, &signature).is_ok())
        }
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

fn rsa_pkcs1<D>(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool
where
    D: Digest + sha2::digest::const_oid::AssociatedOid,
{
    use rsa::traits::PublicKeyParts;
    // The signature must be exactly as long as the modulus (RFC 8017 §8.2.2).
    signature.len() == key.size()
        && key
            .verify(Pkcs1v15Sign::new::<D>(), &D::digest(message), signature)
            .is_ok()
}

fn rsa_pss<D>(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool
where
    D: 'static + Digest + sha2::digest::DynDigest + Send + Sync,
{
    use rsa::traits::PublicKeyParts;
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    signature.len() == key.size()
        && key
            .verify(Pss::new::<D>(), &D::digest(message), signature)
            .is_ok()
}

/// Compares in constant time: the expected tag depends on the secret.
fn hmac<D: Digest + BlockSizeUser>(secret: &[u8], message: &[u8], tag: &[u8]) -> bool {
    <SimpleHmac<D> as Mac>::new_from_slice(secret)
        .is_ok_and(|mac| mac.chain_update(message).verify_slice(tag).is_ok())
}
