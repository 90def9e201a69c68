//! Signature checks done by Envoy itself: its `verify_signature` foreign
//! function runs BoringSSL in the host, far faster than verification code
//! compiled to wasm. The byte formats live in [`crate::verify::host_format`].
//!
//! The host is trusted only after [`probe`] has seen it accept known-good
//! signatures and refuse tampered ones; every error is a refusal, never a
//! pass.

use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;

use crate::verify::host_format::{self, HostFormatError, ProbeVector, PROBE_VECTORS};
use crate::verify::Algorithm;

/// Why the host gave no yes-or-no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSignatureError {
    /// The arguments could not be built (PS*, a malformed ECDSA signature)
    /// or the answer could not be read.
    Format(HostFormatError),
    /// The host has no `verify_signature` function (not Envoy, or too old).
    NotAvailable,
    /// The host refused the arguments, e.g. a key it cannot import.
    Refused,
    /// Any other failure reported by the host.
    HostFailure,
}

impl From<HostFormatError> for HostSignatureError {
    fn from(error: HostFormatError) -> Self {
        HostSignatureError::Format(error)
    }
}

/// Whether `signature` (as carried in the JWS: r‖s for ECDSA) is a valid
/// `alg` signature of `message` by the key whose SubjectPublicKeyInfo DER is
/// `key_der` (see `host_format::rsa_spki_der` / `ec_spki_der`). `Ok(false)`
/// is the host's "invalid"; an `Err` must be treated as invalid too.
pub fn verify(
    alg: Algorithm,
    key_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool, HostSignatureError> {
    let hash = host_format::hash_name(alg)?;
    let signature = host_format::host_signature(alg, signature)?;
    let arguments = host_format::verify_signature_arguments(hash, key_der, &signature, message);
    let answer = call_verify_signature(&arguments)?;
    Ok(host_format::verify_signature_result(&answer)?)
}

fn call_verify_signature(arguments: &[u8]) -> Result<Vec<u8>, HostSignatureError> {
    match hostcalls::call_foreign_function(host_format::VERIFY_SIGNATURE_FUNCTION, Some(arguments))
    {
        // No bytes is an all-default message: result false.
        Ok(answer) => Ok(answer.unwrap_or_default()),
        Err(Status::NotFound) => Err(HostSignatureError::NotAvailable),
        Err(Status::BadArgument) => Err(HostSignatureError::Refused),
        Err(_) => Err(HostSignatureError::HostFailure),
    }
}

/// A known-answer check to run once at start: every probe vector's genuine
/// signature verifies and its tampered copy does not. Anything else,
/// including any error, means the host verifier is not to be used.
pub fn probe() -> bool {
    PROBE_VECTORS.iter().all(known_answer_holds)
}

fn known_answer_holds(vector: &ProbeVector) -> bool {
    let (Ok(key), Ok(genuine), Ok(tampered)) = (
        vector.key_der(),
        vector.genuine_signature(),
        vector.tampered_signature(),
    ) else {
        return false;
    };
    let accepts_genuine = verify(vector.alg, &key, vector.message, &genuine) == Ok(true);
    let refuses_tampered = verify(vector.alg, &key, vector.message, &tampered) == Ok(false);
    accepts_genuine && refuses_tampered
}
