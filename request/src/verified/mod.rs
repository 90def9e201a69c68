//! Verified tokens as the pipeline keeps them in the token cache: their
//! claims, and what they grant, worked out once and reused by every later
//! request with the same token. A token cache lives and dies with one
//! configuration, so nothing kept here outlives the settings it was worked
//! out under.

mod grant_memo;
mod token_cache;

use std::cell::OnceCell;
use std::rc::Rc;

use crate::config::{Config, Tenancy};
use crate::rewrite::query::enforcement_arguments;
use crate::tenancy::{enforce, Enforcement, Grant, Operation, TenancyError};

pub use crate::verify::token::Claims;
pub use grant_memo::GrantMemo;
use grant_memo::GRANT_MEMO_SIZE;
pub use token_cache::TokenKey;

pub struct VerifiedToken {
    pub claims: Claims,
    /// Shared with every other token whose mapped claim is the same value.
    tenancy: Rc<Granted>,
    /// Per configured identity header: its value, when the token has one.
    identity: OnceCell<Vec<Option<String>>>,
}

/// What one value of the mapped claim grants, and what a request that
/// names no tenant must carry for it.
#[derive(Debug)]
pub struct Granted {
    grant: Result<Grant, TenancyError>,
    /// Per operation (read, write).
    unnamed: [OnceCell<Result<Rc<Enforced>, TenancyError>>; 2],
}

impl Granted {
    fn new(grant: Result<Grant, TenancyError>) -> Granted {
        Granted {
            grant,
            unnamed: [OnceCell::new(), OnceCell::new()],
        }
    }
}

/// An enforcement with its query arguments encoded once.
#[derive(Debug, PartialEq, Eq)]
pub struct Enforced {
    pub enforcement: Enforcement,
    /// `extra_label=...&extra_filters=...`, empty when there are none.
    pub query_arguments: String,
}

impl Enforced {
    pub fn new(enforcement: Enforcement) -> Enforced {
        let query_arguments = enforcement_arguments(&enforcement);
        Enforced {
            enforcement,
            query_arguments,
        }
    }
}

impl VerifiedToken {
    /// `tenancy` is what the token's mapped claim grants (see
    /// [`GrantMemo::verified_token`]).
    fn new(claims: Claims, tenancy: Rc<Granted>) -> VerifiedToken {
        VerifiedToken {
            claims,
            tenancy,
            identity: OnceCell::new(),
        }
    }

    /// What the claims grant.
    fn grant(&self) -> Result<&Grant, TenancyError> {
        self.tenancy.grant.as_ref().map_err(|error| *error)
    }

    /// What one operation must carry. Only requests that name no tenant
    /// are remembered; a named tenant is worked out each time.
    #[inline]
    pub fn enforced(
        &self,
        tenancy: &Tenancy,
        operation: Operation,
        requested: Option<&str>,
    ) -> Result<Rc<Enforced>, TenancyError> {
        let backend = &tenancy.backend;
        let Some(requested) = requested else {
            let slot = match operation {
                Operation::Read => &self.tenancy.unnamed[0],
                Operation::Write => &self.tenancy.unnamed[1],
            };
            return slot
                .get_or_init(|| {
                    let grant = self.grant()?;
                    Ok(Rc::new(Enforced::new(enforce(
                        grant, backend, operation, None,
                    )?)))
                })
                .clone();
        };
        let grant = self.grant()?;
        Ok(Rc::new(Enforced::new(enforce(
            grant,
            backend,
            operation,
            Some(requested),
        )?)))
    }

    /// The value of each configured identity header, in configuration
    /// order; `None` where the token lacks the claim or its value cannot
    /// be sent.
    pub fn identity_values(&self, config: &Config) -> &[Option<String>] {
        self.identity.get_or_init(|| {
            config
                .identity_headers
                .iter()
                .map(|identity| identity.value(&self.claims))
                .collect()
        })
    }
}

/// Verified tokens, and the grants of the claim values they carry. Off
/// (size 0), neither tokens nor grants are remembered.
pub struct TokenCache {
    pub tokens: token_cache::TokenCache<VerifiedToken>,
    pub grants: GrantMemo,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns it off.
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            tokens: token_cache::TokenCache::new(capacity),
            grants: GrantMemo::new(capacity.min(GRANT_MEMO_SIZE)),
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// See [`token_cache::TokenCache::key_of`].
    #[inline]
    pub fn key_of(&self, token: &str) -> Option<TokenKey> {
        self.tokens.key_of(token)
    }
}
