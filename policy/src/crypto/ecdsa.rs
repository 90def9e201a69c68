//! ECDSA verification (FIPS 186-5 §6.4.2) over short Weierstrass curves with
//! `a = -3` and cofactor 1, generic in the number `N` of 32-bit limbs.
//!
//! Field elements are kept in Montgomery form. Points are Jacobian
//! `(X, Y, Z)` with `Z = 0` for the point at infinity. `u1*G + u2*Q` is
//! computed without doublings: the scalars are cut into signed windows and
//! each window adds one precomputed affine multiple, from a table for `G`
//! built once per curve and a table for `Q` built once per key.
//!
//! Only public values pass through here, so running time may depend on
//! them.

use std::cmp::Ordering;
use std::marker::PhantomData;
use std::sync::Arc;

use super::bigint::{self, is_zero};
use super::{Hash, KeyError};

type Limbs<const N: usize> = [u32; N];

/// The largest `N` in use (P-384).
const MAX_LIMBS: usize = 12;

/// Arithmetic modulo `m` for one kind of modulus: a type per curve field,
/// so that the point formulas call its written-out code directly rather
/// than through a function pointer. Operands are below `m`.
pub(crate) trait ModularArithmetic<const N: usize> {
    /// Montgomery multiplication, `a * b / R mod m`.
    fn mul(m: &Limbs<N>, factor: u32, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N>;

    /// Montgomery squaring, the same as `mul(m, factor, a, a)`.
    #[inline(always)]
    fn square(m: &Limbs<N>, factor: u32, a: &Limbs<N>) -> Limbs<N> {
        Self::mul(m, factor, a, a)
    }

    /// `a + b mod m`.
    #[inline(always)]
    fn add(m: &Limbs<N>, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        let mut sum = *a;
        let carry = bigint::add_assign(&mut sum, b);
        if carry || bigint::compare(&sum, m) != Ordering::Less {
            bigint::sub_assign(&mut sum, m);
        }
        sum
    }

    /// `a - b mod m`.
    #[inline(always)]
    fn sub(m: &Limbs<N>, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        let mut difference = *a;
        if bigint::sub_assign(&mut difference, b) {
            bigint::add_assign(&mut difference, m);
        }
        difference
    }
}

/// Any odd modulus given at run time (the curve orders).
#[derive(Clone, Copy)]
pub(crate) struct AnyOddModulus;

impl<const N: usize> ModularArithmetic<N> for AnyOddModulus {
    fn mul(m: &Limbs<N>, factor: u32, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        let mut product = [0u32; N];
        let mut wide = [0u32; 2 * MAX_LIMBS];
        bigint::mont_mul_wide(&mut product, &mut wide, a, b, m, factor);
        product
    }
}

/// Defines the type `$name`, whose [`ModularArithmetic`] works modulo a
/// constant `M` of `$limbs` limbs; `[$j]` lists 0..$limbs. With
/// `reduce_by_terms [(exponent, sign), ..]`, `M` is a sum of signed powers
/// of 2^32 (checked when building) and the Montgomery reduction adds and
/// subtracts instead of multiplying; with `reduce_by_limbs` it multiplies
/// by the limbs of `M`.
/// Every limb and every product is written out, so the values stay in
/// registers and the size-optimised release build keeps no loop over the
/// limbs.
///
/// Multiplication and squaring sum the 64-bit partial products into one
/// signed 64-bit column per limb position, low and high halves apart, and
/// carry between columns only where the reduction needs an exact limb and
/// once at the end. Without a carry chain through every product the
/// additions are independent of each other, and the square computes each
/// cross product `a_i * a_j` once and doubles the columns.
macro_rules! fixed_modular_arithmetic {
    ($name:ident, $limbs:expr, $modulus:expr, $js:tt, reduce_by_terms $terms:tt) => {
        const _: () = assert!(
            $crate::crypto::ecdsa::is_sum_of_terms(&$modulus, &$crate::crypto::ecdsa::terms!($terms)),
            "the terms do not add up to the modulus, or it is not -1 mod 2^32"
        );
        $crate::crypto::ecdsa::fixed_modular_arithmetic!(@define $name, $limbs, $modulus, $js, $terms);
    };
    ($name:ident, $limbs:expr, $modulus:expr, $js:tt, reduce_by_limbs) => {
        $crate::crypto::ecdsa::fixed_modular_arithmetic!(@define $name, $limbs, $modulus, $js, $js);
    };
    (@define $name:ident, $limbs:expr, $modulus:expr, [$($j:literal),+], $reduction:tt) => {
        #[derive(Clone, Copy)]
        pub(crate) struct $name;

        impl $name {
            const M: [u32; $limbs] = $modulus;

            /// `columns / R mod M` for the columns of a product of values
            /// below `M`, fully reduced.
            #[inline(always)]
            fn reduce(mut columns: [i64; 2 * $limbs]) -> [u32; $limbs] {
                let mut carry = 0i64;
                $crate::crypto::ecdsa::reduction_rows!(columns, carry, [$($j),+], $reduction);
                let mut t = [0u32; $limbs];
                $(
                    let limb = columns[$limbs + $j] + carry;
                    t[$j] = limb as u32;
                    carry = limb >> 32;
                )+
                // Below 2M: subtract M once when it fits.
                Self::subtract_modulus_if_not_below(t, carry != 0)
            }

            /// `t - M` when `t` (plus `overflow * R`) is at least `M`.
            #[inline(always)]
            fn subtract_modulus_if_not_below(t: [u32; $limbs], overflow: bool) -> [u32; $limbs] {
                let mut reduced = [0u32; $limbs];
                let mut borrow = 0u64;
                $(
                    let limb = u64::from(t[$j])
                        .wrapping_sub(u64::from(Self::M[$j]))
                        .wrapping_sub(borrow);
                    reduced[$j] = limb as u32;
                    borrow = limb >> 63;
                )+
                // At least M when it overflowed or M subtracts without a
                // borrow.
                if overflow || borrow == 0 {
                    reduced
                } else {
                    t
                }
            }
        }

        impl $crate::crypto::ecdsa::ModularArithmetic<$limbs> for $name {
            fn mul(
                _m: &[u32; $limbs],
                _factor: u32,
                a: &[u32; $limbs],
                b: &[u32; $limbs],
            ) -> [u32; $limbs] {
                let mut columns = [0i64; 2 * $limbs];
                $crate::crypto::ecdsa::product_rows!(columns, a, b, [$($j),+], [$($j),+]);
                Self::reduce(columns)
            }

            fn square(_m: &[u32; $limbs], _factor: u32, a: &[u32; $limbs]) -> [u32; $limbs] {
                let mut columns = [0i64; 2 * $limbs];
                $crate::crypto::ecdsa::cross_product_rows!(columns, a, [$($j),+], [$($j),+]);
                $(
                    let square = u64::from(a[$j]) * u64::from(a[$j]);
                    columns[2 * $j] = 2 * columns[2 * $j] + (square & 0xffff_ffff) as i64;
                    columns[2 * $j + 1] = 2 * columns[2 * $j + 1] + (square >> 32) as i64;
                )+
                Self::reduce(columns)
            }

            fn add(_m: &[u32; $limbs], a: &[u32; $limbs], b: &[u32; $limbs]) -> [u32; $limbs] {
                let mut sum = [0u32; $limbs];
                let mut carry = 0u64;
                $(
                    let limb = u64::from(a[$j]) + u64::from(b[$j]) + carry;
                    sum[$j] = limb as u32;
                    carry = limb >> 32;
                )+
                Self::subtract_modulus_if_not_below(sum, carry != 0)
            }

            // The carry out of the top limb when adding M back is dropped:
            // that is the wrap back into range.
            #[allow(unused_assignments)]
            fn sub(_m: &[u32; $limbs], a: &[u32; $limbs], b: &[u32; $limbs]) -> [u32; $limbs] {
                let mut difference = [0u32; $limbs];
                let mut borrow = 0u64;
                $(
                    let limb = u64::from(a[$j])
                        .wrapping_sub(u64::from(b[$j]))
                        .wrapping_sub(borrow);
                    difference[$j] = limb as u32;
                    borrow = limb >> 63;
                )+
                if borrow == 0 {
                    return difference;
                }
                // Wrapped below zero: adding M brings it back.
                let mut carry = 0u64;
                $(
                    let limb = u64::from(difference[$j]) + u64::from(Self::M[$j]) + carry;
                    difference[$j] = limb as u32;
                    carry = limb >> 32;
                )+
                difference
            }
        }
    };
}
pub(crate) use fixed_modular_arithmetic;

/// Adds `a_i * b_j` into columns `i + j` (low half) and `i + j + 1` (high
/// half) for every `i` and `j`; `$js` is the bracketed list of `j`.
macro_rules! product_rows {
    ($columns:ident, $a:ident, $b:ident, [$($i:literal),+], $js:tt) => {
        $( $crate::crypto::ecdsa::product_row!($columns, $a, $b, $i, $js); )+
    };
}
pub(crate) use product_rows;

macro_rules! product_row {
    ($columns:ident, $a:ident, $b:ident, $i:literal, [$($j:literal),+]) => {
        $(
            let product = u64::from($a[$i]) * u64::from($b[$j]);
            $columns[$i + $j] += (product & 0xffff_ffff) as i64;
            $columns[$i + $j + 1] += (product >> 32) as i64;
        )+
    };
}
pub(crate) use product_row;

/// [`product_rows`] of `a` with itself for `i < j` only.
macro_rules! cross_product_rows {
    ($columns:ident, $a:ident, [$($i:literal),+], $js:tt) => {
        $( $crate::crypto::ecdsa::cross_product_row!($columns, $a, $i, $js); )+
    };
}
pub(crate) use cross_product_rows;

macro_rules! cross_product_row {
    ($columns:ident, $a:ident, $i:literal, [$($j:literal),+]) => {
        $(
            if $crate::crypto::ecdsa::is_cross_product($i, $j) {
                let product = u64::from($a[$i]) * u64::from($a[$j]);
                $columns[$i + $j] += (product & 0xffff_ffff) as i64;
                $columns[$i + $j + 1] += (product >> 32) as i64;
            }
        )+
    };
}
pub(crate) use cross_product_row;

/// Whether `a_i * a_j` is one of the cross products a square counts once.
#[inline(always)]
pub(crate) const fn is_cross_product(i: usize, j: usize) -> bool {
    i < j
}

/// Montgomery reduction rows over product columns, in the scope of a type
/// with `M` and `FACTOR`. Row `i` first takes the carry out of column
/// `i - 1`, which makes column `i` exact modulo 2^32, then adds `q * M` at
/// column `i` with `q` chosen so that the column becomes a multiple of
/// 2^32. `$carry` ends as the carry into column `$limbs`.
///
/// `$reduction` says how `q * M` is added: a list of `(exponent, sign)`
/// terms adds or subtracts `q` once per term (for `M = -1 mod 2^32`, `q` is
/// the column itself); a list of limb indices multiplies every limb of `M`,
/// and limbs that are 0, 1 or repeat fold away.
macro_rules! reduction_rows {
    ($columns:ident, $carry:ident, [$($i:literal),+], $reduction:tt) => {
        $( $crate::crypto::ecdsa::reduction_row!($columns, $carry, $i, $reduction); )+
    };
}
pub(crate) use reduction_rows;

macro_rules! reduction_row {
    ($columns:ident, $carry:ident, $i:literal, [$(($exponent:literal, $sign:tt)),+]) => {
        $columns[$i] += $carry;
        let quotient = $columns[$i] & 0xffff_ffff;
        $( $crate::crypto::ecdsa::add_term!($columns[$i + $exponent], $sign, quotient); )+
        $carry = $columns[$i] >> 32;
    };
    ($columns:ident, $carry:ident, $i:literal, [$($j:literal),+]) => {
        $columns[$i] += $carry;
        let factor = const { $crate::crypto::bigint::montgomery_factor(Self::M[0]) };
        let quotient = u64::from(($columns[$i] as u32).wrapping_mul(factor));
        $(
            let product = quotient * u64::from(Self::M[$j]);
            $columns[$i + $j] += (product & 0xffff_ffff) as i64;
            $columns[$i + $j + 1] += (product >> 32) as i64;
        )+
        $carry = $columns[$i] >> 32;
    };
}
pub(crate) use reduction_row;

/// The `(exponent, sign)` list of [`fixed_modular_arithmetic`] as an array.
macro_rules! terms {
    ([$(($exponent:literal, $sign:tt)),+]) => {
        [$(($exponent, $crate::crypto::ecdsa::sign!($sign))),+]
    };
}
pub(crate) use terms;

/// `$place += $value` or `$place -= $value` by the sign of a term.
macro_rules! add_term {
    ($place:expr, +, $value:expr) => {
        $place += $value
    };
    ($place:expr, -, $value:expr) => {
        $place -= $value
    };
}
pub(crate) use add_term;

macro_rules! sign {
    (+) => {
        1
    };
    (-) => {
        -1
    };
}
pub(crate) use sign;

/// Whether `m` is the sum of `sign * 2^(32 * exponent)` over `terms` and
/// is -1 mod 2^32, as the reduction of [`fixed_modular_arithmetic`] needs.
pub(crate) const fn is_sum_of_terms<const N: usize>(m: &Limbs<N>, terms: &[(usize, i64)]) -> bool {
    let mut limbs = [0i64; MAX_LIMBS + 1];
    let mut index = 0;
    while index < terms.len() {
        let (exponent, sign) = terms[index];
        if exponent > N || (sign != 1 && sign != -1) {
            return false;
        }
        limbs[exponent] += sign;
        index += 1;
    }
    let mut carry = 0i64;
    let mut limb = 0;
    while limb < N {
        let value = limbs[limb] + carry;
        if value as u32 != m[limb] {
            return false;
        }
        carry = value >> 32;
        limb += 1;
    }
    limbs[N] + carry == 0 && m[0] == u32::MAX
}

/// Defines, in a curve's module, the curve (its base-point table built on
/// first use) and its `PublicKey` type, from the module's `SPEC` and `LIMBS`
/// and the type of its field multiplication.
macro_rules! curve_public_key {
    ($name:literal, $field:ty) => {
        fn curve() -> &'static $crate::crypto::ecdsa::Curve<$field, LIMBS> {
            static CURVE: std::sync::OnceLock<$crate::crypto::ecdsa::Curve<$field, LIMBS>> =
                std::sync::OnceLock::new();
            CURVE.get_or_init(|| $crate::crypto::ecdsa::Curve::new(&SPEC))
        }

        #[doc = concat!("A ", $name, " public key, validated, with its table of multiples.")]
        #[derive(Clone, PartialEq)]
        pub struct PublicKey($crate::crypto::ecdsa::VerifyingKey<$field, LIMBS>);

        impl std::fmt::Debug for PublicKey {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(concat!($name, " PublicKey"))
                    .field(&$crate::crypto::hex(&self.to_sec1_uncompressed()))
                    .finish()
            }
        }

