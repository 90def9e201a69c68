//! The bytes Envoy's `verify_signature` foreign function takes and answers,
//! so that a signature can be checked by the proxy's own BoringSSL instead of
//! by code compiled into the filter.
//!
//! What Envoy 1.40 does with a call (`source/extensions/common/wasm/foreign.cc`):
//! it parses the argument as the protobuf `VerifySignatureArguments`
//! (`hash_function` = 1, `public_key` = 2, `signature` = 3, `text` = 4,
//! `public_key_pem` = 5), imports `public_key` with `EVP_parse_public_key`
//! (a DER SubjectPublicKeyInfo), and checks with `EVP_DigestVerify` under the
//! named hash (`sha1`, `sha224`, `sha256`, `sha384`, `sha512`). It answers
//! `VerifySignatureResult` (`result` = 1, `error` = 2) with status Ok, or
//! status BadArgument when the argument does not parse or carries no key (or
//! both `public_key` and `public_key_pem`). A key that does not import, an
//! unknown hash or a wrong signature all answer Ok with `result` false and
//! the reason in `error` (Envoy 1.40, checked by bench/probe); a host
//! without the function answers NotFound.
//!
//! `EVP_DigestVerify` without padding options means PKCS#1 v1.5 for RSA keys
//! and a DER `ECDSA-Sig-Value` for EC keys: RSA-PSS (PS256/384/512) cannot
//! be checked there, so those stay with the portable verifier.
//!
//! The two messages are encoded by hand: one message of four
//! length-delimited fields does not justify a protobuf crate in the `.wasm`.

use super::Algorithm;
use crate::encoding;

/// The name Envoy registers the foreign function under.
pub const VERIFY_SIGNATURE_FUNCTION: &str = "verify_signature";

/// Why the host's arguments could not be built, or its answer not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFormatError {
    /// The host verifier has no such signature scheme (RSA-PSS).
    UnsupportedAlgorithm,
    /// An ECDSA signature that is not exactly r‖s for the curve.
    SignatureLength,
    /// An ECDSA signature with r or s equal to zero: never valid.
    ZeroScalar,
    /// An EC coordinate that is not exactly the curve's field size.
    CoordinateLength,
    /// An RSA modulus or exponent that is empty or zero.
    ZeroInteger,
    /// Probe vector text that is not base64url.
    BadVector,
    /// Answer bytes that are not a `VerifySignatureResult`.
    MalformedResult,
}

/// The curves whose keys the host is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    P256,
    P384,
}

impl EcCurve {
    /// Bytes in one coordinate, and in each of r and s of a JWS signature.
    pub fn field_len(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
        }
    }

    /// DER of the namedCurve OBJECT IDENTIFIER (RFC 5480 §2.1.1.1).
    fn named_curve_oid(self) -> &'static [u8] {
        match self {
            // 1.2.840.10045.3.1.7 (prime256v1)
            EcCurve::P256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            // 1.3.132.0.34 (secp384r1)
            EcCurve::P384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        }
    }
}

/// Whether the host can check `alg` at all.
pub fn host_supports(alg: Algorithm) -> bool {
    hash_name(alg).is_ok()
}

/// The `hash_function` Envoy is given for a JWS algorithm.
pub fn hash_name(alg: Algorithm) -> Result<&'static str, HostFormatError> {
    match alg {
        Algorithm::Rs256 | Algorithm::Es256 => Ok("sha256"),
        Algorithm::Rs384 | Algorithm::Es384 => Ok("sha384"),
        Algorithm::Rs512 => Ok("sha512"),
        // Envoy's function does PKCS#1 v1.5 and ECDSA only.
        Algorithm::Ps256
        | Algorithm::Ps384
        | Algorithm::Ps512
        | Algorithm::EdDsa
        | Algorithm::Hs256
        | Algorithm::Hs384
        | Algorithm::Hs512 => Err(HostFormatError::UnsupportedAlgorithm),
    }
}

/// The signature as the host wants it: RSA signatures as they are, ECDSA
/// ones turned from JWS r‖s (RFC 7518 §3.4) into DER.
pub fn host_signature(alg: Algorithm, jws_signature: &[u8]) -> Result<Vec<u8>, HostFormatError> {
    match alg {
        Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 => Ok(jws_signature.to_vec()),
        Algorithm::Es256 => ecdsa_der_signature(EcCurve::P256, jws_signature),
        Algorithm::Es384 => ecdsa_der_signature(EcCurve::P384, jws_signature),
        _ => Err(HostFormatError::UnsupportedAlgorithm),
    }
}

