//! ES256: ECDSA over NIST P-256 with SHA-256 (RFC 7518 §3.4).

use std::fmt;
use std::sync::OnceLock;

use super::bigint::limbs_from_hex;
use super::ecdsa::{fixed_montgomery_mul, Curve, CurveSpec, VerifyingKey};
use super::KeyError;

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
    // Table sizes: G 43 x 32 x 64 B = 86 KiB, once; Q 52 windows x 16 points x 64 B = 52 KiB per key.
    // Wider windows mean fewer additions per verification but more memory.
    base_window: 6,
    key_window: 5,
};

/// The curve and its base-point table, built on first use.
fn curve() -> &'static Curve<LIMBS> {
    static CURVE: OnceLock<Curve<LIMBS>> = OnceLock::new();
    CURVE.get_or_init(|| Curve::new(&SPEC))
}

/// A P-256 public key, validated, with its table of multiples.
#[derive(Clone, PartialEq)]
pub struct PublicKey(VerifyingKey<LIMBS>);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("p256::PublicKey")
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