        impl PublicKey {
            /// A key from big-endian affine coordinates of exactly
            /// `FIELD_BYTES` bytes each (the JWK `x` and `y`, RFC 7518 §6.2.1).
            pub fn from_affine(x: &[u8], y: &[u8]) -> Result<PublicKey, $crate::crypto::KeyError> {
                $crate::crypto::ecdsa::VerifyingKey::from_affine(curve(), x, y).map(PublicKey)
            }

            /// A key from its SEC 1 encoding, uncompressed or compressed.
            pub fn from_sec1(bytes: &[u8]) -> Result<PublicKey, $crate::crypto::KeyError> {
                $crate::crypto::ecdsa::VerifyingKey::from_sec1(curve(), bytes).map(PublicKey)
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
    };
}
pub(crate) use curve_public_key;

/// Arithmetic modulo an odd `m`, in Montgomery form where it multiplies.
pub(crate) struct Modulus<F, const N: usize> {
    m: Limbs<N>,
    factor: u32,
    /// How to compute: written out for the modulus, or for any.
    arithmetic: PhantomData<F>,
    r_squared: Limbs<N>,
    /// 1 in Montgomery form (`R mod m`).
    one: Limbs<N>,
}

impl<F: ModularArithmetic<N>, const N: usize> Modulus<F, N> {
    fn new(m: Limbs<N>) -> Modulus<F, N> {
        let mut r_squared = [0u32; N];
        r_squared.copy_from_slice(&bigint::montgomery_r_squared(&m));
        let mut modulus = Modulus {
            m,
            factor: bigint::montgomery_factor(m[0]),
            arithmetic: PhantomData,
            r_squared,
            one: [0; N],
        };
        modulus.one = modulus.to_montgomery(&small(1));
        modulus
    }

