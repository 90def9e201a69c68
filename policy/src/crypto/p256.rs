//! ES256: ECDSA over NIST P-256 with SHA-256 (RFC 7518 §3.4).

use super::bigint::limbs_from_hex;
use super::ecdsa::{curve_public_key, fixed_modular_arithmetic, CurveSpec};

/// Length of a coordinate, a scalar and each half of a signature, in bytes.
pub const FIELD_BYTES: usize = 32;

const LIMBS: usize = FIELD_BYTES / 4;

/// Curve constants from SEC 2 / NIST SP 800-186.
const P: [u32; LIMBS] =
    limbs_from_hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");

// p = 2^256 - 2^224 + 2^192 + 2^96 - 1, but multiplying by its limbs
// measured faster in V8 than adding and subtracting those terms: three of
// its limbs are all ones and share one product.
fixed_modular_arithmetic!(
    FieldArithmetic,
    LIMBS,
    P,
    [0, 1, 2, 3, 4, 5, 6, 7],
    reduce_by_limbs
);

const SPEC: CurveSpec<LIMBS> = CurveSpec {
    p: P,
    n: limbs_from_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
    b: limbs_from_hex("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
    gx: limbs_from_hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
    gy: limbs_from_hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
    hash: super::Hash::Sha256,
    // Table sizes: G 43 x 32 x 64 B = 86 KiB, once; Q 52 windows x 16 points x 64 B = 52 KiB per key.
    // Wider windows mean fewer additions per verification but more memory.
    base_window: 6,
    key_window: 5,
};

curve_public_key!("P-256", FieldArithmetic);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KeyError;

    const GX: &str = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    const GY: &str = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn accepts_a_point_on_the_curve_in_every_encoding() {
        let key = PublicKey::from_affine(&bytes(GX), &bytes(GY)).unwrap();
        let uncompressed = key.to_sec1_uncompressed();
        assert_eq!(uncompressed, [vec![4], bytes(GX), bytes(GY)].concat());
        assert_eq!(PublicKey::from_sec1(&uncompressed).unwrap(), key);
        // Gy is odd.
        let compressed = [vec![3], bytes(GX)].concat();
        assert_eq!(PublicKey::from_sec1(&compressed).unwrap(), key);
        let other = PublicKey::from_sec1(&[vec![2], bytes(GX)].concat()).unwrap();
        assert_ne!(other, key);
    }

    #[test]
    fn refuses_points_off_the_curve_out_of_range_or_badly_encoded() {
        let mut y = bytes(GY);
        y[31] ^= 1;
        assert_eq!(
            PublicKey::from_affine(&bytes(GX), &y),
            Err(KeyError::NotOnCurve)
        );
        assert_eq!(
            PublicKey::from_affine(&[0; 32], &[0; 32]),
            Err(KeyError::NotOnCurve)
        );
        let p = bytes("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
        assert_eq!(
            PublicKey::from_affine(&p, &bytes(GY)),
            Err(KeyError::CoordinateOutOfRange)
        );
        assert_eq!(
            PublicKey::from_affine(&bytes(GX)[1..], &bytes(GY)),
            Err(KeyError::Encoding)
        );
        assert_eq!(PublicKey::from_sec1(&[0]), Err(KeyError::Identity));
        assert_eq!(PublicKey::from_sec1(&[]), Err(KeyError::Encoding));
        let wrong_tag = [vec![5], bytes(GX), bytes(GY)].concat();
        assert_eq!(PublicKey::from_sec1(&wrong_tag), Err(KeyError::Encoding));
    }

    #[test]
    fn signatures_of_the_wrong_length_or_with_zero_halves_fail() {
        let key = PublicKey::from_affine(&bytes(GX), &bytes(GY)).unwrap();
        for signature in [vec![1u8; 63], vec![1u8; 65], vec![0u8; 64], vec![]] {
            assert!(!key.verify(b"message", &signature));
        }
    }

    #[test]
    fn written_out_field_arithmetic_matches_the_generic_one() {
        crate::crypto::ecdsa::check_fixed_arithmetic::<FieldArithmetic, LIMBS>(&P);
    }
}
