//! A verified token as the pipeline keeps it in the token cache: its
//! claims, and what they grant, worked out on the first request that needs
//! it and reused by every later request with the same token. A token cache
//! lives and dies with one configuration, so nothing kept here outlives the
//! settings it was worked out under.

use std::cell::OnceCell;
use std::rc::Rc;

use crate::config::{Config, Tenancy};
use crate::rewrite::query::enforcement_arguments;
use crate::tenancy::{self, enforce, Enforcement, Grant, Operation, TenancyError};

pub use crate::verify::token::Claims;

pub struct VerifiedToken {
    pub claims: Claims,
    grant: OnceCell<Result<Grant, TenancyError>>,
    /// Per operation (read, write): what a request that names no tenant
    /// must carry.
    unnamed: [OnceCell<Result<Rc<Enforced>, TenancyError>>; 2],
    /// Per configured identity header: its value, when the token has one.
    identity: OnceCell<Vec<Option<String>>>,
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
    pub fn new(claims: Claims) -> VerifiedToken {
        VerifiedToken {
            claims,
            grant: OnceCell::new(),
            unnamed: [OnceCell::new(), OnceCell::new()],
            identity: OnceCell::new(),
        }
    }

    /// What the claims grant under `tenancy`.
    pub fn grant(&self, tenancy: &Tenancy) -> Result<&Grant, TenancyError> {
        self.grant
            .get_or_init(|| tenancy::grant(tenancy, &self.claims))
            .as_ref()
            .map_err(|error| *error)
    }

    /// What one operation must carry. Only requests that name no tenant
    /// are remembered; a named tenant is worked out each time.
    pub fn enforced(
        &self,
        tenancy: &Tenancy,
        operation: Operation,
        requested: Option<&str>,
    ) -> Result<Rc<Enforced>, TenancyError> {
        let backend = &tenancy.backend;
        let Some(requested) = requested else {
            let slot = match operation {
                Operation::Read => &self.unnamed[0],
                Operation::Write => &self.unnamed[1],
            };
            return slot
                .get_or_init(|| {
                    let grant = self.grant(tenancy)?;
                    Ok(Rc::new(Enforced::new(enforce(
                        grant, backend, operation, None,
                    )?)))
                })
                .clone();
        };
        let grant = self.grant(tenancy)?;
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