    #[inline(always)]
    fn mul(&self, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        F::mul(&self.m, self.factor, a, b)
    }

    #[inline(always)]
    fn square(&self, a: &Limbs<N>) -> Limbs<N> {
        F::square(&self.m, self.factor, a)
    }

    #[inline(always)]
    fn add(&self, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        F::add(&self.m, a, b)
    }

    #[inline(always)]
    fn double(&self, a: &Limbs<N>) -> Limbs<N> {
        self.add(a, a)
    }

    #[inline(always)]
    fn sub(&self, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        F::sub(&self.m, a, b)
    }

    fn negate(&self, a: &Limbs<N>) -> Limbs<N> {
        self.sub(&[0; N], a)
    }

    fn to_montgomery(&self, a: &Limbs<N>) -> Limbs<N> {
        self.mul(a, &self.r_squared)
    }

    fn out_of_montgomery(&self, a: &Limbs<N>) -> Limbs<N> {
        self.mul(a, &small(1))
    }

    /// The product of plain (not Montgomery) `a` and `b`, plain.
    fn mul_plain(&self, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        self.mul(&self.mul(a, b), &self.r_squared)
    }

    /// Inverse of a Montgomery-form value, in Montgomery form.
    fn invert_montgomery(&self, a: &Limbs<N>) -> Option<Limbs<N>> {
        let inverse = bigint::invert(&self.out_of_montgomery(a), &self.m)?;
        Some(self.to_montgomery(&to_limbs(&inverse)))
    }

