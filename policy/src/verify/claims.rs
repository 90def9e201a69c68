//! Registered claims (RFC 7519 §4.1) checked against a provider's settings
//! and the current time.

use serde_json::Value;

use super::token::Claims;

use super::TokenError;
use crate::config::{ClaimRules, Provider};

/// Time claims allow the provider's clock skew: `exp` (required unless
/// configured otherwise), `nbf`, `iat` (not in the future), the maximum
/// lifetime; then `aud`, `sub`, required and expected claims.
pub fn check(claims: &Claims, provider: &Provider, now_s: u64) -> Result<(), TokenError> {
    check_time(claims, provider, now_s as f64)?;
    check_audience(claims.get("aud"), &provider.audiences)?;
    check_rules(claims, &provider.claims)
}

/// Until when (seconds since the epoch) a verified token stays valid:
/// `exp` plus the clock skew; `None` for a token without `exp`.
pub fn valid_until_s(claims: &Claims, provider: &Provider) -> Option<f64> {
    let exp = numeric_date(claims, "exp").ok()??;
    Some(exp + provider.clock_skew_s as f64)
}

fn check_time(claims: &Claims, provider: &Provider, now: f64) -> Result<(), TokenError> {
    let skew = provider.clock_skew_s as f64;
    let exp = numeric_date(claims, "exp")?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    match exp {
        Some(exp) if now >= exp + skew => return Err(TokenError::Expired),
        None if provider.claims.require_exp => return Err(TokenError::MissingExpiry),
        _ => {}
    }
    if nbf.is_some_and(|nbf| now + skew < nbf) {
        return Err(TokenError::NotYetValid);
    }
    if iat.is_some_and(|iat| now + skew < iat) {
        return Err(TokenError::IssuedInFuture);
    }
    if let Some(max_lifetime) = provider.claims.max_lifetime_s {
        // A token without exp never ends, so it is too long-lived.
        let exp = exp.ok_or(TokenError::LifetimeTooLong)?;
        let start = iat.or(nbf).unwrap_or(now);
        if exp - start > max_lifetime as f64 {
            return Err(TokenError::LifetimeTooLong);
        }
    }
    Ok(())
}

fn check_rules(claims: &Claims, rules: &ClaimRules) -> Result<(), TokenError> {
    if !rules.subjects.is_empty() {
        let sub = claims.get("sub").and_then(Value::as_str);
        if !sub.is_some_and(|sub| rules.subjects.iter().any(|s| s == sub)) {
            return Err(TokenError::WrongSubject);
        }
    }
    if rules.required.iter().any(|name| !claims.contains_key(name)) {
        return Err(TokenError::MissingRequiredClaim);
    }
    if rules
        .expected
        .iter()
        .any(|(name, value)| claims.get(name) != Some(value))
    {
        return Err(TokenError::UnexpectedClaimValue);
    }
    Ok(())
}

fn numeric_date(claims: &Claims, name: &'static str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|value| value.is_finite())
            .map(Some)
            .ok_or(TokenError::InvalidClaim(name)),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

fn check_audience(aud: Option<&Value>, accepted: &[String]) -> Result<(), TokenError> {
    if accepted.is_empty() {
        return Ok(());
    }
    let matches = |value: &Value| {
        value
            .as_str()
            .is_some_and(|aud| accepted.iter().any(|a| a == aud))
    };
    let ok = match aud {
        Some(Value::String(_)) => aud.is_some_and(matches),
        Some(Value::Array(values)) => values.iter().any(matches),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(TokenError::WrongAudience)
    }
}
