//! Token verification: decode, pick the provider by `iss`, pick the key by
//! `kid` and algorithm, check the signature and the claims.

mod algorithm;
pub mod claims;
pub mod host_format;
pub mod signature;
pub mod token;

use std::fmt;

pub use algorithm::{Algorithm, KeyKind};
pub use token::UnverifiedToken;

use crate::config::Provider;
use crate::keys::KeySet;

/// Why a token was not accepted. Every variant answers 401 `invalid_token`;
/// descriptions are fixed texts so nothing from the token is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    TooLarge,
    TooDeep,
    Malformed,
    CriticalHeader,
    UnsupportedAlgorithm,
    AlgorithmNotAllowed,
    UnknownIssuer,
    UnknownKeyId,
    NoKeyForAlgorithm,
    BadSignature,
    MissingExpiry,
    Expired,
    NotYetValid,
    WrongAudience,
    IssuedInFuture,
    LifetimeTooLong,
    WrongSubject,
    MissingRequiredClaim,
    UnexpectedClaimValue,
    InvalidClaim(&'static str),
}

impl TokenError {
    pub fn description(self) -> &'static str {
        match self {
            TokenError::TooLarge => "token is too large",
            TokenError::TooDeep => "token JSON is nested too deeply",
            TokenError::Malformed => "token is not a well-formed JWS compact token",
            TokenError::CriticalHeader => "token header has unsupported critical extensions",
            TokenError::UnsupportedAlgorithm => "token algorithm is not supported",
            TokenError::AlgorithmNotAllowed => "token algorithm is not allowed for this issuer",
            TokenError::UnknownIssuer => "token issuer is not trusted",
            TokenError::UnknownKeyId => "token key id is not in the issuer's key set",
            TokenError::NoKeyForAlgorithm => "no key of the issuer fits the token algorithm",
            TokenError::BadSignature => "token signature is invalid",
            TokenError::MissingExpiry => "token has no exp claim",
            TokenError::Expired => "token is expired",
            TokenError::NotYetValid => "token is not valid yet",
            TokenError::WrongAudience => "token audience is not accepted",
            TokenError::IssuedInFuture => "token iat is in the future",
            TokenError::LifetimeTooLong => "token lifetime is longer than allowed",
            TokenError::WrongSubject => "token subject is not accepted",
            TokenError::MissingRequiredClaim => "token lacks a required claim",
            TokenError::UnexpectedClaimValue => "token claim does not have the expected value",
            TokenError::InvalidClaim("exp") => "token exp claim is not a number",
            TokenError::InvalidClaim("nbf") => "token nbf claim is not a number",
            TokenError::InvalidClaim("iat") => "token iat claim is not a number",
            TokenError::InvalidClaim(_) => "token has an invalid claim",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for TokenError {}

/// The provider whose `issuer` equals the token's `iss`.
pub fn provider_for<'p>(
    token: &UnverifiedToken<'_>,
    providers: &'p [Provider],
) -> Result<(usize, &'p Provider), TokenError> {
    let iss = token.claims.get("iss").and_then(|iss| iss.as_str());
    iss.and_then(|iss| providers.iter().enumerate().find(|(_, p)| p.issuer == iss))
        .ok_or(TokenError::UnknownIssuer)
}

/// Checks everything about a token that needs the provider's keys. Cheap
/// checks (algorithm, claims, key choice) come before the signature, so a
/// forged token is turned away without signature work where possible.
pub fn verify(
    token: &UnverifiedToken<'_>,
    provider: &Provider,
    keys: &KeySet,
    backend: &dyn signature::SignatureBackend,
    now_s: u64,
) -> Result<(), TokenError> {
    if !provider.algorithms.contains(&token.alg) {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    claims::check(&token.claims, provider, now_s)?;
    let mut candidates = keys.keys().iter().filter(|key| match &token.kid {
        // A named key is the only one tried: no fallback to other keys.
        Some(kid) => key.kid.as_ref() == Some(kid),
        None => true,
    });
    let mut tried_any = false;
    let mut kid_found = false;
    for key in candidates.by_ref() {
        kid_found = true;
        if !key.accepts(token.alg) {
            continue;
        }
        tried_any = true;
        if backend.is_valid(
            token.alg,
            key,
            token.signing_input.as_bytes(),
            &token.signature,
        ) {
            return Ok(());
        }
    }
    match (tried_any, kid_found, &token.kid) {
        (true, _, _) => Err(TokenError::BadSignature),
        (false, false, Some(_)) => Err(TokenError::UnknownKeyId),
        (false, _, _) => Err(TokenError::NoKeyForAlgorithm),
    }
}
