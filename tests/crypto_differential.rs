//! `tenantgate::crypto` agrees with the RustCrypto crates (`rsa`, `p256`,
//! `p384`, `ed25519-dalek`) on random keys, messages and signatures: valid
//! ones, and ones with a flipped bit, cut short, padded, or with values set
//! to 0, 1, n-1, n, n+1, p and so on. Above all, nothing the reference
//! refuses may verify here.
//!
//! `PROPTEST_CASES` sets the number of cases per property (default below);
//! `make crypto-long` runs many more with optimisation on.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::Config;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPrivateKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::{Signer, Verifier};
use tenantgate::crypto::{self, Hash};

const DEFAULT_CASES: u32 = 64;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// What to do to a signature before it is checked.
#[derive(Debug, Clone)]
enum Tamper {
    Keep,
    FlipBit(usize),
    Truncate(usize),
    PrependZero,
    AppendZero,
    /// Replace the whole value (RSA) or one half (ECDSA) by a special value.
    Special(Special, bool),
    /// ECDSA: `(r, n - s)`, the other valid signature.
    NegateS,
    SwapHalves,
    Random(Vec<u8>),
}

#[derive(Debug, Clone, Copy)]
enum Special {
    Zero,
    One,
    OrderMinusOne,
    Order,
    OrderPlusOne,
    Prime,
    PrimeMinusOne,
    AllOnes,
}

fn tamper_strategy() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        3 => Just(Tamper::Keep),
        3 => any::<usize>().prop_map(Tamper::FlipBit),
        1 => (1usize..8).prop_map(Tamper::Truncate),
        1 => Just(Tamper::PrependZero),
        1 => Just(Tamper::AppendZero),
        2 => (special_strategy(), any::<bool>()).prop_map(|(special, first)| Tamper::Special(special, first)),
        1 => Just(Tamper::NegateS),
        1 => Just(Tamper::SwapHalves),
        1 => proptest::collection::vec(any::<u8>(), 0..600).prop_map(Tamper::Random),
    ]
}

fn special_strategy() -> impl Strategy<Value = Special> {
    prop_oneof![
        Just(Special::Zero),
        Just(Special::One),
        Just(Special::OrderMinusOne),
        Just(Special::Order),
        Just(Special::OrderPlusOne),
        Just(Special::Prime),
        Just(Special::PrimeMinusOne),
        Just(Special::AllOnes),
    ]
}

/// `value` as exactly `len` big-endian bytes (the low bytes if longer).
fn fixed_bytes(value: &BigUint, len: usize) -> Vec<u8> {
    let bytes = value.to_bytes_be();
    let mut out = vec![0u8; len.saturating_sub(bytes.len())];
    out.extend_from_slice(&bytes[bytes.len().saturating_sub(len)..]);
    out
}

/// The value `special` names, for a group of `order` over a field `prime`
/// (RSA: both the modulus).
fn special_value(special: Special, order: &BigUint, prime: &BigUint, len: usize) -> Vec<u8> {
    let one = BigUint::from(1u32);
    let value = match special {
        Special::Zero => BigUint::from(0u32),
        Special::One => one,
        Special::OrderMinusOne => order - &one,
        Special::Order => order.clone(),
        Special::OrderPlusOne => order + &one,
        Special::Prime => prime.clone(),
        Special::PrimeMinusOne => prime - &one,
        Special::AllOnes => return vec![0xff; len],
    };
    fixed_bytes(&value, len)
}

/// Applies `tamper` to `signature`; `halves` is the ECDSA scalar length
/// (0 for RSA, whose signature is one value).
fn apply(
    tamper: &Tamper,
    signature: &[u8],
    order: &BigUint,
    prime: &BigUint,
    halves: usize,
) -> Vec<u8> {
    let mut out = signature.to_vec();
    match tamper {
        Tamper::Keep => {}
        Tamper::FlipBit(bit) => {
            let bit = bit % (8 * out.len());
            out[bit / 8] ^= 1 << (bit % 8);
        }
        Tamper::Truncate(count) => out.truncate(out.len().saturating_sub(*count)),
        Tamper::PrependZero => out.insert(0, 0),
        Tamper::AppendZero => out.push(0),
        Tamper::Special(special, first) => {
            if halves == 0 {
                out = special_value(*special, order, prime, out.len());
            } else {
                let value = special_value(*special, order, prime, halves);
                let start = if *first { 0 } else { halves };
                out[start..start + halves].copy_from_slice(&value);
            }
        }
        Tamper::NegateS => {
            if halves > 0 {
                let s = BigUint::from_bytes_be(&out[halves..]);
                let negated = if s == BigUint::from(0u32) {
                    s
                } else {
                    order - s
                };
                out[halves..].copy_from_slice(&fixed_bytes(&negated, halves));
            }
        }
        Tamper::SwapHalves => {
            let middle = if halves > 0 { halves } else { out.len() / 2 };
            out.rotate_left(middle);
        }
        Tamper::Random(bytes) => {
            // Random bytes of the right length, most of the time.
            out = bytes.clone();
            if !bytes.is_empty() && bytes[0] % 4 != 0 {
                out.resize(signature.len(), 0x5a);
            }
        }
    }
    out
}

