//! Keys given as PEM text: public keys in PKIX (`PUBLIC KEY`) or PKCS#1
//! (`RSA PUBLIC KEY`) form, and private keys in PKCS#8 (`PRIVATE KEY`),
//! PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) form, of which only
//! the public half is kept.

use std::fmt;

use der::asn1::ObjectIdentifier;
use der::Decode;

use super::material::{Curve, KeyError, PublicKey};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

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
    let (label, der) =
        pem_rfc7468::decode_vec(text.trim().as_bytes()).map_err(|_| PemError::NotPem)?;
    match label {
        "PUBLIC KEY" => from_spki(&der),
        "RSA PUBLIC KEY" => from_pkcs1_public(&der),
        "PRIVATE KEY" => from_pkcs8(&der),
        "RSA PRIVATE KEY" => from_pkcs1_private(&der),
        "EC PRIVATE KEY" => from_sec1(&der, None),
        other => Err(PemError::UnsupportedLabel(other.to_string())),
    }
}

fn from_spki(der: &[u8]) -> Result<PublicKey, PemError> {
    let info = spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| PemError::Der("SubjectPublicKeyInfo"))?;
    let key_bytes = info
        .subject_public_key
        .as_bytes()
        .ok_or(PemError::Der("SubjectPublicKeyInfo"))?;
    let (algorithm, parameter) = info
        .algorithm
        .oids()
        .map_err(|_| PemError::Der("AlgorithmIdentifier"))?;
    match algorithm {
        RSA_ENCRYPTION => from_pkcs1_public(key_bytes),
        EC_PUBLIC_KEY => Ok(PublicKey::ec(curve(parameter)?, key_bytes)?),
        ED25519 => Ok(PublicKey::ed25519(key_bytes)?),
        _ => Err(PemError::UnsupportedAlgorithm),
    }
}

fn from_pkcs1_public(der: &[u8]) -> Result<PublicKey, PemError> {
    let key = pkcs1::RsaPublicKey::from_der(der).map_err(|_| PemError::Der("RSAPublicKey"))?;
    Ok(PublicKey::rsa(
        key.modulus.as_bytes(),
        key.public_exponent.as_bytes(),
    )?)
}

fn from_pkcs1_private(der: &[u8]) -> Result<PublicKey, PemError> {
    let key = pkcs1::RsaPrivateKey::from_der(der).map_err(|_| PemError::Der("RSAPrivateKey"))?;
    Ok(PublicKey::rsa(
        key.modulus.as_bytes(),
        key.public_exponent.as_bytes(),
    )?)
}

fn from_pkcs8(der: &[u8]) -> Result<PublicKey, PemError> {
    let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|_| PemError::Der("PrivateKeyInfo"))?;
    let (algorithm, parameter) = info
        .algorithm
        .oids()
        .map_err(|_| PemError::Der("AlgorithmIdentifier"))?;
    match algorithm {
        RSA_ENCRYPTION => from_pkcs1_private(info.private_key),
        EC_PUBLIC_KEY => from_sec1(info.private_key, Some(curve(parameter)?)),
        ED25519 => match info.public_key {
            Some(public) => Ok(PublicKey::ed25519(public)?),
            None => {
                // RFC 8410 §7: the private key is an OCTET STRING inside.
                let seed = der::asn1::OctetStringRef::from_der(info.private_key)
                    .map_err(|_| PemError::Der("Ed25519 private key"))?;
                Ok(PublicKey::ed25519_from_seed(seed.as_bytes())?)
            }
        },
        _ => Err(PemError::UnsupportedAlgorithm),
    }
}

/// SEC1 `ECPrivateKey`; the curve comes from its own parameters or, inside
/// PKCS#8, from the enclosing algorithm identifier.
fn from_sec1(der: &[u8], outer_curve: Option<Curve>) -> Result<PublicKey, PemError> {
    let key = sec1::EcPrivateKey::from_der(der).map_err(|_| PemError::Der("ECPrivateKey"))?;
    let own_curve = match key.parameters.and_then(|p| p.named_curve()) {
        Some(oid) => Some(curve(Some(oid))?),
        None => None,
    };
    let curve = match (own_curve, outer_curve) {
        (Some(own), Some(outer)) if own != outer => return Err(PemError::UnsupportedCurve),
        (Some(curve), _) | (None, Some(curve)) => curve,
        (None, None) => return Err(PemError::UnsupportedCurve),
    };
    let point = key.public_key.ok_or(PemError::EcPublicKeyMissing)?;
    Ok(PublicKey::ec(curve, point)?)
}

fn curve(parameter: Option<ObjectIdentifier>) -> Result<Curve, PemError> {
    match parameter {
        Some(SECP256R1) => Ok(Curve::P256),
        Some(SECP384R1) => Ok(Curve::P384),
        _ => Err(PemError::UnsupportedCurve),
    }
}
