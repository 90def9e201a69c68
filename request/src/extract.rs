//! Finding the token in the request, from the configured sources:
//! `Authorization: Bearer` (RFC 6750 §2.1, scheme case-insensitive), another
//! header with or without a prefix, the password of HTTP Basic auth, a query
//! parameter or a cookie. A request that carries tokens in two places, or
//! two copies in one place, is refused: which one counts would otherwise
//! depend on the server.
//!
//! GEM's credential forms also name a tenant: `Authorization: Bearer
//! <tenant>:<token>`, or Basic auth with the tenant as the user name and the
//! token as the password. A JWT never contains `:` (base64url and dots), so
//! a bearer value with a `:` always carries a tenant, cut at its last `:`
//! (VictoriaMetrics tenants are `<account>:<project>` themselves).

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::config::TokenSource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractError {
    /// No credentials in any configured source.
    Missing,
    /// Credentials in more than one place.
    Ambiguous,
    /// A source that holds something that is not a token.
    Malformed,
}

impl ExtractError {
    pub fn description(self) -> &'static str {
        match self {
            ExtractError::Missing => "bearer token required",
            ExtractError::Ambiguous => {
                "request carries more than one token or Authorization header"
            }
            ExtractError::Malformed => "credentials do not hold a bearer token",
        }
    }
}

/// The request parts tokens can come from.
pub struct Credentials<'a> {
    /// Every header, names in lower case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The decoded query parameters.
    pub query: &'a [(Cow<'a, str>, Cow<'a, str>)],
}

/// A token, the source it came from, and the tenant the client named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted<'a> {
    pub token: Cow<'a, str>,
    pub source: &'a TokenSource,
    pub tenant: Option<Cow<'a, str>>,
}

/// What one source holds: a token, and maybe a tenant.
type Found<'a> = (Cow<'a, str>, Option<Cow<'a, str>>);

/// Finds the token without looking at its characters: a caller either holds
/// the token's exact bytes as verified before, or parses it as a JWS and
/// runs [`check_token_syntax`] when that fails.
#[inline]
pub fn locate<'a>(
    sources: &'a [TokenSource],
    request: &Credentials<'a>,
) -> Result<Extracted<'a>, ExtractError> {
    let mut found: Option<Extracted<'a>> = None;
    for source in sources {
        let Some((token, tenant)) = from_source(source, request)? else {
            continue;
        };
        if found.is_some() {
            return Err(ExtractError::Ambiguous);
        }
        if tenant.as_ref().is_some_and(|t| t.is_empty()) {
            return Err(ExtractError::Malformed);
        }
        found = Some(Extracted {
            token,
            source,
            tenant,
        });
    }
    found.ok_or(ExtractError::Missing)
}

/// Whether the token is an RFC 6750 `b64token`; anything else is not a
/// token at all.
pub fn check_token_syntax(token: &str) -> Result<(), ExtractError> {
    if is_b64token(token) {
        Ok(())
    } else {
        Err(ExtractError::Malformed)
    }
}

#[inline]
fn from_source<'a>(
    source: &TokenSource,
    request: &Credentials<'a>,
) -> Result<Option<Found<'a>>, ExtractError> {
    let untenanted = |token: Option<Cow<'a, str>>| token.map(|token| (token, None));
    match source {
        TokenSource::AuthorizationBearer => Ok(authorization(request)?
            .and_then(|value| strip_scheme(value, "bearer"))
            .map(|value| match split_tenant(value) {
                Some((tenant, token)) => (Cow::Borrowed(token), Some(Cow::Borrowed(tenant))),
                None => (Cow::Borrowed(value), None),
            })),
        TokenSource::BasicPassword => {
            match authorization(request)?.and_then(|value| strip_scheme(value, "basic")) {
                Some(credentials) => basic_credentials(credentials).map(|(user, password)| {
                    let tenant = (!user.is_empty()).then_some(Cow::Owned(user));
                    Some((Cow::Owned(password), tenant))
                }),
                None => Ok(None),
            }
        }
        TokenSource::Header { name, prefix } => {
            let Some(value) = single(header_values(request, name))? else {
                return Ok(None);
            };
            match prefix {
                None => Ok(untenanted(Some(Cow::Borrowed(value.trim())))),
                Some(prefix) => strip_prefix_ignore_case(value.trim(), prefix)
                    .map(|token| untenanted(Some(Cow::Borrowed(token.trim_start()))))
                    .ok_or(ExtractError::Malformed),
            }
        }
        TokenSource::Query { name } => Ok(untenanted(single(
            request
                .query
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.clone()),
        )?)),
        TokenSource::Cookie { name } => Ok(untenanted(single(
            header_values(request, "cookie")
                .flat_map(|header| header.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .filter(|(key, _)| key == name)
                .map(|(_, value)| Cow::Borrowed(value.trim_matches('"'))),
        )?)),
    }
}