    /// `a^exponent` for Montgomery-form `a`, in Montgomery form.
    fn pow(&self, a: &Limbs<N>, exponent: &Limbs<N>) -> Limbs<N> {
        let mut acc = self.one;
        for bit in (0..32 * N).rev() {
            acc = self.square(&acc);
            if exponent[bit / 32] >> (bit % 32) & 1 == 1 {
                acc = self.mul(&acc, a);
            }
        }
        acc
    }

    fn is_below(&self, a: &Limbs<N>) -> bool {
        bigint::compare(a, &self.m) == Ordering::Less
    }
}

fn small<const N: usize>(value: u32) -> Limbs<N> {
    let mut limbs = [0u32; N];
    limbs[0] = value;
    limbs
}

fn to_limbs<const N: usize>(slice: &[u32]) -> Limbs<N> {
    let mut limbs = [0u32; N];
    limbs.copy_from_slice(slice);
    limbs
}

/// Reads exactly `4 * N` big-endian bytes.
fn read_field_bytes<const N: usize>(bytes: &[u8]) -> Option<Limbs<N>> {
    let mut limbs = [0u32; N];
    (bytes.len() == 4 * N && bigint::read_be(&mut limbs, bytes)).then_some(limbs)
}

/// An affine point other than infinity, coordinates in Montgomery form.
#[derive(Clone, Copy)]
struct Affine<const N: usize> {
    x: Limbs<N>,
    y: Limbs<N>,
}

/// A Jacobian point `(X/Z^2, Y/Z^3)`; infinity when `Z = 0`.
#[derive(Clone, Copy)]
struct Jacobian<const N: usize> {
    x: Limbs<N>,
    y: Limbs<N>,
    z: Limbs<N>,
}

impl<const N: usize> Jacobian<N> {
    fn infinity() -> Jacobian<N> {
        Jacobian {
            x: [0; N],
            y: [0; N],
            z: [0; N],
        }
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }
}

/// The constants that define a curve (plain form, little-endian limbs).
pub(crate) struct CurveSpec<const N: usize> {
    pub p: Limbs<N>,
    pub n: Limbs<N>,
    pub b: Limbs<N>,
    pub gx: Limbs<N>,
    pub gy: Limbs<N>,
    pub hash: Hash,
    /// Window width of the table for the base point.
    pub base_window: u32,
    /// Window width of each key's table.
    pub key_window: u32,
}

/// A curve ready for use, with its table for the base point.
pub(crate) struct Curve<F, const N: usize> {
    p: Modulus<F, N>,
    n: Modulus<AnyOddModulus, N>,
    /// The curve's `b`, Montgomery form.
    b: Limbs<N>,
    hash: Hash,
    key_window: u32,
    base_table: Table<N>,
}

impl<F: ModularArithmetic<N>, const N: usize> Curve<F, N> {
    /// Builds the curve and its base-point table from its constants.
    pub(crate) fn new(spec: &CurveSpec<N>) -> Curve<F, N> {
        let p = Modulus::new(spec.p);
        let b = p.to_montgomery(&spec.b);
        let generator = Affine {
            x: p.to_montgomery(&spec.gx),
            y: p.to_montgomery(&spec.gy),
        };
        let mut curve = Curve {
            n: Modulus::new(spec.n),
            p,
            b,
            hash: spec.hash,
            key_window: spec.key_window,
            base_table: Table::empty(),
        };
        curve.base_table = curve
            .build_table(&generator, spec.base_window)
            .unwrap_or_else(Table::empty);
        curve
    }

