//! ES384: ECDSA over NIST P-384 with SHA-384 (RFC 7518 §3.4).

use std::fmt;
use std::sync::OnceLock;

use super::bigint::limbs_from_hex;
use super::ecdsa::{fixed_montgomery_mul, Curve, CurveSpec, VerifyingKey};
use super::KeyError;

/// Length of a coordinate, a scalar and each half of a signature, in bytes.
pub const FIELD_BYTES: usize = 48;

const LIMBS: usize = FIELD_BYTES / 4;

/// Curve constants from SEC 2 / NIST SP 800-186.
const P: [u32; LIMBS] = limbs_from_hex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff");

fixed_montgomery_mul!(p_mul, LIMBS, P, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

const SPEC: CurveSpec<LIMBS> = CurveSpec {
    p: P,
    p_mul,
    n: limbs_from_hex("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"),
    b: limbs_from_hex("b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef"),
    gx: limbs_from_hex("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"),
    gy: limbs_from_hex("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f"),
    hash: super::Hash::Sha384,
    // Table sizes: G 65 x 32 x 96 B = 195 KiB, once; Q 77 windows x 16 points x 96 B = 115 KiB per key.
    // Wider windows mean fewer additions per verification but more memory.
    base_window: 6,
    key_window: 5,
};

/// The curve and its base-point table, built on first use.
fn curve() -> &'static Curve<LIMBS> {
    static CURVE: OnceLock<Curve<LIMBS>> = OnceLock::new();
    CURVE.get_or_init(|| Curve::new(&SPEC))
}

/// A P-384 public key, validated, with its table of multiples.
#[derive(Clone, PartialEq)]
pub struct PublicKey(VerifyingKey<LIMBS>);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("p384::PublicKey")
            .field(&super::hex(&self.to_sec1_uncompressed()))
            .finish()
    }
}

impl PublicKey {
    /// A key from big-endian affine coordinates of exactly [`FIELD_BYTES`]
    /// bytes each (the JWK `x` and `y`, RFC 7518 §6.2.1).
    pub fn from_affine(x: &[u8], y: &[u8]) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_affine(curve(), x, y).map(PublicKey)
    }

    /// A key from its SEC 1 encoding, uncompressed or compressed.
    pub fn from_sec1(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_sec1(curve(), bytes).map(PublicKey)
    }

    /// `0x04 || x || y`.
    pub fn to_sec1_uncompressed(&self) -> Vec<u8> {
        self.0.to_sec1_uncompressed()
    }

    /// Whether `signature`, the JWS form `r || s` of exactly
    /// `2 * FIELD_BYTES` bytes, is a valid signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(message, signature)
    }
}