#[inline]
fn header_values<'a, 'n>(
    request: &'n Credentials<'a>,
    name: &'n str,
) -> impl Iterator<Item = &'a str> + 'n {
    request
        .headers
        .iter()
        .filter(move |(header, _)| *header == name)
        .map(|(_, value)| *value)
}

#[inline]
fn authorization<'a>(request: &Credentials<'a>) -> Result<Option<&'a str>, ExtractError> {
    single(header_values(request, "authorization"))
}

/// At most one value; two are ambiguous.
#[inline]
fn single<T>(mut values: impl Iterator<Item = T>) -> Result<Option<T>, ExtractError> {
    let first = values.next();
    if values.next().is_some() {
        return Err(ExtractError::Ambiguous);
    }
    Ok(first)
}

/// The credentials after `scheme` (any case) and its spaces; `None` when
/// the value's first word is another scheme.
#[inline]
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let rest = strip_prefix_ignore_case(value.trim(), scheme)?;
    match rest.as_bytes().first() {
        None => Some(rest),
        Some(b' ') => Some(rest.trim_start_matches(' ')),
        Some(_) => None,
    }
}

/// `<tenant>:<token>` split at the last `:` (a tenant may hold one, a
/// token never does). The search runs over the whole token on every
/// request, so it uses `memchr`'s vector search.
#[inline]
fn split_tenant(value: &str) -> Option<(&str, &str)> {
    let colon = memchr::memrchr(b':', value.as_bytes())?;
    // `:` is ASCII, so both sides are whole UTF-8 text.
    Some((&value[..colon], &value[colon + 1..]))
}

#[inline]
fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// GEM and vmauth accept the token as the password of Basic auth; GEM
/// reads the user name as the tenant.
fn basic_credentials(credentials: &str) -> Result<(String, String), ExtractError> {
    let decoded = STANDARD
        .decode(credentials.trim())
        .map_err(|_| ExtractError::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| ExtractError::Malformed)?;
    let (user, password) = text.split_once(':').ok_or(ExtractError::Malformed)?;
    Ok((user.to_string(), password.to_string()))
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|byte| B64TOKEN_BYTES[usize::from(byte)])
}

