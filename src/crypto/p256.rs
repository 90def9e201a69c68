//! ES256: ECDSA over NIST P-256 with SHA-256 (RFC 7518 §3.4).

use super::bigint::limbs_from_hex;
use super::ecdsa::{curve_public_key, fixed_montgomery_mul, CurveSpec};

/// Length of a coordinate, a scalar and each half of a signature, in bytes.
pub const FIELD_BYTES: usize = 32;

const LIMBS: usize = FIELD_BYTES / 4;

/// Curve constants from SEC 2 / NIST SP 800-186.
const P: [u32; LIMBS] =
    limbs_from_hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");

fixed_montgomery_mul!(p_mul, LIMBS, P, [1, 2, 3, 4, 5, 6, 7]);

const SPEC: CurveSpec<LIMBS> = CurveSpec {
    p: P,
    p_mul,
    n: limbs_from_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
    b: limbs_from_hex("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
    gx: limbs_from_hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
    gy: limbs_from_hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
    hash: super::Hash::Sha256,
    base_window: 6,
    key_window: 5,
};

curve_public_key!("P-256");