    fn is_on_curve(&self, point: &Affine<N>) -> bool {
        self.p.square(&point.y) == self.curve_rhs(&point.x)
    }

    /// `x^3 - 3x + b`.
    fn curve_rhs(&self, x: &Limbs<N>) -> Limbs<N> {
        let f = &self.p;
        let x_cubed = f.mul(&f.square(x), x);
        let three_x = f.add(&f.double(x), x);
        f.add(&f.sub(&x_cubed, &three_x), &self.b)
    }

    /// dbl-2001-b for `a = -3`; infinity stays infinity.
    fn double(&self, q: &Jacobian<N>) -> Jacobian<N> {
        let f = &self.p;
        let delta = f.square(&q.z);
        let gamma = f.square(&q.y);
        let beta = f.mul(&q.x, &gamma);
        let product = f.mul(&f.sub(&q.x, &delta), &f.add(&q.x, &delta));
        let alpha = f.add(&f.double(&product), &product);
        let beta4 = f.double(&f.double(&beta));
        let x = f.sub(&f.square(&alpha), &f.double(&beta4));
        let z = f.sub(&f.sub(&f.square(&f.add(&q.y, &q.z)), &gamma), &delta);
        let gamma_squared8 = f.double(&f.double(&f.double(&f.square(&gamma))));
        let y = f.sub(&f.mul(&alpha, &f.sub(&beta4, &x)), &gamma_squared8);
        Jacobian { x, y, z }
    }

    /// madd-2007-bl: Jacobian plus affine, with the equal and opposite
    /// cases handled.
    fn add_affine(&self, q: &Jacobian<N>, a: &Affine<N>) -> Jacobian<N> {
        let f = &self.p;
        if q.is_infinity() {
            return Jacobian {
                x: a.x,
                y: a.y,
                z: f.one,
            };
        }
        let z1z1 = f.square(&q.z);
        let u2 = f.mul(&a.x, &z1z1);
        let s2 = f.mul(&a.y, &f.mul(&q.z, &z1z1));
        let h = f.sub(&u2, &q.x);
        let r_half = f.sub(&s2, &q.y);
        if is_zero(&h) {
            return if is_zero(&r_half) {
                self.double(q)
            } else {
                Jacobian::infinity()
            };
        }
        let hh = f.square(&h);
        let i = f.double(&f.double(&hh));
        let j = f.mul(&h, &i);
        let r = f.double(&r_half);
        let v = f.mul(&q.x, &i);
        let x = f.sub(&f.sub(&f.square(&r), &j), &f.double(&v));
        let y = f.sub(&f.mul(&r, &f.sub(&v, &x)), &f.double(&f.mul(&q.y, &j)));
        let z = f.sub(&f.sub(&f.square(&f.add(&q.z, &h)), &z1z1), &hh);
        Jacobian { x, y, z }
    }

