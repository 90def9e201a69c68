//! One request's way through the filter, as a pure function: the host hands
//! in the request head, the keys it has and the time, and gets back what to
//! do. The order puts cheap refusals first and signature work last.

use std::borrow::Cow;
use std::rc::Rc;

use crate::config::{Config, TokenSource};
use crate::extract::{extract, Credentials};
use crate::keys::KeySet;
use crate::reply::Refusal;
use crate::rewrite::{self, body_check, BodyCheck, TENANT_HEADERS};
use crate::tenancy::{enforce, VmAccess};
use crate::verify::cache::{Claims, TokenCache, TokenKey};
use crate::verify::signature::{Portable, SignatureBackend};
use crate::verify::{self, token, TokenError};

/// The parts of a request the decision needs.
#[derive(Debug, Clone, Default)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// `:path`, with the query.
    pub target: &'a str,
    /// Every header but the pseudo-headers, names in lower case.
    pub headers: Vec<(&'a str, &'a str)>,
    /// Names of headers whose values were not UTF-8 (left out of `headers`).
    pub undecodable: Vec<&'a str>,
}

impl<'a> RequestHead<'a> {
    pub fn values(&self, name: &str) -> Vec<&'a str> {
        self.headers
            .iter()
            .filter(|(header, _)| *header == name)
            .map(|(_, value)| *value)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Forward(Forward),
    Refuse(Refusal),
    /// Wait for the provider's next key set, then decide again; answer
    /// `on_timeout` if it does not come in time.
    AwaitKeys {
        provider: usize,
        on_timeout: Refusal,
    },
}

/// The key sets the host holds, and its say on refetching them.
pub trait KeyStore {
    /// The provider's current key set, `None` while none was ever loaded.
    fn key_set(&self, provider: usize) -> Option<&KeySet>;
    /// Changes whenever the provider's key set changes.
    fn key_generation(&self, provider: usize) -> Option<u64>;
    /// A token names a `kid` the provider's set lacks: whether the request
    /// should wait for the set to be fetched again.
    fn wait_for_unknown_kid(&mut self, provider: usize) -> bool;
    /// Where signatures are checked; the host may offer a faster backend.
    fn signatures(&self) -> &dyn SignatureBackend {
        &Portable
    }
}

/// A fixed key set per provider, never refetched.
pub struct StaticKeys<'a>(pub Vec<Option<&'a KeySet>>);

impl KeyStore for StaticKeys<'_> {
    fn key_set(&self, provider: usize) -> Option<&KeySet> {
        self.0.get(provider).copied().flatten()
    }

    fn key_generation(&self, provider: usize) -> Option<u64> {
        self.key_set(provider).map(|_| 0)
    }

    fn wait_for_unknown_kid(&mut self, _provider: usize) -> bool {
        false
    }
}

/// How to change the request before it goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub path: String,
    pub remove_headers: Vec<Cow<'static, str>>,
    /// Headers replaced with a new value (the cookie header without the token).
    pub set_headers: Vec<(&'static str, String)>,
    pub body_check: BodyCheck,
}

/// Decides about one request; `cache` remembers verified tokens.
pub fn decide(
    config: &Config,
    head: &RequestHead<'_>,
    keys: &mut impl KeyStore,
    cache: &mut TokenCache,
    now_s: u64,
) -> Decision {
    match decide_inner(config, head, keys, cache, now_s) {
        Ok(decision) => decision,
        Err(refusal) => Decision::Refuse(refusal),
    }
}