// ---------------------------------------------------------------- RSA

struct RsaCase {
    private: RsaPrivateKey,
    ours: crypto::rsa::RsaPublicKey,
}

/// A few keys, made once: odd sizes reach the PSS case where the encoded
/// message is one byte shorter than the modulus; e = 3 takes another path
/// through the exponentiation.
fn rsa_keys() -> &'static [RsaCase] {
    static KEYS: OnceLock<Vec<RsaCase>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0x7e57);
        [(2048, 65537u32), (2049, 65537), (2055, 3)]
            .into_iter()
            .map(|(bits, e)| {
                let private = RsaPrivateKey::new_with_exp(&mut rng, bits, &BigUint::from(e))
                    .expect("key generation");
                let public = private.to_public_key();
                let ours = crypto::rsa::RsaPublicKey::from_be_bytes(
                    &public.n().to_bytes_be(),
                    &public.e().to_bytes_be(),
                )
                .expect("our key");
                RsaCase { private, ours }
            })
            .collect()
    })
}

fn hash_strategy() -> impl Strategy<Value = Hash> {
    prop_oneof![Just(Hash::Sha256), Just(Hash::Sha384), Just(Hash::Sha512)]
}

fn digest(hash: Hash, message: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha256 => Sha256::digest(message).to_vec(),
        Hash::Sha384 => Sha384::digest(message).to_vec(),
        Hash::Sha512 => Sha512::digest(message).to_vec(),
    }
}

fn pkcs1_scheme(hash: Hash) -> Pkcs1v15Sign {
    match hash {
        Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
        Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    }
}

fn pss_scheme(hash: Hash, salt_len: Option<usize>) -> Pss {
    match (hash, salt_len) {
        (Hash::Sha256, None) => Pss::new::<Sha256>(),
        (Hash::Sha384, None) => Pss::new::<Sha384>(),
        (Hash::Sha512, None) => Pss::new::<Sha512>(),
        (Hash::Sha256, Some(len)) => Pss::new_with_salt::<Sha256>(len),
        (Hash::Sha384, Some(len)) => Pss::new_with_salt::<Sha384>(len),
        (Hash::Sha512, Some(len)) => Pss::new_with_salt::<Sha512>(len),
    }
}

fn rsa_special_bounds(case: &RsaCase) -> BigUint {
    case.private.to_public_key().n().clone()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn rsa_pkcs1v15_agrees(
        key in 0usize..3,
        hash in hash_strategy(),
        message in proptest::collection::vec(any::<u8>(), 0..200),
        signed_hash in hash_strategy(),
        tamper in tamper_strategy(),
    ) {
        let case = &rsa_keys()[key];
        let public = case.private.to_public_key();
        // Sometimes signed with another hash: the DigestInfo must not match.
        let signature = case
            .private
            .sign(pkcs1_scheme(signed_hash), &digest(signed_hash, &message))
            .expect("sign");
        let n = rsa_special_bounds(case);
        let signature = apply(&tamper, &signature, &n, &n, 0);
        let reference = signature.len() == public.size()
            && public
                .verify(pkcs1_scheme(hash), &digest(hash, &message), &signature)
                .is_ok();
        let ours = case.ours.verify_pkcs1v15(hash, &message, &signature);
        prop_assert_eq!(ours, reference);
        if matches!(tamper, Tamper::Keep) && hash == signed_hash {
            prop_assert!(ours, "an untouched signature verifies");
        }
    }

    #[test]
    fn rsa_pss_agrees(
        key in 0usize..3,
        hash in hash_strategy(),
        message in proptest::collection::vec(any::<u8>(), 0..200),
        other_salt in proptest::option::weighted(0.2, 0usize..80),
        tamper in tamper_strategy(),
    ) {
        let case = &rsa_keys()[key];
        let public = case.private.to_public_key();
        let mut rng = StdRng::seed_from_u64(message.len() as u64);
        let signature = case
            .private
            .sign_with_rng(&mut rng, pss_scheme(hash, other_salt), &digest(hash, &message))
            .expect("sign");
        let n = rsa_special_bounds(case);
        let signature = apply(&tamper, &signature, &n, &n, 0);
        // JWS fixes the salt length to the digest length (RFC 7518 §3.5).
        let reference = signature.len() == public.size()
            && public
                .verify(pss_scheme(hash, Some(hash.output_len())), &digest(hash, &message), &signature)
                .is_ok();
        let ours = case.ours.verify_pss(hash, &message, &signature);
        prop_assert_eq!(ours, reference);
        if matches!(tamper, Tamper::Keep) && other_salt.is_none_or(|len| len == hash.output_len()) {
            prop_assert!(ours, "an untouched signature verifies");
        }
    }
}