    /// add-2007-bl: Jacobian plus Jacobian, with every special case.
    fn add(&self, a: &Jacobian<N>, b: &Jacobian<N>) -> Jacobian<N> {
        if a.is_infinity() {
            return *b;
        }
        if b.is_infinity() {
            return *a;
        }
        let f = &self.p;
        let z1z1 = f.square(&a.z);
        let z2z2 = f.square(&b.z);
        let u1 = f.mul(&a.x, &z2z2);
        let u2 = f.mul(&b.x, &z1z1);
        let s1 = f.mul(&a.y, &f.mul(&b.z, &z2z2));
        let s2 = f.mul(&b.y, &f.mul(&a.z, &z1z1));
        let h = f.sub(&u2, &u1);
        let r_half = f.sub(&s2, &s1);
        if is_zero(&h) {
            return if is_zero(&r_half) {
                self.double(a)
            } else {
                Jacobian::infinity()
            };
        }
        let i = f.square(&f.double(&h));
        let j = f.mul(&h, &i);
        let r = f.double(&r_half);
        let v = f.mul(&u1, &i);
        let x = f.sub(&f.sub(&f.square(&r), &j), &f.double(&v));
        let y = f.sub(&f.mul(&r, &f.sub(&v, &x)), &f.double(&f.mul(&s1, &j)));
        let z_sum = f.square(&f.add(&a.z, &b.z));
        let z = f.mul(&f.sub(&f.sub(&z_sum, &z1z1), &z2z2), &h);
        Jacobian { x, y, z }
    }

    /// Affine forms of `points` with a single inversion (Montgomery's
    /// trick); `None` if one of them is infinity.
    fn normalize(&self, points: &[Jacobian<N>]) -> Option<Vec<Affine<N>>> {
        let f = &self.p;
        let mut prefix = Vec::with_capacity(points.len());
        let mut running = f.one;
        for point in points {
            if point.is_infinity() {
                return None;
            }
            running = f.mul(&running, &point.z);
            prefix.push(running);
        }
        let mut inverse = f.invert_montgomery(&running)?;
        let mut affine = vec![
            Affine {
                x: [0; N],
                y: [0; N]
            };
            points.len()
        ];
        for index in (0..points.len()).rev() {
            let z_inverse = match index {
                0 => inverse,
                _ => f.mul(&inverse, &prefix[index - 1]),
            };
            inverse = f.mul(&inverse, &points[index].z);
            let z_inverse2 = f.square(&z_inverse);
            affine[index] = Affine {
                x: f.mul(&points[index].x, &z_inverse2),
                y: f.mul(&points[index].y, &f.mul(&z_inverse2, &z_inverse)),
            };
        }
        Some(affine)
    }

    /// For each window `i`, the multiples `j * 2^(w*i) * point` for
    /// `j = 1..=2^(w-1)`.
    fn build_table(&self, point: &Affine<N>, window: u32) -> Option<Table<N>> {
        let per_window = 1usize << (window - 1);
        let windows = (32 * N + 1).div_ceil(window as usize);
        let mut multiples = Vec::with_capacity(windows * per_window);
        let mut base = Jacobian {
            x: point.x,
            y: point.y,
            z: self.p.one,
        };
        for _ in 0..windows {
            let mut multiple = base;
            multiples.push(multiple);
            for _ in 1..per_window {
                multiple = self.add(&multiple, &base);
                multiples.push(multiple);
            }
            base = self.double(&multiple);
        }
        Some(Table {
            window,
            windows,
            points: self.normalize(&multiples)?,
        })
    }

    /// Adds `scalar * P` to `acc`, where `table` holds the multiples of P.
    fn add_multiple(&self, acc: &mut Jacobian<N>, table: &Table<N>, scalar: &Limbs<N>) {
        let width = table.window;
        let half = 1u32 << (width - 1);
        let mut carry = 0u32;
        for index in 0..table.windows {
            let digit = window_bits(scalar, index * width as usize, width) + carry;
            // Signed digits in [-(2^(w-1) - 1), 2^(w-1)]: a table of half
            // the size, negation being free.
            let (magnitude, negative) = if digit > half {
                carry = 1;
                ((1 << width) - digit, true)
            } else {
                carry = 0;
                (digit, false)
            };
            if magnitude == 0 {
                continue;
            }
            let mut point = table.points[index * half as usize + magnitude as usize - 1];
            if negative {
                point.y = self.p.negate(&point.y);
            }
            *acc = self.add_affine(acc, &point);
        }
    }
}

/// `width` bits of `scalar` from bit `position` (zeros past the end).
fn window_bits<const N: usize>(scalar: &Limbs<N>, position: usize, width: u32) -> u32 {
    let (limb, offset) = (position / 32, position % 32);
    if limb >= N {
        return 0;
    }
    let mut bits = scalar[limb] >> offset;
    if offset + width as usize > 32 && limb + 1 < N {
        bits |= scalar[limb + 1] << (32 - offset);
    }
    bits & ((1 << width) - 1)
}

/// Precomputed affine multiples of one point, window by window.
struct Table<const N: usize> {
    window: u32,
    windows: usize,
    points: Vec<Affine<N>>,
}

impl<const N: usize> Table<N> {
    fn empty() -> Table<N> {
        Table {
            window: 1,
            windows: 0,
            points: Vec::new(),
        }
    }
}

/// A validated public key with its table of multiples.
#[derive(Clone)]
pub(crate) struct VerifyingKey<F: 'static, const N: usize> {
    curve: &'static Curve<F, N>,
    /// `0x04 || x || y`, as given.
    sec1: Vec<u8>,
    table: Arc<Table<N>>,
}

