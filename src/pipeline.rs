//! One request's way through the filter, as a pure function: the host hands
//! in the request head, the keys it has and the time, and gets back what to
//! do. The order puts cheap refusals first and signature work last.

use crate::config::Config;
use crate::extract::bearer_token;
use crate::keys::KeySet;
use crate::reply::Refusal;
use crate::rewrite::{self, body_check, BodyCheck, TENANT_HEADERS};
use crate::tenancy::{enforce, VmAccess};
use crate::verify::{self, token, TokenError};

/// The parts of a request the decision needs.
#[derive(Debug, Clone, Default)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// `:path`, with the query.
    pub target: &'a str,
    /// Values of every `Authorization` header.
    pub authorization: Vec<&'a str>,
    /// Values of every `Content-Type` header.
    pub content_type: Vec<&'a str>,
    /// One of the headers above was not valid UTF-8.
    pub undecodable_header: bool,
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
    /// A token names a `kid` the provider's set lacks: whether the request
    /// should wait for the set to be fetched again.
    fn wait_for_unknown_kid(&mut self, provider: usize) -> bool;
}

/// A fixed key set per provider, never refetched.
pub struct StaticKeys<'a>(pub Vec<Option<&'a KeySet>>);

impl KeyStore for StaticKeys<'_> {
    fn key_set(&self, provider: usize) -> Option<&KeySet> {
        self.0.get(provider).copied().flatten()
    }

    fn wait_for_unknown_kid(&mut self, _provider: usize) -> bool {
        false
    }
}

/// How to change the request before it goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub path: String,
    pub remove_headers: Vec<&'static str>,
    pub body_check: BodyCheck,
}

/// Decides about one request.
pub fn decide(
    config: &Config,
    head: &RequestHead<'_>,
    keys: &mut impl KeyStore,
    now_s: u64,
) -> Decision {
    match decide_inner(config, head, keys, now_s) {
        Ok(decision) => decision,
        Err(refusal) => Decision::Refuse(refusal),
    }
}

fn decide_inner(
    config: &Config,
    head: &RequestHead<'_>,
    keys: &mut impl KeyStore,
    now_s: u64,
) -> Result<Decision, Refusal> {
    if head.undecodable_header {
        return Err(Refusal::Request(rewrite::RewriteError::UndecodableHeader));
    }
    let raw_token = bearer_token(&head.authorization).map_err(Refusal::Credentials)?;
    let token = token::parse(raw_token, config.max_token_bytes).map_err(Refusal::InvalidToken)?;
    let (index, provider) =
        verify::provider_for(&token, &config.providers).map_err(Refusal::InvalidToken)?;
    let verified = match keys.key_set(index) {
        Some(key_set) => verify::verify(&token, provider, key_set, now_s),
        None => {
            return Ok(Decision::AwaitKeys {
                provider: index,
                on_timeout: Refusal::KeysUnavailable,
            })
        }
    };
    match verified {
        Err(TokenError::UnknownKeyId) if keys.wait_for_unknown_kid(index) => {
            return Ok(Decision::AwaitKeys {
                provider: index,
                on_timeout: Refusal::InvalidToken(TokenError::UnknownKeyId),
            })
        }
        other => other.map_err(Refusal::InvalidToken)?,
    }

    let route = rewrite::route(head.method, head.target).map_err(Refusal::Request)?;
    let access = VmAccess::from_claim(token.claims.get(&config.tenancy.claim))
        .map_err(Refusal::Forbidden)?;
    let enforcement = enforce(&access, &config.tenancy.backend, route.endpoint.operation)
        .map_err(Refusal::Forbidden)?;
    let body_check = body_check(&head.content_type).map_err(Refusal::Request)?;

    let mut remove_headers = TENANT_HEADERS.to_vec();
    if !config.forward_authorization {
        remove_headers.push("authorization");
    }
    Ok(Decision::Forward(Forward {
        path: rewrite::rewritten_path(&route, &enforcement, &config.tenancy.backend),
        remove_headers,
        body_check,
    }))
}

/// Decides about a complete form body held back by [`BodyCheck::Form`].
pub fn check_body(config: &Config, body: &[u8]) -> Result<(), Refusal> {
    if body.len() > config.max_body_bytes {
        return Err(Refusal::Request(rewrite::RewriteError::BodyTooLarge));
    }
    rewrite::check_form_body(body).map_err(Refusal::Request)
}
