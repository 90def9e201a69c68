//! ES384: ECDSA over NIST P-384 with SHA-384 (RFC 7518 §3.4).

use super::bigint::limbs_from_hex;
use super::ecdsa::{curve_public_key, fixed_modular_arithmetic, CurveSpec};

/// Length of a coordinate, a scalar and each half of a signature, in bytes.
pub const FIELD_BYTES: usize = 48;

const LIMBS: usize = FIELD_BYTES / 4;

/// Curve constants from SEC 2 / NIST SP 800-186.
const P: [u32; LIMBS] = limbs_from_hex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff");

// p = 2^384 - 2^128 - 2^96 + 2^32 - 1: five terms instead of twelve limbs
// to multiply, about a fifth faster in V8.
fixed_modular_arithmetic!(
    FieldArithmetic,
    LIMBS,
    P,
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    reduce_by_terms [(0, -), (1, +), (3, -), (4, -), (12, +)]
);

const SPEC: CurveSpec<LIMBS> = CurveSpec {
    p: P,
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

curve_public_key!("P-384", FieldArithmetic);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_out_field_arithmetic_matches_the_generic_one() {
        crate::crypto::ecdsa::check_fixed_arithmetic::<FieldArithmetic, LIMBS>(&P);
    }
}
