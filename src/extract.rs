//! Finding the token in the request: `Authorization: Bearer <token>`
//! (RFC 6750 §2.1, scheme case-insensitive).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractError {
    /// No bearer credentials at all.
    Missing,
    /// More than one `Authorization` header: which one counts would depend
    /// on the server, so none does.
    Ambiguous,
    /// A `Bearer` header whose value is not a token.
    Malformed,
}

impl ExtractError {
    pub fn description(self) -> &'static str {
        match self {
            ExtractError::Missing => "bearer token required",
            ExtractError::Ambiguous => "request has more than one Authorization header",
            ExtractError::Malformed => "Authorization header does not hold a bearer token",
        }
    }
}

/// The token from the values of all `Authorization` headers of a request.
pub fn bearer_token<'a>(authorization: &[&'a str]) -> Result<&'a str, ExtractError> {
    let value = match authorization {
        [] => return Err(ExtractError::Missing),
        [one] => one.trim(),
        _ => return Err(ExtractError::Ambiguous),
    };
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ExtractError::Missing);
    }
    let token = credentials.trim_start_matches(' ');
    if is_b64token(token) {
        Ok(token)
    } else {
        Err(ExtractError::Malformed)
    }
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_in_any_case() {
        assert_eq!(bearer_token(&["Bearer a.b.c"]), Ok("a.b.c"));
        assert_eq!(bearer_token(&["bearer  a.b.c "]), Ok("a.b.c"));
        assert_eq!(bearer_token(&["BEARER a.b.c"]), Ok("a.b.c"));
    }

    #[test]
    fn refuses_missing_ambiguous_and_malformed() {
        assert_eq!(bearer_token(&[]), Err(ExtractError::Missing));
        assert_eq!(
            bearer_token(&["Basic dXNlcjpwYXNz"]),
            Err(ExtractError::Missing)
        );
        assert_eq!(bearer_token(&["Bearer"]), Err(ExtractError::Malformed));
        assert_eq!(bearer_token(&["Bearer a b"]), Err(ExtractError::Malformed));
        assert_eq!(bearer_token(&["Bearer a\"b"]), Err(ExtractError::Malformed));
        assert_eq!(
            bearer_token(&["Bearer a.b.c", "Bearer d.e.f"]),
            Err(ExtractError::Ambiguous)
        );
    }
}
