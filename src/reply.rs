//! The answers the filter gives itself: RFC 6750 challenges and a JSON body
//! in the Prometheus API's error shape, so Grafana shows the reason. Texts
//! are fixed descriptions; nothing from the request is echoed.

use crate::extract::ExtractError;
use crate::rewrite::RewriteError;
use crate::tenancy::TenancyError;
use crate::verify::TokenError;

/// Why the filter refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Credentials(ExtractError),
    InvalidToken(TokenError),
    Forbidden(TenancyError),
    Request(RewriteError),
    /// The provider's keys could not be loaded in time.
    KeysUnavailable,
    /// The proxy did not accept the rewrite; the request cannot go on.
    RewriteFailed,
}

/// A complete local response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Refusal {
    pub fn status(self) -> u32 {
        match self {
            Refusal::Credentials(ExtractError::Ambiguous) => 400,
            Refusal::Credentials(_) | Refusal::InvalidToken(_) => 401,
            Refusal::Forbidden(_) => 403,
            Refusal::Request(error) => match error {
                RewriteError::EndpointNotAllowed => 403,
                RewriteError::MethodNotAllowed => 405,
                RewriteError::BodyTooLarge => 413,
                RewriteError::MultipartBody => 415,
                _ => 400,
            },
            Refusal::KeysUnavailable => 503,
            Refusal::RewriteFailed => 500,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Refusal::Credentials(error) => error.description(),
            Refusal::InvalidToken(error) => error.description(),
            Refusal::Forbidden(error) => error.description(),
            Refusal::Request(error) => error.description(),
            Refusal::KeysUnavailable => "verification keys of the token issuer are not available",
            Refusal::RewriteFailed => "the gateway could not rewrite the request",
        }
    }

    /// The `error` of the Prometheus-style body.
    fn error_type(self) -> &'static str {
        match self.status() {
            401 => "unauthorized",
            403 => "forbidden",
            503 => "unavailable",
            500 => "internal",
            _ => "bad_data",
        }
    }

    /// RFC 6750 §3: no error code when no credentials were sent.
    fn challenge(self, realm: &str) -> Option<String> {
        let code = match self {
            Refusal::Credentials(ExtractError::Missing) => {
                return Some(format!("Bearer realm=\"{realm}\""))
            }
            Refusal::Credentials(ExtractError::Ambiguous) => "invalid_request",
            Refusal::Credentials(ExtractError::Malformed) | Refusal::InvalidToken(_) => {
                "invalid_token"
            }
            Refusal::Forbidden(_) => "insufficient_scope",
            _ => return None,
        };
        Some(format!(
            "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{}\"",
            self.description()
        ))
    }

    pub fn reply(self, realm: &str) -> LocalReply {
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(challenge) = self.challenge(realm) {
            headers.push(("www-authenticate", challenge));
        }
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.error_type(),
            "error": self.description(),
        });
        LocalReply {
            status: self.status(),
            headers,
            body: body.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(reply: &LocalReply, name: &str) -> Option<String> {
        reply
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn missing_token_gets_a_bare_challenge() {
        let reply = Refusal::Credentials(ExtractError::Missing).reply("tg");
        assert_eq!(reply.status, 401);
        assert_eq!(
            header(&reply, "www-authenticate").unwrap(),
            "Bearer realm=\"tg\""
        );
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["status"], "error");
        assert_eq!(body["errorType"], "unauthorized");
        assert_eq!(body["error"], "bearer token required");
    }

    #[test]
    fn invalid_and_forbidden_tokens_name_the_error() {
        let reply = Refusal::InvalidToken(TokenError::Expired).reply("tg");
        assert_eq!(
            header(&reply, "www-authenticate").unwrap(),
            "Bearer realm=\"tg\", error=\"invalid_token\", error_description=\"token is expired\""
        );
        let reply = Refusal::Forbidden(TenancyError::WriteNotAllowed).reply("tg");
        assert_eq!(reply.status, 403);
        assert!(header(&reply, "www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\""));
        assert!(reply.body.contains("\"errorType\":\"forbidden\""));
    }

    #[test]
    fn request_errors_map_to_http_statuses() {
        let cases = [
            (Refusal::Request(RewriteError::EndpointNotAllowed), 403),
            (Refusal::Request(RewriteError::MethodNotAllowed), 405),
            (Refusal::Request(RewriteError::BodyTooLarge), 413),
            (Refusal::Request(RewriteError::MultipartBody), 415),
            (Refusal::Request(RewriteError::EnforcementInBody), 400),
            (Refusal::Credentials(ExtractError::Ambiguous), 400),
            (Refusal::KeysUnavailable, 503),
            (Refusal::RewriteFailed, 500),
        ];
        for (refusal, status) in cases {
            let reply = refusal.reply("tg");
            assert_eq!(reply.status, status, "{refusal:?}");
            serde_json::from_str::<serde_json::Value>(&reply.body).unwrap();
        }
    }

    #[test]
    fn descriptions_are_valid_in_a_quoted_string() {
        let all = [
            Refusal::InvalidToken(TokenError::Malformed),
            Refusal::InvalidToken(TokenError::InvalidClaim("nbf")),
            Refusal::Forbidden(TenancyError::NoLabelScope),
            Refusal::Request(RewriteError::InvalidQuery),
            Refusal::Request(RewriteError::NonCanonicalPath),
        ];
        for refusal in all {
            assert!(!refusal.description().contains(['"', '\\']), "{refusal:?}");
        }
    }
}
