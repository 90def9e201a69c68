//! The signature backend the filter runs with in Envoy.

use super::host_signature::verify;
use super::phase_timing::{self, Timed};
use crate::keys::Jwk;
use crate::verify::host_format;
use crate::verify::signature::{Portable, SignatureBackend};
use crate::verify::Algorithm;

/// Envoy's verifier for the algorithms it has, the portable one for the
/// rest and whenever the host gives no answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvoySignatures;

impl SignatureBackend for EnvoySignatures {
    fn is_valid(&self, alg: Algorithm, key: &Jwk, signing_input: &[u8], signature: &[u8]) -> bool {
        let host_answer = match &key.spki_der {
            Some(der) if host_format::host_supports(alg) => {
                let start = phase_timing::mark();
                let answer = verify(alg, der, signing_input, signature).ok();
                phase_timing::add(Timed::HostSignature, &start);
                answer
            }
            _ => None,
        };
        host_answer.unwrap_or_else(|| Portable.is_valid(alg, key, signing_input, signature))
    }
}