/// `SEQUENCE { INTEGER r, INTEGER s }` from a JWS r‖s signature.
pub fn ecdsa_der_signature(
    curve: EcCurve,
    jws_signature: &[u8],
) -> Result<Vec<u8>, HostFormatError> {
    let half = curve.field_len();
    if jws_signature.len() != 2 * half {
        return Err(HostFormatError::SignatureLength);
    }
    let (r, s) = jws_signature.split_at(half);
    if is_zero(r) || is_zero(s) {
        return Err(HostFormatError::ZeroScalar);
    }
    let mut integers = Vec::with_capacity(2 * half + 6);
    der_unsigned_integer(r, &mut integers);
    der_unsigned_integer(s, &mut integers);
    Ok(der_tlv(TAG_SEQUENCE, &integers))
}

/// SubjectPublicKeyInfo of an RSA key (RFC 3279 §2.3.1) from the big-endian
/// modulus and exponent, as a JWK's `n` and `e` hold them.
pub fn rsa_spki_der(modulus: &[u8], exponent: &[u8]) -> Result<Vec<u8>, HostFormatError> {
    if is_zero(modulus) || is_zero(exponent) {
        return Err(HostFormatError::ZeroInteger);
    }
    let mut integers = Vec::with_capacity(modulus.len() + exponent.len() + 12);
    der_unsigned_integer(modulus, &mut integers);
    der_unsigned_integer(exponent, &mut integers);
    let rsa_public_key = der_tlv(TAG_SEQUENCE, &integers);
    Ok(spki(RSA_ENCRYPTION_ALGORITHM, &rsa_public_key))
}

/// SubjectPublicKeyInfo of an EC key (RFC 5480) from the big-endian affine
/// coordinates, as a JWK's `x` and `y` hold them. Whether the point is on
/// the curve is for the host to check; it refuses the key otherwise.
pub fn ec_spki_der(curve: EcCurve, x: &[u8], y: &[u8]) -> Result<Vec<u8>, HostFormatError> {
    let len = curve.field_len();
    if x.len() != len || y.len() != len {
        return Err(HostFormatError::CoordinateLength);
    }
    let mut algorithm = Vec::with_capacity(24);
    algorithm.extend_from_slice(EC_PUBLIC_KEY_OID);
    algorithm.extend_from_slice(curve.named_curve_oid());
    let algorithm = der_tlv(TAG_SEQUENCE, &algorithm);
    // SEC 1 §2.3.3 uncompressed point.
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(spki(&algorithm, &point))
}

/// The protobuf `VerifySignatureArguments` with the key as DER.
pub fn verify_signature_arguments(
    hash_function: &str,
    public_key_der: &[u8],
    signature: &[u8],
    text: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(
        hash_function.len() + public_key_der.len() + signature.len() + text.len() + 16,
    );
    proto_bytes_field(1, hash_function.as_bytes(), &mut message);
    proto_bytes_field(2, public_key_der, &mut message);
    proto_bytes_field(3, signature, &mut message);
    proto_bytes_field(4, text, &mut message);
    message
}

/// The `result` of a `VerifySignatureResult`. Absent means false, as in
/// proto3; fields this filter does not read (the error text) are skipped.
pub fn verify_signature_result(answer: &[u8]) -> Result<bool, HostFormatError> {
    let mut reader = ProtoReader { rest: answer };
    let mut valid = false;
    while !reader.rest.is_empty() {
        let (field, wire_type) = reader.field_key()?;
        match (field, wire_type) {
            (1, WIRE_VARINT) => valid = reader.varint()? != 0,
            (_, WIRE_VARINT) => {
                reader.varint()?;
            }
            (_, WIRE_LEN) => {
                let len = reader.varint()?;
                reader.skip(len)?;
            }
            (_, WIRE_FIXED64) => reader.skip(8)?,
            (_, WIRE_FIXED32) => reader.skip(4)?,
            _ => return Err(HostFormatError::MalformedResult),
        }
    }
    Ok(valid)
}