fn decide_inner(
    config: &Config,
    head: &RequestHead<'_>,
    keys: &mut impl KeyStore,
    cache: &mut TokenCache,
    now_s: u64,
) -> Result<Decision, Refusal> {
    if head
        .undecodable
        .iter()
        .any(|name| is_read_header(config, name))
    {
        return Err(Refusal::Request(rewrite::RewriteError::UndecodableHeader));
    }
    let query = token_query(config, head.target);
    let credentials = Credentials {
        headers: &head.headers,
        query: &query,
    };
    let extracted = extract(&config.token_sources, &credentials).map_err(Refusal::Credentials)?;
    let cache_key = cache.key_of(&extracted.token);
    let cached = cache_key.and_then(|key| cache.get(&key, |p| keys.key_generation(p), now_s));
    let claims = match cached {
        Some((_, claims)) => claims,
        None => match verify_token(
            config,
            &extracted.token,
            keys,
            cache_key.map(|key| (cache, key)),
            now_s,
        )? {
            Verified::Claims(claims) => claims,
            Verified::Await(decision) => return Ok(decision),
        },
    };

    let mut route = rewrite::route(head.method, head.target).map_err(Refusal::Request)?;
    let access =
        VmAccess::from_claim(claims.get(&config.tenancy.claim)).map_err(Refusal::Forbidden)?;
    let enforcement = enforce(&access, &config.tenancy.backend, route.endpoint.operation)
        .map_err(Refusal::Forbidden)?;
    let body_check = body_check(&head.values("content-type")).map_err(Refusal::Request)?;

    let mut remove_headers: Vec<Cow<'static, str>> = TENANT_HEADERS.map(Cow::Borrowed).to_vec();
    let mut set_headers = Vec::new();
    if !config.forward_authorization {
        remove_headers.push("authorization".into());
        match extracted.source {
            TokenSource::Header { name, .. } => remove_headers.push(Cow::Owned(name.clone())),
            TokenSource::Query { name } => route.token_param = Some(name),
            TokenSource::Cookie { name } => match cookies_without(&head.values("cookie"), name) {
                Some(rest) => set_headers.push(("cookie", rest)),
                None => remove_headers.push("cookie".into()),
            },
            TokenSource::AuthorizationBearer | TokenSource::BasicPassword => {}
        }
    }
    Ok(Decision::Forward(Forward {
        path: rewrite::rewritten_path(&route, &enforcement, &config.tenancy.backend),
        remove_headers,
        set_headers,
        body_check,
    }))
}

enum Verified {
    Claims(Claims),
    Await(Decision),
}

/// Full verification of a token not in the cache; a success is remembered
/// under its key when the cache is on.
fn verify_token(
    config: &Config,
    raw_token: &str,
    keys: &mut impl KeyStore,
    cache: Option<(&mut TokenCache, TokenKey)>,
    now_s: u64,
) -> Result<Verified, Refusal> {
    let token = token::parse(raw_token, config.max_token_bytes).map_err(Refusal::InvalidToken)?;
    let (index, provider) =
        verify::provider_for(&token, &config.providers).map_err(Refusal::InvalidToken)?;
    let verified = match keys.key_set(index) {
        Some(key_set) => verify::verify(&token, provider, key_set, keys.signatures(), now_s),
        None => {
            return Ok(Verified::Await(Decision::AwaitKeys {
                provider: index,
                on_timeout: Refusal::KeysUnavailable,
            }))
        }
    };
    match verified {
        Err(TokenError::UnknownKeyId) if keys.wait_for_unknown_kid(index) => {
            return Ok(Verified::Await(Decision::AwaitKeys {
                provider: index,
                on_timeout: Refusal::InvalidToken(TokenError::UnknownKeyId),
            }))
        }
        other => other.map_err(Refusal::InvalidToken)?,
    }
    let valid_until = verify::claims::valid_until_s(&token.claims, provider);
    let claims = Rc::new(token.claims);
    if let (Some((cache, key)), Some(generation)) = (cache, keys.key_generation(index)) {
        cache.insert(key, index, generation, valid_until, claims.clone());
    }
    Ok(Verified::Claims(claims))
}

/// Headers the decision reads; one that is not UTF-8 is refused.
fn is_read_header(config: &Config, name: &str) -> bool {
    matches!(
        name,
        ":method" | ":path" | "authorization" | "content-type" | "cookie"
    ) || config
        .token_sources
        .iter()
        .any(|source| matches!(source, TokenSource::Header { name: header, .. } if header == name))
}

/// The decoded query, only when a token may come in it.
fn token_query<'a>(config: &Config, target: &'a str) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let wanted = config
        .token_sources
        .iter()
        .any(|source| matches!(source, TokenSource::Query { .. }));
    match target.split_once('?') {
        Some((_, query)) if wanted => form_urlencoded::parse(query.as_bytes()).collect(),
        _ => Vec::new(),
    }
}

/// The cookie header without the named cookie; `None` when nothing is left.
fn cookies_without(headers: &[&str], name: &str) -> Option<String> {
    let kept: Vec<&str> = headers
        .iter()
        .flat_map(|header| header.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').is_none_or(|(key, _)| key != name))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Decides about a complete form body held back by [`BodyCheck::Form`].
pub fn check_body(config: &Config, body: &[u8]) -> Result<(), Refusal> {
    if body.len() > config.max_body_bytes {
        return Err(Refusal::Request(rewrite::RewriteError::BodyTooLarge));
    }
    rewrite::check_form_body(body).map_err(Refusal::Request)
}
