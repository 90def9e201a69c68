//! What tenantgate trusts and grants: the [`config`]uration, the providers'
//! [`keys`], token [`verify`]ing and its signature arithmetic ([`crypto`]),
//! and [`tenancy`], what a token's claims grant. The request path
//! (`tenantgate-request`) calls into it; it is built for size, the request
//! path for speed.

pub mod config;
pub mod crypto;
pub mod encoding;
pub mod keys;
pub mod tenancy;
pub mod verify;