/// A known answer the host must reproduce before it is trusted: a genuine
/// signature that must verify and, with one bit flipped, must not.
pub struct ProbeVector {
    pub alg: Algorithm,
    pub key: ProbeKey,
    pub message: &'static [u8],
    /// base64url of the JWS signature.
    pub signature: &'static str,
}

/// A probe key's public numbers, base64url as in a JWK.
pub enum ProbeKey {
    Rsa {
        n: &'static str,
        e: &'static str,
    },
    Ec {
        curve: EcCurve,
        x: &'static str,
        y: &'static str,
    },
}

impl ProbeVector {
    pub fn key_der(&self) -> Result<Vec<u8>, HostFormatError> {
        match self.key {
            ProbeKey::Rsa { n, e } => rsa_spki_der(&decode(n)?, &decode(e)?),
            ProbeKey::Ec { curve, x, y } => ec_spki_der(curve, &decode(x)?, &decode(y)?),
        }
    }

    pub fn genuine_signature(&self) -> Result<Vec<u8>, HostFormatError> {
        decode(self.signature)
    }

    /// The genuine signature with the lowest bit of its last byte flipped.
    pub fn tampered_signature(&self) -> Result<Vec<u8>, HostFormatError> {
        let mut signature = decode(self.signature)?;
        if let Some(last) = signature.last_mut() {
            *last ^= 1;
        }
        Ok(signature)
    }
}

/// Signed by throwaway keys made for this purpose. The ES256 `r` has its high
/// bit set, so the DER leading-zero rule is part of what the host confirms.
pub const PROBE_VECTORS: [ProbeVector; 2] = [
    ProbeVector {
        alg: Algorithm::Rs256,
        key: ProbeKey::Rsa {
            n: "otEs0x_P3NIl7XSlWyBxlrtwiPWqg0ZnGQ9AyQyp2sMfKFpP24h-gkXya2VMbjlu0zjk_xxjdFVBYmDK2-FUjE8mmgkH1X2EGd7zaf0FcwkVgUmUkAORKtimk22G-k-xMZn_EKhLl0u1gc0IYFqxINI47OlJlh2X-Vu16gPOgBT1iTQW5fJ_2FR4OOEDzhPM4qGfS5XpH4MnWOVOvJc3gBF0fqKRfqXe9pcWfiWzPqfjyMOf_veTFN9ojD4TClaqkEobJCrTUDYV-xOh5Ct1WrdrAiZVhkBTVMrT2MsinNwvi-0wR0SutKxDORK_RNgoqekPNijpQ06NAxDqcdjnRw",
            e: "AQAB",
        },
        message: b"tenantgate host signature probe",
        signature: "mwUNYMw_DcG-tsg_A-l1oEodvMl56oCrR15vOezgWwpZ1gY9yZYwE-PRn1N3XOX7rkH07k-NZcfw-pmipAAYE5ZYG4NmZpfDYc6NZXD5WnzeHyyZgMNsl1A02YrhgwoekWGcIJ4MgT3sqK_izBFxLkCbusvxkBcvYMzY4Sv5EOpz9bgYAfxq20axVB0OgutVBCixvbH7XefMD9Meneiiqogod8VPrOgeEpWyiultHbskU9bXvsn8CyFLMszeFRxJSq0z2DmTHfBFAhUQIAJ94sBL4CEy2C064WJBEYAPvWg4wzZZ8ip2ro14886o4dgZfKLjmr3gjhINR365cFgDJg",
    },
    ProbeVector {
        alg: Algorithm::Es256,
        key: ProbeKey::Ec {
            curve: EcCurve::P256,
            x: "Yn7cGzaP2qHrsf5-_jldYh9aU0ufTNV2nURGf8HxujQ",
            y: "E7uu8-8mSp1pxuSeXQC97_tFNwXc5sKA0ieSX9teI7k",
        },
        message: b"tenantgate host signature probe",
        signature: "8C1G39aix8VWueX2kf1MB6pPfg1s-JGRxkshBF3us1xG7T5DahGE8ttj7aDNZeD7lgLwb4Foa4ahV9t1Kp6f1A",
    },
];

fn decode(text: &str) -> Result<Vec<u8>, HostFormatError> {
    encoding::decode_strict(text).map_err(|_| HostFormatError::BadVector)
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_SEQUENCE: u8 = 0x30;

/// `SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption), NULL }`.
const RSA_ENCRYPTION_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// OID 1.2.840.10045.2.1 (id-ecPublicKey).
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&byte| byte == 0)
}

