//! Registered claims (RFC 7519 §4.1) checked against a provider's settings
//! and the current time.

use serde_json::{Map, Value};

use super::TokenError;
use crate::config::Provider;

/// `exp` is required; `nbf` is honoured when present; both allow the
/// provider's clock skew. `aud` must hold one of the provider's audiences.
pub fn check(
    claims: &Map<String, Value>,
    provider: &Provider,
    now_s: u64,
) -> Result<(), TokenError> {
    let now = now_s as f64;
    let skew = provider.clock_skew_s as f64;
    let exp = numeric_date(claims, "exp")?.ok_or(TokenError::MissingExpiry)?;
    if now >= exp + skew {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now + skew < nbf {
            return Err(TokenError::NotYetValid);
        }
    }
    check_audience(claims.get("aud"), &provider.audiences)
}

fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<f64>, TokenError> {
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
