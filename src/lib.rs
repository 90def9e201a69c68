//! tenantgate: a proxy-wasm HTTP filter that verifies JWTs and enforces
//! metrics-backend tenancy by rewriting requests in place.
//!
//! The request's way through the filter, one module per step:
//! [`extract`] the token → [`keys`] find the verification key →
//! [`verify`] signature and claims → [`tenancy`] decide the tenant →
//! [`rewrite`] the request → [`reply`] with an error when refused.
//! [`pipeline`] strings the steps together; [`verified`] is what it keeps
//! of a verified token between requests. Everything above is plain Rust
//! that takes the current time as an argument; only [`host`] talks to the
//! proxy (and is only built for wasm).

/// A table of the bytes `$byte` for which `$accepts` holds, built at
/// compile time: checks that run over whole tokens and paths on every
/// request look each byte up instead of testing a chain of comparisons.
macro_rules! byte_table {
    (|$byte:ident| $accepts:expr) => {{
        let mut table = [false; 256];
        let mut index = 0;
        while index < 256 {
            let $byte = index as u8;
            table[index] = $accepts;
            index += 1;
        }
        table
    }};
}

pub mod config;
pub mod crypto;
pub mod encoding;
pub mod extract;
pub mod header_pairs;
pub mod keys;
pub mod pipeline;
pub mod reply;
pub mod rewrite;
pub mod tenancy;
pub mod verified;
pub mod verify;

#[cfg(target_arch = "wasm32")]
mod host;