/// `SEQUENCE { algorithm, BIT STRING key }` with no unused bits.
fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0x00);
    bits.extend_from_slice(key);
    let mut body = Vec::with_capacity(algorithm.len() + bits.len() + 5);
    body.extend_from_slice(algorithm);
    der_append_tlv(TAG_BIT_STRING, &bits, &mut body);
    der_tlv(TAG_SEQUENCE, &body)
}

/// A non-negative INTEGER in minimal form: leading zero bytes dropped, one
/// zero byte put back when the high bit would otherwise read as a sign.
fn der_unsigned_integer(big_endian: &[u8], out: &mut Vec<u8>) {
    let first = big_endian.iter().position(|&byte| byte != 0);
    let digits = first.map_or(&[0u8][..], |first| &big_endian[first..]);
    let needs_sign_byte = digits[0] & 0x80 != 0;
    out.push(TAG_INTEGER);
    der_append_length(digits.len() + usize::from(needs_sign_byte), out);
    if needs_sign_byte {
        out.push(0x00);
    }
    out.extend_from_slice(digits);
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    der_append_tlv(tag, content, &mut out);
    out
}

fn der_append_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    der_append_length(content.len(), out);
    out.extend_from_slice(content);
}

/// Short form below 128, else the long form with as few bytes as possible.
fn der_append_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let first = bytes.iter().position(|&byte| byte != 0).unwrap_or(7);
    out.push(0x80 | (bytes.len() - first) as u8);
    out.extend_from_slice(&bytes[first..]);
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

fn proto_bytes_field(field: u32, value: &[u8], out: &mut Vec<u8>) {
    proto_varint(u64::from(field) << 3 | u64::from(WIRE_LEN), out);
    proto_varint(value.len() as u64, out);
    out.extend_from_slice(value);
}

fn proto_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct ProtoReader<'a> {
    rest: &'a [u8],
}

