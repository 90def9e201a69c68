//! Where a key fetch goes: an Envoy cluster plus the `:authority` and `:path`
//! of the request. Only `http`/`https` URLs with a host are accepted.
//!
//! A small splitter rather than the `url` crate: the filter only needs the
//! authority and the path of an absolute URL, and the `url` crate brings IDNA
//! tables that would more than double the size of the module.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub cluster: String,
    pub authority: String,
    /// Path and query, always starting with `/`.
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    Scheme,
    MissingHost,
    UserInfo,
    Fragment,
    InvalidCharacter,
    TooLong,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "only http:// and https:// URLs are supported",
            UrlError::MissingHost => "the URL has no host",
            UrlError::UserInfo => "credentials in the URL are not supported",
            UrlError::Fragment => "the URL must not have a fragment",
            UrlError::InvalidCharacter => "the URL contains spaces or control characters",
            UrlError::TooLong => "the URL is longer than 2048 bytes",
        })
    }
}

const MAX_URL_BYTES: usize = 2048;

impl HttpTarget {
    pub fn parse(cluster: &str, url: &str) -> Result<HttpTarget, UrlError> {
        if url.len() > MAX_URL_BYTES {
            return Err(UrlError::TooLong);
        }
        if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(UrlError::InvalidCharacter);
        }
        let rest = strip_scheme(url).ok_or(UrlError::Scheme)?;
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if authority.is_empty() || authority.starts_with(':') {
            return Err(UrlError::MissingHost);
        }
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(HttpTarget {
            cluster: cluster.to_string(),
            authority: authority.to_ascii_lowercase(),
            path,
        })
    }

    /// The same target with another `:authority`, when one is given.
    pub fn with_authority(self, authority: Option<String>) -> HttpTarget {
        match authority {
            Some(authority) => HttpTarget { authority, ..self },
            None => self,
        }
    }
}

fn strip_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        Some(rest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_authority_and_path() {
        let target =
            HttpTarget::parse("idp", "https://Login.Example.com:8443/realms/a/jwks?x=1").unwrap();
        assert_eq!(target.cluster, "idp");
        assert_eq!(target.authority, "login.example.com:8443");
        assert_eq!(target.path, "/realms/a/jwks?x=1");
        assert_eq!(HttpTarget::parse("c", "http://h").unwrap().path, "/");
        assert_eq!(HttpTarget::parse("c", "http://h?a").unwrap().path, "/?a");
    }

    #[test]
    fn refuses_what_it_cannot_fetch() {
        let cases = [
            ("ftp://h/x", UrlError::Scheme),
            ("h/x", UrlError::Scheme),
            ("https:///x", UrlError::MissingHost),
            ("https://:80/x", UrlError::MissingHost),
            ("https://u:p@h/x", UrlError::UserInfo),
            ("https://h/x#f", UrlError::Fragment),
            ("https://h/a b", UrlError::InvalidCharacter),
        ];
        for (url, expected) in cases {
            assert_eq!(HttpTarget::parse("c", url), Err(expected), "{url}");
        }
        let long = format!("https://h/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(HttpTarget::parse("c", &long), Err(UrlError::TooLong));
    }
}
