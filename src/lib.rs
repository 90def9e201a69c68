//! tenantgate: a proxy-wasm HTTP filter that verifies JWTs and enforces
//! metrics-backend tenancy by rewriting requests in place.
//!
//! The request's way through the filter, one module per step:
//! [`extract`] the token → [`keys`] find the verification key →
//! [`verify`] signature and claims → [`tenancy`] decide the tenant →
//! [`rewrite`] the request → [`reply`] with an error when refused.
//! [`pipeline`] strings the steps together; [`verified`] is what it keeps
//! of a verified token between requests. Everything above is plain Rust
//! that takes the current time as an argument, in two crates:
//! `tenantgate-request` (`request/`), the steps every request takes, built
//! for speed, and `tenantgate-policy` (`policy/`), configuration, keys,
//! verification and tenancy, built for size. Only [`host`] talks to the
//! proxy (and is only built for wasm).

pub use tenantgate_policy::{config, crypto, encoding, keys, tenancy, verify};
pub use tenantgate_request::{extract, header_pairs, pipeline, reply, rewrite, verified};

#[cfg(target_arch = "wasm32")]
mod host;