/// Runs on every request over the whole token.
const B64TOKEN_BYTES: [bool; 256] = byte_table!(
    |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::encode;
    use crate::verify::token::{self, ClaimNames};

    /// What the pipeline does with a token it has not verified before.
    fn extract<'a>(
        sources: &'a [TokenSource],
        request: &Credentials<'a>,
    ) -> Result<Extracted<'a>, ExtractError> {
        let extracted = locate(sources, request)?;
        check_token_syntax(&extracted.token)?;
        Ok(extracted)
    }

    fn bearer_only() -> Vec<TokenSource> {
        vec![TokenSource::AuthorizationBearer]
    }

    fn run<'a>(
        sources: &'a [TokenSource],
        headers: &'a [(&'a str, &'a str)],
        query: &'a [(Cow<'a, str>, Cow<'a, str>)],
    ) -> Result<String, ExtractError> {
        extract(sources, &Credentials { headers, query }).map(|found| found.token.into_owned())
    }

    /// The scheme as the value's first space-separated word.
    fn strip_scheme_by_words<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
        let value = value.trim();
        let (found, rest) = value.split_once(' ').unwrap_or((value, ""));
        found
            .eq_ignore_ascii_case(scheme)
            .then(|| rest.trim_start_matches(' '))
    }

    #[test]
    fn scheme_is_the_whole_first_word() {
        let pieces = ["b", "B", "e", "a", "r", " ", "\t", "x", "é", ":"];
        let mut values = vec![String::new()];
        for _ in 0..5 {
            values = values
                .iter()
                .flat_map(|value| pieces.iter().map(move |piece| format!("{value}{piece}")))
                .collect();
            for value in &values {
                for candidate in [
                    value.clone(),
                    format!("Bearer{value}"),
                    format!(" bearer{value}"),
                ] {
                    for scheme in ["bearer", "basic"] {
                        assert_eq!(
                            strip_scheme(&candidate, scheme),
                            strip_scheme_by_words(&candidate, scheme),
                            "{candidate:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn reads_bearer_in_any_case() {
        let sources = bearer_only();
        for value in ["Bearer a.b.c", "bearer  a.b.c ", "BEARER a.b.c"] {
            assert_eq!(
                run(&sources, &[("authorization", value)], &[]),
                Ok("a.b.c".into())
            );
        }
    }

    #[test]
    fn refuses_missing_ambiguous_and_malformed() {
        let sources = bearer_only();
        assert_eq!(run(&sources, &[], &[]), Err(ExtractError::Missing));
        assert_eq!(
            run(&sources, &[("authorization", "Basic dXNlcjpwYXNz")], &[]),
            Err(ExtractError::Missing)
        );
        assert_eq!(
            run(&sources, &[("authorization", "Bearer")], &[]),
            Err(ExtractError::Malformed)
        );
        assert_eq!(
            run(&sources, &[("authorization", "Bearer a b")], &[]),
            Err(ExtractError::Malformed)
        );
        assert_eq!(
            run(&sources, &[("authorization", "Bearer a\"b")], &[]),
            Err(ExtractError::Malformed)
        );
        let twice = [
            ("authorization", "Bearer a.b.c"),
            ("authorization", "Bearer d.e.f"),
        ];
        assert_eq!(run(&sources, &twice, &[]), Err(ExtractError::Ambiguous));
    }

    #[test]
    fn a_token_holds_only_b64token_characters() {
        let sources = [TokenSource::Header {
            name: "x-token".into(),
            prefix: None,
        }];
        // RFC 6750: ALPHA, DIGIT and "-._~+/".
        for byte in 0x21u8..0x7f {
            let value = format!("a{}b", byte as char);
            let expected = if byte.is_ascii_alphanumeric() || "-._~+/".contains(byte as char) {
                Ok(value.clone())
            } else {
                Err(ExtractError::Malformed)
            };
            assert_eq!(
                run(&sources, &[("x-token", &value)], &[]),
                expected,
                "{value}"
            );
        }
        assert_eq!(
            run(&sources, &[("x-token", "a.b.c==")], &[]),
            Ok("a.b.c==".into()),
            "trailing padding"
        );
        assert_eq!(
            run(&sources, &[("x-token", "a=b")], &[]),
            Err(ExtractError::Malformed)
        );
        assert_eq!(
            run(&sources, &[("x-token", "a\u{e9}b")], &[]),
            Err(ExtractError::Malformed)
        );
    }

    #[test]
    fn reads_every_configured_source() {
        let header = [TokenSource::Header {
            name: "x-jwt-assertion".into(),
            prefix: None,
        }];
        assert_eq!(
            run(&header, &[("x-jwt-assertion", "a.b.c")], &[]),
            Ok("a.b.c".into())
        );
        let prefixed = [TokenSource::Header {
            name: "x-auth".into(),
            prefix: Some("Token ".into()),
        }];
        assert_eq!(
            run(&prefixed, &[("x-auth", "token a.b.c")], &[]),
            Ok("a.b.c".into())
        );
        assert_eq!(
            run(&prefixed, &[("x-auth", "a.b.c")], &[]),
            Err(ExtractError::Malformed)
        );
        let basic = [TokenSource::BasicPassword];
        // "tenant:a.b.c"
        assert_eq!(
            run(&basic, &[("authorization", "Basic dGVuYW50OmEuYi5j")], &[]),
            Ok("a.b.c".into())
        );
        let query = [TokenSource::Query {
            name: "auth_token".into(),
        }];
        let params = [(Cow::from("auth_token"), Cow::from("a.b.c"))];
        assert_eq!(run(&query, &[], &params), Ok("a.b.c".into()));
        let cookie = [TokenSource::Cookie { name: "jwt".into() }];
        assert_eq!(
            run(&cookie, &[("cookie", "theme=dark; jwt=a.b.c")], &[]),
            Ok("a.b.c".into())
        );
        assert_eq!(
            run(
                &cookie,
                &[("cookie", "jwt=a.b.c"), ("cookie", "jwt=d.e.f")],
                &[]
            ),
            Err(ExtractError::Ambiguous)
        );
    }

    fn tenant_of(
        sources: &[TokenSource],
        authorization: &str,
    ) -> Result<Option<String>, ExtractError> {
        let headers = [("authorization", authorization)];
        extract(
            sources,
            &Credentials {
                headers: &headers,
                query: &[],
            },
        )
        .map(|found| found.tenant.map(Cow::into_owned))
    }

    #[test]
    fn gem_credentials_name_a_tenant() {
        let bearer = bearer_only();
        assert_eq!(
            run(&bearer, &[("authorization", "Bearer team-a:a.b.c")], &[]),
            Ok("a.b.c".into())
        );
        assert_eq!(
            tenant_of(&bearer, "Bearer team-a:a.b.c"),
            Ok(Some("team-a".into()))
        );
        assert_eq!(
            tenant_of(&bearer, "Bearer 7:3:a.b.c"),
            Ok(Some("7:3".into()))
        );
        assert_eq!(tenant_of(&bearer, "Bearer a.b.c"), Ok(None));
        assert_eq!(
            tenant_of(&bearer, "Bearer :a.b.c"),
            Err(ExtractError::Malformed)
        );
        assert_eq!(
            tenant_of(&bearer, "Bearer team-a:"),
            Err(ExtractError::Malformed)
        );
        let basic = [TokenSource::BasicPassword];
        // "team-a:a.b.c", ":a.b.c"
        assert_eq!(
            tenant_of(&basic, "Basic dGVhbS1hOmEuYi5j"),
            Ok(Some("team-a".into()))
        );
        assert_eq!(tenant_of(&basic, "Basic OmEuYi5j"), Ok(None));
    }

    #[test]
    fn tokens_in_two_sources_are_ambiguous() {
        let sources = [
            TokenSource::AuthorizationBearer,
            TokenSource::Query {
                name: "auth_token".into(),
            },
        ];
        let params = [(Cow::from("auth_token"), Cow::from("d.e.f"))];
        assert_eq!(
            run(&sources, &[("authorization", "Bearer a.b.c")], &params),
            Err(ExtractError::Ambiguous)
        );
        assert_eq!(run(&sources, &[], &params), Ok("d.e.f".into()));
    }

    proptest::proptest! {
        /// A token that parses is an RFC 6750 `b64token`, so the pipeline
        /// checks the syntax only of tokens that do not parse.
        #[test]
        fn a_token_that_parses_is_a_b64token(
            edits in proptest::collection::vec(
                (0usize..64, proptest::sample::select(
                    "Az09-_.=+/~ %\"\\\u{e9}\u{0}".chars().collect::<Vec<char>>()
                ), 0u8..3),
                0..4,
            ),
        ) {
            let mut text = [r#"{"alg":"HS256","kid":"k"}"#, r#"{"iss":"i","n":1}"#, "signature"]
                .map(|part| encode(part.as_bytes()))
                .join(".");
            for (at, symbol, how) in edits {
                let at = text.char_indices().map(|(i, _)| i).nth(at % text.chars().count()).unwrap_or(0);
                match how {
                    0 => text.insert(at, symbol),
                    1 => { text.remove(at); text.insert(at, symbol); }
                    _ => text.push(symbol),
                }
            }
            if token::parse(&text, 8192, &ClaimNames::all()).is_ok() {
                proptest::prop_assert!(check_token_syntax(&text).is_ok(), "{}", text);
            }
        }
    }
}
