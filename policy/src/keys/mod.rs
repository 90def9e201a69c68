//! Verification keys: parsing key sets and discovery documents, and the
//! schedule of fetching them. Fetching itself is done by the host.

pub mod der;
pub mod discovery;
pub mod http_target;
pub mod jwks;
pub mod local;
pub mod material;
pub mod pem;
pub mod schedule;

pub use jwks::{parse_jwks, Jwk, JwksError, KeySet};
pub use material::{Curve, KeyError, PublicKey};
