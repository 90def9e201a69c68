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
        // Written out: both texts are fixed and hold no `"` or `\\` (a
        // test checks), and a JSON serializer would cost the filter its
        // float printer.
        let body = format!(
            "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":\"{}\"}}",
            self.error_type(),
            self.description()
        );
        LocalReply {
            status: self.status(),
            headers,
            body,
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

    /// Every refusal the filter can give, so the hand-written body and the
    /// challenge are checked for all of them.
    fn every_refusal() -> Vec<Refusal> {
        use RewriteError as R;
        use TenancyError as T;
        use TokenError as K;
        let mut all = vec![Refusal::KeysUnavailable, Refusal::RewriteFailed];
        all.extend(
            [
                ExtractError::Missing,
                ExtractError::Ambiguous,
                ExtractError::Malformed,
            ]
            .map(Refusal::Credentials),
        );
        all.extend(
            [
                K::TooLarge,
                K::Malformed,
                K::CriticalHeader,
                K::UnsupportedAlgorithm,
                K::AlgorithmNotAllowed,
                K::UnknownIssuer,
                K::UnknownKeyId,
                K::NoKeyForAlgorithm,
                K::BadSignature,
                K::MissingExpiry,
                K::Expired,
                K::NotYetValid,
                K::WrongAudience,
                K::IssuedInFuture,
                K::LifetimeTooLong,
                K::WrongSubject,
                K::MissingRequiredClaim,
                K::UnexpectedClaimValue,
                K::InvalidClaim("exp"),
                K::InvalidClaim("nbf"),
                K::InvalidClaim("iat"),
                K::InvalidClaim("other"),
            ]
            .map(Refusal::InvalidToken),
        );
        all.extend(
            [
                T::NoAccessClaim,
                T::InvalidAccessClaim,
                T::ReadNotAllowed,
                T::WriteNotAllowed,
                T::NoClusterTenant,
                T::NoLabelScope,
                T::WriteNeedsLabels,
                T::TenantNotGranted,
                T::InvalidTenant,
                T::SeveralTenants,
                T::SeveralWriteTenants,
            ]
            .map(Refusal::Forbidden),
        );
        all.extend(
            [
                R::TargetTooLong,
                R::NonCanonicalPath,
                R::InvalidQuery,
                R::EndpointNotAllowed,
                R::MethodNotAllowed,
                R::AmbiguousContentType,
                R::MultipartBody,
                R::InvalidMultipartBody,
                R::InvalidFormBody,
                R::EnforcementInBody,
                R::BodyTooLarge,
                R::UndecodableHeader,
                R::InvalidContentType,
            ]
            .map(Refusal::Request),
        );
        all
    }

    #[test]
    fn every_body_is_json_with_the_description() {
        for refusal in every_refusal() {
            assert!(
                refusal
                    .description()
                    .bytes()
                    .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'),
                "{refusal:?}"
            );
            let reply = refusal.reply("tg");
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["status"], "error");
            assert_eq!(body["error"], refusal.description(), "{refusal:?}");
            assert_eq!(body["errorType"], refusal.error_type());
        }
    }
}