// ---------------------------------------------------------------- ECDSA

fn hex_number(hex: &str) -> BigUint {
    BigUint::parse_bytes(hex.as_bytes(), 16).expect("hex")
}

fn p256_order() -> BigUint {
    hex_number("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
}

fn p256_prime() -> BigUint {
    hex_number("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
}

fn p384_order() -> BigUint {
    hex_number("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973")
}

fn p384_prime() -> BigUint {
    hex_number("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff")
}

/// Our keys for a few fixed P-256 / P-384 secrets, built once each (the
/// tables make keys dear to build in an unoptimised test build).
fn p256_keys() -> &'static [(p256::ecdsa::SigningKey, crypto::p256::PublicKey)] {
    static KEYS: OnceLock<Vec<(p256::ecdsa::SigningKey, crypto::p256::PublicKey)>> =
        OnceLock::new();
    KEYS.get_or_init(|| {
        (1u8..=4)
            .map(|seed| {
                let secret = p256::ecdsa::SigningKey::from_slice(&[seed.wrapping_mul(37); 32])
                    .expect("secret");
                let point = secret.verifying_key().to_encoded_point(false);
                let ours = crypto::p256::PublicKey::from_sec1(point.as_bytes()).expect("key");
                (secret, ours)
            })
            .collect()
    })
}

fn p384_keys() -> &'static [(p384::ecdsa::SigningKey, crypto::p384::PublicKey)] {
    static KEYS: OnceLock<Vec<(p384::ecdsa::SigningKey, crypto::p384::PublicKey)>> =
        OnceLock::new();
    KEYS.get_or_init(|| {
        (1u8..=3)
            .map(|seed| {
                let secret = p384::ecdsa::SigningKey::from_slice(&[seed.wrapping_mul(53); 48])
                    .expect("secret");
                let point = secret.verifying_key().to_encoded_point(false);
                let ours = crypto::p384::PublicKey::from_sec1(point.as_bytes()).expect("key");
                (secret, ours)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn p256_agrees(
        key in 0usize..4,
        verifier in 0usize..4,
        message in proptest::collection::vec(any::<u8>(), 0..200),
        tamper in tamper_strategy(),
    ) {
        let (secret, _) = &p256_keys()[key];
        let (other, ours) = &p256_keys()[verifier];
        let signature: p256::ecdsa::Signature = secret.sign(&message);
        let signature = apply(&tamper, &signature.to_bytes(), &p256_order(), &p256_prime(), 32);
        let reference = p256::ecdsa::Signature::from_slice(&signature)
            .is_ok_and(|signature| other.verifying_key().verify(&message, &signature).is_ok());
        let accepted = ours.verify(&message, &signature);
        prop_assert_eq!(accepted, reference);
        if key == verifier && matches!(tamper, Tamper::Keep | Tamper::NegateS) {
            prop_assert!(accepted, "an untouched signature verifies");
        }
    }

    #[test]
    fn p384_agrees(
        key in 0usize..3,
        verifier in 0usize..3,
        message in proptest::collection::vec(any::<u8>(), 0..200),
        tamper in tamper_strategy(),
    ) {
        let (secret, _) = &p384_keys()[key];
        let (other, ours) = &p384_keys()[verifier];
        let signature: p384::ecdsa::Signature = secret.sign(&message);
        let signature = apply(&tamper, &signature.to_bytes(), &p384_order(), &p384_prime(), 48);
        let reference = p384::ecdsa::Signature::from_slice(&signature)
            .is_ok_and(|signature| other.verifying_key().verify(&message, &signature).is_ok());
        let accepted = ours.verify(&message, &signature);
        prop_assert_eq!(accepted, reference);
        if key == verifier && matches!(tamper, Tamper::Keep | Tamper::NegateS) {
            prop_assert!(accepted, "an untouched signature verifies");
        }
    }

    #[test]
    fn p256_point_parsing_agrees(
        bytes in proptest::collection::vec(any::<u8>(), 0..100),
        key in 0usize..4,
        form in 0u8..4,
        coordinate_bits in any::<usize>(),
    ) {
        // Random bytes (nearly always refused), or a real key in either
        // form, possibly with a flipped coordinate bit.
        let encoded = match form {
            0 => bytes,
            _ => {
                let public = p256_keys()[key].0.verifying_key().to_encoded_point(form == 1);
                let mut encoded = public.as_bytes().to_vec();
                if form == 3 {
                    let bit = coordinate_bits % (8 * (encoded.len() - 1));
                    encoded[1 + bit / 8] ^= 1 << (bit % 8);
                }
                encoded
            }
        };
        let reference = p256::ecdsa::VerifyingKey::from_sec1_bytes(&encoded).ok();
        let ours = crypto::p256::PublicKey::from_sec1(&encoded).ok();
        prop_assert_eq!(
            ours.map(|key| key.to_sec1_uncompressed()),
            reference.map(|key| key.to_encoded_point(false).as_bytes().to_vec())
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn p384_point_parsing_agrees(
        bytes in proptest::collection::vec(any::<u8>(), 0..100),
        key in 0usize..3,
        form in 0u8..4,
        coordinate_bits in any::<usize>(),
    ) {
        let encoded = match form {
            0 => bytes,
            _ => {
                let public = p384_keys()[key].0.verifying_key().to_encoded_point(form == 1);
                let mut encoded = public.as_bytes().to_vec();
                if form == 3 {
                    let bit = coordinate_bits % (8 * (encoded.len() - 1));
                    encoded[1 + bit / 8] ^= 1 << (bit % 8);
                }
                encoded
            }
        };
        let reference = p384::ecdsa::VerifyingKey::from_sec1_bytes(&encoded).ok();
        let ours = crypto::p384::PublicKey::from_sec1(&encoded).ok();
        prop_assert_eq!(
            ours.map(|key| key.to_sec1_uncompressed()),
            reference.map(|key| key.to_encoded_point(false).as_bytes().to_vec())
        );
    }
}

// ---------------------------------------------------------------- Ed25519

/// Reverses the byte order of each 32-byte half (any tail stays as is).
fn reverse_halves(signature: &[u8]) -> Vec<u8> {
    let mut out = signature.to_vec();
    for half in out.chunks_exact_mut(32).take(2) {
        half.reverse();
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ed25519_agrees(
        seed in any::<[u8; 32]>(),
        message in proptest::collection::vec(any::<u8>(), 0..200),
        tamper in tamper_strategy(),
    ) {
        let secret = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = secret.verifying_key();
        let ours = crypto::ed25519::PublicKey::from_bytes(public.as_bytes()).expect("key");
        let signature = secret.sign(&message).to_bytes();
        // R and S are little-endian: tamper with each half turned around,
        // so special values are L (the group order) and p = 2^255 - 19.
        let order = hex_number("1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed");
        let prime = hex_number("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed");
        let signature = reverse_halves(&apply(&tamper, &reverse_halves(&signature), &order, &prime, 32));
        let reference = ed25519_dalek::Signature::from_slice(&signature)
            .is_ok_and(|signature| public.verify_strict(&message, &signature).is_ok());
        let accepted = ours.verify(&message, &signature);
        prop_assert_eq!(accepted, reference);
        if matches!(tamper, Tamper::Keep) {
            prop_assert!(accepted, "an untouched signature verifies");
        }
    }

    #[test]
    fn ed25519_key_parsing_agrees(bytes in proptest::collection::vec(any::<u8>(), 30..34)) {
        let reference = <[u8; 32]>::try_from(bytes.as_slice())
            .ok()
            .and_then(|array| ed25519_dalek::VerifyingKey::from_bytes(&array).ok())
            .filter(|key| !key.is_weak());
        let ours = crypto::ed25519::PublicKey::from_bytes(&bytes).ok();
        prop_assert_eq!(ours.map(|key| *key.as_bytes()), reference.map(|key| key.to_bytes()));
    }
}