impl<F, const N: usize> PartialEq for VerifyingKey<F, N> {
    fn eq(&self, other: &Self) -> bool {
        self.sec1 == other.sec1
    }
}

impl<F: ModularArithmetic<N>, const N: usize> VerifyingKey<F, N> {
    /// A key from affine coordinates, each exactly `4 * N` big-endian bytes.
    pub(crate) fn from_affine(
        curve: &'static Curve<F, N>,
        x: &[u8],
        y: &[u8],
    ) -> Result<VerifyingKey<F, N>, KeyError> {
        let x_limbs = read_field_bytes::<N>(x).ok_or(KeyError::Encoding)?;
        let y_limbs = read_field_bytes::<N>(y).ok_or(KeyError::Encoding)?;
        if !curve.p.is_below(&x_limbs) || !curve.p.is_below(&y_limbs) {
            return Err(KeyError::CoordinateOutOfRange);
        }
        let point = Affine {
            x: curve.p.to_montgomery(&x_limbs),
            y: curve.p.to_montgomery(&y_limbs),
        };
        // (0, 0) stands for infinity in some encodings; it is not on the
        // curve because b != 0, so this check refuses it too.
        if !curve.is_on_curve(&point) {
            return Err(KeyError::NotOnCurve);
        }
        let table = curve
            .build_table(&point, curve.key_window)
            .ok_or(KeyError::Identity)?;
        let mut sec1 = Vec::with_capacity(1 + 8 * N);
        sec1.push(0x04);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        Ok(VerifyingKey {
            curve,
            sec1,
            table: Arc::new(table),
        })
    }

    /// A key from its SEC 1 encoding: uncompressed (`0x04 || x || y`) or
    /// compressed (`0x02`/`0x03 || x`).
    pub(crate) fn from_sec1(
        curve: &'static Curve<F, N>,
        bytes: &[u8],
    ) -> Result<VerifyingKey<F, N>, KeyError> {
        let len = 4 * N;
        match bytes.first() {
            Some(0x04) if bytes.len() == 1 + 2 * len => {
                VerifyingKey::from_affine(curve, &bytes[1..=len], &bytes[1 + len..])
            }
            Some(&tag @ (0x02 | 0x03)) if bytes.len() == 1 + len => {
                let y = decompress_y(curve, &bytes[1..], tag == 0x03)?;
                VerifyingKey::from_affine(curve, &bytes[1..], &y)
            }
            Some(0x00) if bytes.len() == 1 => Err(KeyError::Identity),
            _ => Err(KeyError::Encoding),
        }
    }

    pub(crate) fn to_sec1_uncompressed(&self) -> Vec<u8> {
        self.sec1.clone()
    }

    /// Whether `signature` (`r || s`, each `4 * N` big-endian bytes) is a
    /// valid ECDSA signature of `message` under this key.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let curve = self.curve;
        let len = 4 * N;
        // An empty base table would drop u1*G from the sum.
        if signature.len() != 2 * len || curve.base_table.windows == 0 {
            return false;
        }
        let (Some(r), Some(s)) = (
            read_field_bytes::<N>(&signature[..len]),
            read_field_bytes::<N>(&signature[len..]),
        ) else {
            return false;
        };
        let in_range = |value: &Limbs<N>| !is_zero(value) && curve.n.is_below(value);
        if !in_range(&r) || !in_range(&s) {
            return false;
        }
        let Some(e) = message_scalar(curve, message) else {
            return false;
        };
        let Some(s_inverse) = bigint::invert(&s, &curve.n.m) else {
            return false;
        };
        let s_inverse = to_limbs::<N>(&s_inverse);
        let u1 = curve.n.mul_plain(&e, &s_inverse);
        let u2 = curve.n.mul_plain(&r, &s_inverse);
        let mut sum = Jacobian::infinity();
        curve.add_multiple(&mut sum, &curve.base_table, &u1);
        curve.add_multiple(&mut sum, &self.table, &u2);
        x_matches(curve, &sum, &r)
    }
}

