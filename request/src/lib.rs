//! A request's way through tenantgate, as plain Rust that takes the current
//! time as an argument: [`extract`] the token, find it among the
//! [`verified`] ones or verify it (with `tenantgate-policy`), [`rewrite`]
//! the request for the tenancy it is granted, or [`reply`] with an error.
//! [`pipeline`] strings the steps together; [`header_pairs`] reads the
//! header block a proxy-wasm host hands over. Built for speed: it runs on
//! every request.

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

pub use tenantgate_policy::{config, crypto, encoding, keys, tenancy, verify};

pub mod extract;
pub mod header_pairs;
pub mod pipeline;
pub mod reply;
pub mod rewrite;
pub mod verified;
