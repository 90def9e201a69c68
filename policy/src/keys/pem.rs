//! Keys given as PEM text: public keys in PKIX (`PUBLIC KEY`) or PKCS#1
//! (`RSA PUBLIC KEY`) form, and private keys in PKCS#8 (`PRIVATE KEY`),
//! PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) form, of which only
//! the public half is kept.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::der::{self, DerError, Reader};
use super::material::{Curve, KeyError, PublicKey};

// Object identifiers, as their DER contents.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const SECP256R1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// RFC 7468 text: standard base64, padding as written.
const PEM_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a PEM key was not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    NotPem,
    UnsupportedLabel(String),
    Der(&'static str),
    UnsupportedAlgorithm,
    UnsupportedCurve,
    EcPublicKeyMissing,
    Key(KeyError),
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::NotPem => f.write_str("not a PEM document (RFC 7468)"),
            PemError::UnsupportedLabel(label) => write!(
                f,
                "unsupported PEM type {label:?}; expected PUBLIC KEY, RSA PUBLIC KEY, \
                 PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
            ),
            PemError::Der(what) => write!(f, "malformed {what}"),
            PemError::UnsupportedAlgorithm => {
                f.write_str("key algorithm is not RSA, EC (P-256, P-384) or Ed25519")
            }
            PemError::UnsupportedCurve => f.write_str("EC curve is not P-256 or P-384"),
            PemError::EcPublicKeyMissing => {
                f.write_str("EC private key does not carry its public key")
            }
            PemError::Key(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PemError {}

impl From<KeyError> for PemError {
    fn from(error: KeyError) -> Self {
        PemError::Key(error)
    }
}

pub fn parse_pem(text: &str) -> Result<PublicKey, PemError> {
    let (label, der) = decode_pem(text)?;
    match label {
        "PUBLIC KEY" => from_spki(&der),
        "RSA PUBLIC KEY" => from_pkcs1_public(&der),
        "PRIVATE KEY" => from_pkcs8(&der),
        "RSA PRIVATE KEY" => from_pkcs1_private(&der),
        "EC PRIVATE KEY" => from_sec1(&der, None),
        other => Err(PemError::UnsupportedLabel(other.to_string())),
    }
}

/// The one `-----BEGIN <label>-----` ... `-----END <label>-----` block.
fn decode_pem(text: &str) -> Result<(&str, Vec<u8>), PemError> {
    let after_begin = text.split_once("-----BEGIN ").ok_or(PemError::NotPem)?.1;
    let (label, rest) = after_begin.split_once("-----").ok_or(PemError::NotPem)?;
    let end_line = format!("-----END {label}-----");
    let (body, after_end) = rest.split_once(&end_line).ok_or(PemError::NotPem)?;
    if after_end.contains("-----BEGIN ") || body.contains(':') {
        // Several blocks, or encrypted keys with RFC 1421 headers.
        return Err(PemError::NotPem);
    }
    let base64: String = body.split_ascii_whitespace().collect();
    let der = PEM_BASE64.decode(base64).map_err(|_| PemError::NotPem)?;
    Ok((label, der))
}

fn malformed(what: &'static str) -> impl Fn(DerError) -> PemError {
    move |_| PemError::Der(what)
}

/// `AlgorithmIdentifier`: the algorithm and, for EC keys, the curve.
type Oid<'a> = &'a [u8];

fn algorithm<'a>(reader: &mut Reader<'a>) -> Result<(Oid<'a>, Option<Oid<'a>>), DerError> {
    let mut identifier = reader.sequence()?;
    let oid = identifier.read(der::OBJECT_IDENTIFIER)?;
    let parameter = match identifier.peek_tag() {
        Some(der::OBJECT_IDENTIFIER) => Some(identifier.read(der::OBJECT_IDENTIFIER)?),
        // RSA keys carry NULL parameters.
        Some(0x05) => {
            identifier.read(0x05)?;
            None
        }
        _ => None,
    };
    identifier.finish()?;
    Ok((oid, parameter))
}

/// A key from the DER of its `SubjectPublicKeyInfo`.
pub fn from_spki(bytes: &[u8]) -> Result<PublicKey, PemError> {
    let read = || -> Result<_, DerError> {
        let mut outer = Reader::new(bytes);
        let mut info = outer.sequence()?;
        let (oid, parameter) = algorithm(&mut info)?;
        let key = info.bit_string()?;
        info.finish()?;
        outer.finish()?;
        Ok((oid, parameter, key))
    };
    let (oid, parameter, key) = read().map_err(malformed("SubjectPublicKeyInfo"))?;
    match oid {
        RSA_ENCRYPTION => from_pkcs1_public(key),
        EC_PUBLIC_KEY => Ok(PublicKey::ec(curve(parameter)?, key)?),
        ED25519 => Ok(PublicKey::ed25519(key)?),
        _ => Err(PemError::UnsupportedAlgorithm),
    }
}

fn from_pkcs1_public(bytes: &[u8]) -> Result<PublicKey, PemError> {
    let read = || -> Result<_, DerError> {
        let mut outer = Reader::new(bytes);
        let mut key = outer.sequence()?;
        let modulus = key.unsigned_integer()?;
        let exponent = key.unsigned_integer()?;
        key.finish()?;
        outer.finish()?;
        Ok((modulus, exponent))
    };
    let (modulus, exponent) = read().map_err(malformed("RSAPublicKey"))?;
    Ok(PublicKey::rsa(modulus, exponent)?)
}

/// Only the version, modulus and public exponent are read.
fn from_pkcs1_private(bytes: &[u8]) -> Result<PublicKey, PemError> {
    let read = || -> Result<_, DerError> {
        let mut key = Reader::new(bytes).sequence()?;
        key.unsigned_integer()?;
        Ok((key.unsigned_integer()?, key.unsigned_integer()?))
    };
    let (modulus, exponent) = read().map_err(malformed("RSAPrivateKey"))?;
    Ok(PublicKey::rsa(modulus, exponent)?)
}

/// PKCS#8 `PrivateKeyInfo` / RFC 5958 `OneAsymmetricKey`.
fn from_pkcs8(bytes: &[u8]) -> Result<PublicKey, PemError> {
    let read = || -> Result<_, DerError> {
        let mut info = Reader::new(bytes).sequence()?;
        info.unsigned_integer()?;
        let (oid, parameter) = algorithm(&mut info)?;
        let private_key = info.read(der::OCTET_STRING)?;
        info.optional(der::CONTEXT_0)?;
        // Version 2 may carry the public key as [1] IMPLICIT BIT STRING.
        let public_key = match info.peek_tag() {
            Some(0x81) => match info.read(0x81)? {
                [0, key @ ..] => Some(key),
                _ => return Err(DerError),
            },
            _ => None,
        };
        Ok((oid, parameter, private_key, public_key))
    };
    let (oid, parameter, private_key, public_key) = read().map_err(malformed("PrivateKeyInfo"))?;
    match oid {
        RSA_ENCRYPTION => from_pkcs1_private(private_key),
        EC_PUBLIC_KEY => from_sec1(private_key, Some(curve(parameter)?)),
        ED25519 => match public_key {
            Some(public) => Ok(PublicKey::ed25519(public)?),
            None => {
                // RFC 8410 §7: the seed is an OCTET STRING inside.
                let seed = Reader::new(private_key)
                    .read(der::OCTET_STRING)
                    .map_err(malformed("Ed25519 private key"))?;
                Ok(PublicKey::ed25519_from_seed(seed)?)
            }
        },
        _ => Err(PemError::UnsupportedAlgorithm),
    }
}

/// SEC1 `ECPrivateKey`; the curve comes from its own parameters or, inside
/// PKCS#8, from the enclosing algorithm identifier.
fn from_sec1(bytes: &[u8], outer_curve: Option<Curve>) -> Result<PublicKey, PemError> {
    let read = || -> Result<_, DerError> {
        let mut key = Reader::new(bytes).sequence()?;
        key.unsigned_integer()?;
        key.read(der::OCTET_STRING)?;
        let curve = match key.optional(der::CONTEXT_0)? {
            Some(mut parameters) => Some(parameters.read(der::OBJECT_IDENTIFIER)?),
            None => None,
        };
        let point = match key.optional(der::CONTEXT_1)? {
            Some(mut public) => Some(public.bit_string()?),
            None => None,
        };
        Ok((curve, point))
    };
    let (own_curve, point) = read().map_err(malformed("ECPrivateKey"))?;
    let own_curve = own_curve.map(|oid| curve(Some(oid))).transpose()?;
    let curve = match (own_curve, outer_curve) {
        (Some(own), Some(outer)) if own != outer => return Err(PemError::UnsupportedCurve),
        (Some(curve), _) | (None, Some(curve)) => curve,
        (None, None) => return Err(PemError::UnsupportedCurve),
    };
    let point = point.ok_or(PemError::EcPublicKeyMissing)?;
    Ok(PublicKey::ec(curve, point)?)
}

fn curve(parameter: Option<&[u8]>) -> Result<Curve, PemError> {
    match parameter {
        Some(SECP256R1) => Ok(Curve::P256),
        Some(SECP384R1) => Ok(Curve::P384),
        _ => Err(PemError::UnsupportedCurve),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [&str; 4] = [
        include_str!("../../../tests/data/token-table/rsa-private.pem"),
        include_str!("../../../tests/data/token-table/p256-private.pem"),
        include_str!("../../../tests/data/token-table/p384-private.pem"),
        include_str!("../../../tests/data/token-table/ed25519-private.pem"),
    ];

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            PEM_BASE64.encode(der)
        )
    }

    #[test]
    fn fixtures_parse() {
        for text in FIXTURES {
            parse_pem(text).unwrap();
        }
    }

    /// Truncated and corrupted key files give an error, never a panic.
    #[test]
    fn damaged_der_is_refused_without_panicking() {
        for text in FIXTURES {
            let (label, der) = decode_pem(text).unwrap();
            for cut in 0..der.len() {
                assert!(
                    parse_pem(&pem(label, &der[..cut])).is_err(),
                    "{label} cut at {cut}"
                );
            }
            for index in 0..der.len().min(64) {
                let mut flipped = der.clone();
                flipped[index] ^= 0x80;
                let _ = parse_pem(&pem(label, &flipped));
            }
        }
    }

    #[test]
    fn text_that_is_not_one_pem_block_is_refused() {
        let one = FIXTURES[1];
        assert_eq!(parse_pem("no pem here").unwrap_err(), PemError::NotPem);
        assert_eq!(
            parse_pem(&format!("{one}{one}")).unwrap_err(),
            PemError::NotPem
        );
        let encrypted = one.replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n");
        assert_eq!(parse_pem(&encrypted).unwrap_err(), PemError::NotPem);
        let mismatched = one.replace("END PRIVATE KEY", "END PUBLIC KEY");
        assert_eq!(parse_pem(&mismatched).unwrap_err(), PemError::NotPem);
    }
}
