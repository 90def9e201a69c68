//! OpenID Connect discovery documents: only `issuer` and `jwks_uri` matter.

use std::fmt;

use serde::Deserialize;

use super::http_target::{HttpTarget, UrlError};

pub const MAX_DOCUMENT_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    TooLarge(usize),
    NotJson(String),
    /// OIDC Discovery 1.0 §4.3: the document's issuer must be the one asked for.
    IssuerMismatch {
        expected: String,
        found: String,
    },
    JwksUri(UrlError),
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::TooLarge(size) => write!(
                f,
                "discovery document of {size} bytes exceeds {MAX_DOCUMENT_BYTES} bytes"
            ),
            DiscoveryError::NotJson(error) => {
                write!(f, "discovery document is not usable JSON: {error}")
            }
            DiscoveryError::IssuerMismatch { expected, found } => write!(
                f,
                "discovery document names issuer {found:?}, expected {expected:?}"
            ),
            DiscoveryError::JwksUri(error) => write!(f, "discovery jwks_uri: {error}"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

#[derive(Deserialize)]
struct RawDocument {
    issuer: String,
    jwks_uri: String,
}

/// Reads the document and returns where to fetch the JWKS from.
pub fn jwks_target(
    body: &[u8],
    expected_issuer: &str,
    jwks_cluster: &str,
) -> Result<HttpTarget, DiscoveryError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(DiscoveryError::TooLarge(body.len()));
    }
    let document: RawDocument =
        serde_json::from_slice(body).map_err(|error| DiscoveryError::NotJson(error.to_string()))?;
    if document.issuer != expected_issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: expected_issuer.to_string(),
            found: document.issuer,
        });
    }
    HttpTarget::parse(jwks_cluster, &document.jwks_uri).map_err(DiscoveryError::JwksUri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_jwks_uri_through_the_jwks_cluster() {
        let body = br#"{"issuer": "https://idp", "jwks_uri": "https://keys.idp/certs", "x": 1}"#;
        let target = jwks_target(body, "https://idp", "keys").unwrap();
        assert_eq!(
            (target.cluster.as_str(), target.authority.as_str()),
            ("keys", "keys.idp")
        );
        assert_eq!(target.path, "/certs");
    }

    #[test]
    fn refuses_foreign_issuer_and_bad_documents() {
        let body = br#"{"issuer": "https://idp/", "jwks_uri": "https://idp/certs"}"#;
        assert!(matches!(
            jwks_target(body, "https://idp", "c"),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
        assert!(matches!(
            jwks_target(b"[]", "i", "c"),
            Err(DiscoveryError::NotJson(_))
        ));
        assert!(matches!(
            jwks_target(br#"{"issuer": "i"}"#, "i", "c"),
            Err(DiscoveryError::NotJson(_))
        ));
        assert_eq!(
            jwks_target(br#"{"issuer": "i", "jwks_uri": "file:///etc"}"#, "i", "c"),
            Err(DiscoveryError::JwksUri(UrlError::Scheme))
        );
    }
}