impl ProtoReader<'_> {
    fn field_key(&mut self) -> Result<(u64, u8), HostFormatError> {
        let key = self.varint()?;
        Ok((key >> 3, (key & 0x07) as u8))
    }

    /// At most ten bytes, as a 64-bit varint never needs more.
    fn varint(&mut self) -> Result<u64, HostFormatError> {
        let mut value = 0u64;
        for (index, &byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[index + 1..];
                return Ok(value);
            }
        }
        Err(HostFormatError::MalformedResult)
    }

    fn skip(&mut self, len: u64) -> Result<(), HostFormatError> {
        let len = usize::try_from(len).map_err(|_| HostFormatError::MalformedResult)?;
        if len > self.rest.len() {
            return Err(HostFormatError::MalformedResult);
        }
        self.rest = &self.rest[len..];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
    use rsa::traits::PublicKeyParts;
    use rsa::RsaPublicKey;

    fn rsa_key(bits: usize) -> RsaPublicKey {
        let mut rng = rand::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, bits).expect("test key generation");
        RsaPublicKey::from(&private)
    }

    #[test]
    fn rsa_spki_is_what_rustcrypto_writes() {
        for bits in [1024, 2048] {
            let key = rsa_key(bits);
            let ours = rsa_spki_der(&key.n().to_bytes_be(), &key.e().to_bytes_be()).unwrap();
            let theirs = key.to_public_key_der().unwrap();
            assert_eq!(ours, theirs.as_bytes(), "{bits}-bit key");
            assert_eq!(RsaPublicKey::from_public_key_der(&ours).unwrap(), key);
        }
    }

    #[test]
    fn rsa_spki_ignores_leading_zero_bytes_of_jwk_numbers() {
        let key = rsa_key(1024);
        let mut padded_n = vec![0, 0];
        padded_n.extend_from_slice(&key.n().to_bytes_be());
        let ours = rsa_spki_der(&padded_n, &[0, 1, 0, 1]).unwrap();
        assert_eq!(RsaPublicKey::from_public_key_der(&ours).unwrap(), key);
    }

    #[test]
    fn rsa_spki_refuses_zero_numbers() {
        assert_eq!(
            rsa_spki_der(&[], &[1, 0, 1]),
            Err(HostFormatError::ZeroInteger)
        );
        assert_eq!(
            rsa_spki_der(&[0, 0], &[1, 0, 1]),
            Err(HostFormatError::ZeroInteger)
        );
        assert_eq!(
            rsa_spki_der(&[0xc5; 256], &[0]),
            Err(HostFormatError::ZeroInteger)
        );
    }

    #[test]
    fn p256_spki_is_what_rustcrypto_writes() {
        let secret = p256::SecretKey::random(&mut rand::thread_rng());
        let public = secret.public_key();
        let point = p256::EncodedPoint::from(public);
        let ours = ec_spki_der(EcCurve::P256, point.x().unwrap(), point.y().unwrap()).unwrap();
        assert_eq!(ours, public.to_public_key_der().unwrap().as_bytes());
        assert_eq!(p256::PublicKey::from_public_key_der(&ours).unwrap(), public);
    }

    #[test]
    fn p384_spki_is_what_rustcrypto_writes() {
        use p384::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
        let secret = p384::SecretKey::random(&mut rand::thread_rng());
        let public = secret.public_key();
        let point = p384::EncodedPoint::from(public);
        let ours = ec_spki_der(EcCurve::P384, point.x().unwrap(), point.y().unwrap()).unwrap();
        assert_eq!(ours, public.to_public_key_der().unwrap().as_bytes());
        assert_eq!(p384::PublicKey::from_public_key_der(&ours).unwrap(), public);
    }

    #[test]
    fn ec_spki_refuses_coordinates_of_the_wrong_size() {
        assert_eq!(
            ec_spki_der(EcCurve::P256, &[1; 31], &[1; 32]),
            Err(HostFormatError::CoordinateLength)
        );
        assert_eq!(
            ec_spki_der(EcCurve::P384, &[1; 32], &[1; 32]),
            Err(HostFormatError::CoordinateLength)
        );
    }

    #[test]
    fn ecdsa_der_matches_rustcrypto_for_random_signatures() {
        use p256::ecdsa::{signature::Signer, Signature, SigningKey};
        let key = SigningKey::random(&mut rand::thread_rng());
        for index in 0..64u32 {
            let signature: Signature = key.sign(&index.to_be_bytes());
            let ours = ecdsa_der_signature(EcCurve::P256, &signature.to_bytes()).unwrap();
            assert_eq!(ours, signature.to_der().as_bytes());
        }
    }

    #[test]
    fn ecdsa_der_adds_a_zero_byte_under_a_high_bit_and_drops_leading_zeros() {
        let mut raw = [0u8; 64];
        raw[0] = 0x80; // r = 0x80 << 248: sign byte needed
        raw[63] = 0x01; // s = 1: 31 leading zero bytes dropped
        let der = ecdsa_der_signature(EcCurve::P256, &raw).unwrap();
        let mut expected = vec![0x30, 0x26, 0x02, 0x21, 0x00, 0x80];
        expected.extend_from_slice(&[0; 31]);
        expected.extend_from_slice(&[0x02, 0x01, 0x01]);
        assert_eq!(der, expected);
    }

    #[test]
    fn ecdsa_der_of_a_p384_signature_uses_the_long_length_form() {
        let raw = [0xffu8; 96];
        let der = ecdsa_der_signature(EcCurve::P384, &raw).unwrap();
        // 2 × (tag, length, sign byte, 48 digits) = 102 content bytes.
        assert_eq!(&der[..2], &[0x30, 0x66]);
        assert_eq!(der.len(), 104);
        let long = vec![0x01u8; 200];
        let mut out = Vec::new();
        der_append_tlv(TAG_SEQUENCE, &long, &mut out);
        assert_eq!(&out[..3], &[0x30, 0x81, 200]);
    }

    #[test]
    fn ecdsa_der_refuses_zero_scalars_and_wrong_lengths() {
        let mut raw = [0x11u8; 64];
        raw[..32].fill(0);
        assert_eq!(
            ecdsa_der_signature(EcCurve::P256, &raw),
            Err(HostFormatError::ZeroScalar)
        );
        let mut raw = [0x11u8; 64];
        raw[32..].fill(0);
        assert_eq!(
            ecdsa_der_signature(EcCurve::P256, &raw),
            Err(HostFormatError::ZeroScalar)
        );
        assert_eq!(
            ecdsa_der_signature(EcCurve::P256, &[0x11; 63]),
            Err(HostFormatError::SignatureLength)
        );
        assert_eq!(
            host_signature(Algorithm::Es384, &[0x11; 64]),
            Err(HostFormatError::SignatureLength)
        );
    }

    #[test]
    fn host_is_given_rsa_signatures_unchanged_and_no_pss() {
        assert_eq!(
            host_signature(Algorithm::Rs256, &[7, 8, 9]),
            Ok(vec![7, 8, 9])
        );
        for alg in [Algorithm::Ps256, Algorithm::Ps384, Algorithm::Ps512] {
            assert!(!host_supports(alg));
            assert_eq!(
                host_signature(alg, &[1; 256]),
                Err(HostFormatError::UnsupportedAlgorithm)
            );
        }
    }

    #[test]
    fn hash_names_are_the_ones_envoy_knows() {
        let expected = [
            (Algorithm::Rs256, "sha256"),
            (Algorithm::Rs384, "sha384"),
            (Algorithm::Rs512, "sha512"),
            (Algorithm::Es256, "sha256"),
            (Algorithm::Es384, "sha384"),
        ];
        for (alg, name) in expected {
            assert_eq!(hash_name(alg), Ok(name));
            assert!(host_supports(alg));
        }
    }

    #[test]
    fn arguments_are_a_protobuf_with_fields_in_order() {
        let key = vec![0xabu8; 300]; // length needs a two-byte varint
        let encoded = verify_signature_arguments("sha256", &key, &[1, 2], b"text");
        let mut expected = vec![0x0a, 6];
        expected.extend_from_slice(b"sha256");
        expected.extend_from_slice(&[0x12, 0xac, 0x02]);
        expected.extend_from_slice(&key);
        expected.extend_from_slice(&[0x1a, 2, 1, 2, 0x22, 4]);
        expected.extend_from_slice(b"text");
        assert_eq!(encoded, expected);
    }

    #[test]
    fn result_is_read_as_proto3() {
        assert_eq!(verify_signature_result(&[0x08, 0x01]), Ok(true));
        assert_eq!(verify_signature_result(&[0x08, 0x01, 0x12, 0x00]), Ok(true));
        let failed = [&[0x12, 0x05][..], b"nope!"].concat();
        assert_eq!(verify_signature_result(&failed), Ok(false));
        assert_eq!(verify_signature_result(&[]), Ok(false));
        // A later occurrence of a field wins.
        assert_eq!(
            verify_signature_result(&[0x08, 0x01, 0x08, 0x00]),
            Ok(false)
        );
        // Unknown fields of every wire type are skipped.
        let unknown = [
            0x18, 0x05, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0x2d, 0, 0, 0, 0, 0x08, 0x01,
        ];
        assert_eq!(verify_signature_result(&unknown), Ok(true));
    }

    #[test]
    fn truncated_or_odd_results_are_errors_not_answers() {
        for answer in [
            &[0x08][..],
            &[0x12, 0x05, b'n'],
            &[0x0b],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ] {
            assert_eq!(
                verify_signature_result(answer),
                Err(HostFormatError::MalformedResult),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn probe_vectors_verify_with_the_portable_verifier_and_tampered_ones_do_not() {
        use crate::keys::pem::from_spki;
        use crate::verify::signature::is_valid;
        for vector in &PROBE_VECTORS {
            let key = from_spki(&vector.key_der().unwrap()).unwrap();
            let genuine = vector.genuine_signature().unwrap();
            let tampered = vector.tampered_signature().unwrap();
            assert!(
                is_valid(vector.alg, &key, vector.message, &genuine),
                "{:?}",
                vector.alg
            );
            assert!(
                !is_valid(vector.alg, &key, vector.message, &tampered),
                "{:?}",
                vector.alg
            );
        }
    }

    #[test]
    fn probe_es256_signature_in_der_is_what_the_signer_wrote() {
        // The DER form the signing library itself produced for this signature.
        let from_signer = "3045022100f02d46dfd6a2c7c556b9e5f691fd4c07aa4f7e0d6cf89191c64b21045deeb35c022046ed3e436a1184f2db63eda0cd65e0fb9602f06f81686b86a157db752a9e9fd4";
        let vector = &PROBE_VECTORS[1];
        let der = host_signature(vector.alg, &vector.genuine_signature().unwrap()).unwrap();
        let hex: String = der.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, from_signer);
    }
}