/// The digest of `message` as an integer mod n. The digest is exactly as
/// long as the order for the curves here, so no bits are dropped.
fn message_scalar<F, const N: usize>(curve: &Curve<F, N>, message: &[u8]) -> Option<Limbs<N>> {
    let digest = curve.hash.digest(&[message]);
    let mut e = read_field_bytes::<N>(digest.as_bytes())?;
    if !curve.n.is_below(&e) {
        bigint::sub_assign(&mut e, &curve.n.m);
    }
    Some(e)
}

/// Whether the affine x of `point`, reduced mod n, equals `r`; checked as
/// `X == r' * Z^2` for `r' = r` and `r' = r + n` (when below p), so no
/// inversion is needed.
fn x_matches<F: ModularArithmetic<N>, const N: usize>(
    curve: &Curve<F, N>,
    point: &Jacobian<N>,
    r: &Limbs<N>,
) -> bool {
    if point.is_infinity() {
        return false;
    }
    let f = &curve.p;
    let z_squared = f.square(&point.z);
    let matches = |candidate: &Limbs<N>| f.mul(&f.to_montgomery(candidate), &z_squared) == point.x;
    if matches(r) {
        return true;
    }
    let mut r_plus_n = *r;
    let carry = bigint::add_assign(&mut r_plus_n, &curve.n.m);
    !carry && f.is_below(&r_plus_n) && matches(&r_plus_n)
}

/// The y coordinate of the point with this x and y parity, big-endian.
fn decompress_y<F: ModularArithmetic<N>, const N: usize>(
    curve: &Curve<F, N>,
    x: &[u8],
    odd: bool,
) -> Result<Vec<u8>, KeyError> {
    let f = &curve.p;
    let x_limbs = read_field_bytes::<N>(x).ok_or(KeyError::Encoding)?;
    if !f.is_below(&x_limbs) {
        return Err(KeyError::CoordinateOutOfRange);
    }
    let rhs = curve.curve_rhs(&f.to_montgomery(&x_limbs));
    // p = 3 mod 4 for the curves here, so a square root is rhs^((p+1)/4).
    let mut exponent = f.m;
    bigint::add_assign(&mut exponent, &small::<N>(1));
    let exponent = shift_right(&exponent, 2);
    let root = f.pow(&rhs, &exponent);
    if f.square(&root) != rhs {
        return Err(KeyError::NotOnCurve);
    }
    let mut y = f.out_of_montgomery(&root);
    if (y[0] & 1 == 1) != odd {
        if is_zero(&y) {
            return Err(KeyError::NotOnCurve);
        }
        y = f.negate(&y);
    }
    let mut bytes = vec![0u8; 4 * N];
    bigint::write_be(&mut bytes, &y);
    Ok(bytes)
}

fn shift_right<const N: usize>(value: &Limbs<N>, bits: u32) -> Limbs<N> {
    let mut out = [0u32; N];
    for index in 0..N {
        let high = value.get(index + 1).map_or(0, |limb| limb << (32 - bits));
        out[index] = (value[index] >> bits) | high;
    }
    out
}

/// Checks a written-out [`ModularArithmetic`] against the one for any
/// modulus, over edge values and random ones below `m`.
#[cfg(test)]
pub(crate) fn check_fixed_arithmetic<F: ModularArithmetic<N>, const N: usize>(m: &Limbs<N>) {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let factor = bigint::montgomery_factor(m[0]);
    let below = |value: u32| {
        let mut limbs = *m;
        bigint::sub_assign(&mut limbs, &small::<N>(value));
        limbs
    };
    let mut top_ones = [u32::MAX; N];
    top_ones[N - 1] = 0;
    let mut top_only = [0u32; N];
    top_only[N - 1] = m[N - 1] - 1;
    let mut values = vec![
        small(0),
        small(1),
        small(2),
        below(1),
        below(2),
        top_ones,
        top_only,
    ];
    let mut rng = StdRng::seed_from_u64(N as u64);
    for _ in 0..40 {
        let mut value: Limbs<N> = std::array::from_fn(|_| rng.gen());
        value[N - 1] %= m[N - 1];
        values.push(value);
    }
    for a in &values {
        for b in &values {
            assert_eq!(
                F::add(m, a, b),
                AnyOddModulus::add(m, a, b),
                "{a:x?} + {b:x?}"
            );
            assert_eq!(
                F::sub(m, a, b),
                AnyOddModulus::sub(m, a, b),
                "{a:x?} - {b:x?}"
            );
            let product = AnyOddModulus::mul(m, factor, a, b);
            assert_eq!(F::mul(m, factor, a, b), product, "{a:x?} * {b:x?}");
        }
        let square = AnyOddModulus::mul(m, factor, a, a);
        assert_eq!(F::square(m, factor, a), square, "{a:x?}^2");
    }
}
