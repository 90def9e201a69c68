//! Unsigned big integers as little-endian slices of 32-bit limbs, and
//! Montgomery multiplication over them.
//!
//! 32-bit limbs because wasm32 multiplies 32x32->64 natively, while a
//! 64x64->128 product becomes a call to a software routine. Everything here
//! works on public values (keys and signatures), so it may take
//! data-dependent time.

use std::cmp::Ordering;

/// Limbs needed for `bytes` big-endian bytes.
pub fn limbs_for_bytes(bytes: usize) -> usize {
    bytes.div_ceil(4)
}

/// Reads big-endian `bytes` into `out`; false when the value does not fit.
pub fn read_be(out: &mut [u32], bytes: &[u8]) -> bool {
    out.fill(0);
    let significant = strip_leading_zeros(bytes);
    if limbs_for_bytes(significant.len()) > out.len() {
        return false;
    }
    for (index, byte) in significant.iter().rev().enumerate() {
        out[index / 4] |= u32::from(*byte) << (8 * (index % 4));
    }
    true
}

/// Writes `value` as exactly `out.len()` big-endian bytes; false when it
/// does not fit.
pub fn write_be(out: &mut [u8], value: &[u32]) -> bool {
    let len = out.len();
    for (index, byte) in out.iter_mut().rev().enumerate() {
        *byte = value
            .get(index / 4)
            .map_or(0, |limb| (limb >> (8 * (index % 4))) as u8);
    }
    bit_length(value) <= 8 * len
}

pub fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first..]
}

pub fn bit_length(value: &[u32]) -> usize {
    value
        .iter()
        .rposition(|&limb| limb != 0)
        .map_or(0, |top| 32 * top + 32 - value[top].leading_zeros() as usize)
}

#[inline(always)]
pub fn is_zero(value: &[u32]) -> bool {
    let mut index = 0;
    while index < value.len() {
        if value[index] != 0 {
            return false;
        }
        index += 1;
    }
    true
}

// The hot helpers below index slices in plain `while` loops: the release
// profile optimises for size, and at that level iterator adapters and range
// slicing stay out-of-line calls, costing more than the arithmetic.

#[inline(always)]
pub fn compare(a: &[u32], b: &[u32]) -> Ordering {
    debug_assert_eq!(a.len(), b.len());
    let mut index = a.len();
    while index > 0 {
        index -= 1;
        if a[index] != b[index] {
            return if a[index] < b[index] {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
    }
    Ordering::Equal
}

/// `a -= b` over `b.len()` limbs, returning the borrow out of the top.
#[inline(always)]
pub fn sub_assign(a: &mut [u32], b: &[u32]) -> bool {
    let mut borrow = 0u64;
    let mut index = 0;
    while index < b.len() {
        let difference = u64::from(a[index])
            .wrapping_sub(u64::from(b[index]))
            .wrapping_sub(borrow);
        a[index] = difference as u32;
        borrow = (difference >> 63) & 1;
        index += 1;
    }
    borrow != 0
}

/// `a += b` over `b.len()` limbs, returning the carry out of the top.
#[inline(always)]
pub fn add_assign(a: &mut [u32], b: &[u32]) -> bool {
    let mut carry = 0u64;
    let mut index = 0;
    while index < b.len() {
        let sum = u64::from(a[index]) + u64::from(b[index]) + carry;
        a[index] = sum as u32;
        carry = sum >> 32;
        index += 1;
    }
    carry != 0
}

/// Shifts right by one bit; `top` becomes the new highest bit.
#[inline(always)]
fn shift_right_one(a: &mut [u32], top: bool) {
    let mut index = 0;
    while index + 1 < a.len() {
        a[index] = (a[index] >> 1) | (a[index + 1] << 31);
        index += 1;
    }
    if let Some(last) = a.last_mut() {
        *last = (*last >> 1) | (u32::from(top) << 31);
    }
}

#[inline(always)]
fn is_even(a: &[u32]) -> bool {
    a.first().is_none_or(|limb| limb & 1 == 0)
}

#[inline(always)]
fn is_one(a: &[u32]) -> bool {
    a.first() == Some(&1) && is_zero(&a[1..])
}

/// `-m^-1 mod 2^32` for odd `m0`, the Montgomery reduction factor.
pub const fn montgomery_factor(m0: u32) -> u32 {
    // Newton's iteration doubles the correct low bits each round: 3 → 48.
    let mut inverse = m0;
    let mut round = 0;
    while round < 4 {
        inverse = inverse.wrapping_mul(2u32.wrapping_sub(m0.wrapping_mul(inverse)));
        round += 1;
    }
    inverse.wrapping_neg()
}

/// Little-endian limbs of a big-endian hexadecimal constant; a bad digit or
/// a value too large stops the build.
pub const fn limbs_from_hex<const N: usize>(hex: &str) -> [u32; N] {
    let digits = hex.as_bytes();
    assert!(digits.len() <= 8 * N, "constant too large");
    let mut limbs = [0u32; N];
    let mut index = 0;
    while index < digits.len() {
        let value = match digits[index] {
            digit @ b'0'..=b'9' => digit - b'0',
            digit @ b'a'..=b'f' => digit - b'a' + 10,
            _ => panic!("not a lower-case hexadecimal digit"),
        };
        let nibble = digits.len() - 1 - index;
        limbs[nibble / 8] |= (value as u32) << (4 * (nibble % 8));
        index += 1;
    }
    limbs
}

/// One column of the fused multiply-and-reduce: `t_j + a_i*b_j + q*m_j`
/// with both carry chains. Each sum fits in 64 bits.
#[inline(always)]
fn column(t: &mut u32, b: u32, m: u32, a_limb: u64, quotient: u64, carries: &mut (u64, u64)) {
    let ab = u64::from(*t) + a_limb * u64::from(b) + carries.0;
    let qm = u64::from(ab as u32) + quotient * u64::from(m) + carries.1;
    *carries = (ab >> 32, qm >> 32);
    *t = qm as u32;
}

/// `out = a * b / R mod m` with `R = 2^(32 * m.len())`, for odd `m`, `a`
/// below `R` and `b < m`; `out` is fully reduced (below `m`). `wide` is
/// scratch space of at least `2 * m.len()` limbs.
///
/// Row `i` adds `a_i * b + q * m` at limb offset `i`, `q` chosen so that
/// limb `i` becomes zero; after all rows the upper half holds the result.
/// The inner loop is unrolled by hand, four limbs a step, because the
/// release profile optimises for size and does not unroll.
#[inline(always)]
pub fn mont_mul_wide(
    out: &mut [u32],
    wide: &mut [u32],
    a: &[u32],
    b: &[u32],
    m: &[u32],
    factor: u32,
) {
    let len = m.len();
    let mut index = 0;
    while index < 2 * len {
        wide[index] = 0;
        index += 1;
    }
    // The bit above the running sum's top limb; the sum stays below 2m.
    let mut top = 0u64;
    let mut i = 0;
    while i < len {
        let a_limb = a[i];
        let quotient = wide[i]
            .wrapping_add(a_limb.wrapping_mul(b[0]))
            .wrapping_mul(factor);
        let (a_limb, quotient) = (u64::from(a_limb), u64::from(quotient));
        let mut carries = (0u64, 0u64);
        let mut j = 0;
        while j + 4 <= len {
            column(&mut wide[i + j], b[j], m[j], a_limb, quotient, &mut carries);
            column(
                &mut wide[i + j + 1],
                b[j + 1],
                m[j + 1],
                a_limb,
                quotient,
                &mut carries,
            );
            column(
                &mut wide[i + j + 2],
                b[j + 2],
                m[j + 2],
                a_limb,
                quotient,
                &mut carries,
            );
            column(
                &mut wide[i + j + 3],
                b[j + 3],
                m[j + 3],
                a_limb,
                quotient,
                &mut carries,
            );
            j += 4;
        }
        while j < len {
            column(&mut wide[i + j], b[j], m[j], a_limb, quotient, &mut carries);
            j += 1;
        }
        let high = top + carries.0 + carries.1;
        wide[i + len] = high as u32;
        top = high >> 32;
        i += 1;
    }
    let mut index = 0;
    while index < len {
        out[index] = wide[len + index];
        index += 1;
    }
    if top != 0 || compare(&out[..len], m) != Ordering::Less {
        sub_assign(out, m);
    }
}

/// [`mont_mul_wide`] with its own scratch space.
pub fn mont_mul(out: &mut [u32], a: &[u32], b: &[u32], m: &[u32], factor: u32) {
    let mut wide = vec![0u32; 2 * m.len()];
    mont_mul_wide(out, &mut wide, a, b, m, factor);
}

/// `R^2 mod m` for odd `m > 1`, `R = 2^(32 * m.len())`: the factor that
/// brings a value into Montgomery form.
pub fn montgomery_r_squared(m: &[u32]) -> Vec<u32> {
    let len = m.len();
    let factor = montgomery_factor(m[0]);
    let exponent_bits = 32 * len;
    // 2^(s * 2^k) with s odd and s * 2^k = 32 * len: double up to
    // 2^(32 * len + s) (Montgomery form of 2^s), then square k times.
    let squarings = exponent_bits.trailing_zeros();
    let start = exponent_bits >> squarings;
    let mut value = vec![0u32; len];
    value[0] = 1;
    if compare(&value, m) != Ordering::Less {
        value[0] = 0;
    }
    for _ in 0..exponent_bits + start {
        double_mod(&mut value, m);
    }
    let mut scratch = vec![0u32; len];
    for _ in 0..squarings {
        mont_mul(&mut scratch, &value, &value, m, factor);
        std::mem::swap(&mut value, &mut scratch);
    }
    value
}

/// `a = 2a mod m` for `a < m`.
fn double_mod(a: &mut [u32], m: &[u32]) {
    let mut carry = 0u32;
    for limb in a.iter_mut() {
        let outgoing = *limb >> 31;
        *limb = (*limb << 1) | carry;
        carry = outgoing;
    }
    if carry != 0 || compare(a, m) != Ordering::Less {
        sub_assign(a, m);
    }
}

/// `a^-1 mod m` for odd `m` and `0 < a < m`, by the binary extended
/// Euclidean algorithm; `None` when they share a factor.
pub fn invert(a: &[u32], m: &[u32]) -> Option<Vec<u32>> {
    if is_zero(a) || is_even(m) {
        return None;
    }
    let (mut u, mut v) = (a.to_vec(), m.to_vec());
    let mut x1 = vec![0u32; m.len()];
    x1[0] = 1;
    let mut x2 = vec![0u32; m.len()];
    // Invariants: x1 * a = u and x2 * a = v (mod m).
    while !is_one(&u) && !is_one(&v) {
        if is_zero(&u) || is_zero(&v) {
            return None;
        }
        halve_while_even(&mut u, &mut x1, m);
        halve_while_even(&mut v, &mut x2, m);
        if compare(&u, &v) != Ordering::Less {
            sub_assign(&mut u, &v);
            sub_mod(&mut x1, &x2, m);
        } else {
            sub_assign(&mut v, &u);
            sub_mod(&mut x2, &x1, m);
        }
    }
    Some(if is_one(&u) { x1 } else { x2 })
}

fn halve_while_even(value: &mut [u32], coefficient: &mut [u32], m: &[u32]) {
    while !is_zero(value) && is_even(value) {
        shift_right_one(value, false);
        let carry = if is_even(coefficient) {
            false
        } else {
            add_assign(coefficient, m)
        };
        shift_right_one(coefficient, carry);
    }
}

/// `a = a - b mod m` for `a, b < m`.
fn sub_mod(a: &mut [u32], b: &[u32], m: &[u32]) {
    if sub_assign(a, b) {
        add_assign(a, m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(limbs: &[u32]) -> u128 {
        limbs
            .iter()
            .rev()
            .fold(0u128, |acc, &limb| (acc << 32) | u128::from(limb))
    }

    fn limbs(mut value: u128, len: usize) -> Vec<u32> {
        (0..len)
            .map(|_| {
                let limb = value as u32;
                value >>= 32;
                limb
            })
            .collect()
    }

    const MODULI: [u128; 3] = [
        0xffff_ffff_ffff_ffc5,
        0x8000_0000_0000_001d_0000_0001,
        0xd0a1_3f0b_52c3_6b7f_9e7c_1f33,
    ];

    #[test]
    fn bytes_round_trip_and_refuse_values_that_do_not_fit() {
        let mut out = [0u32; 2];
        assert!(read_be(&mut out, &[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(value(&out), 0x0102_0304_0506_0708);
        assert!(!read_be(&mut out, &[1, 2, 3, 4, 5, 6, 7, 8, 9]));
        let mut bytes = [0u8; 9];
        assert!(write_be(&mut bytes, &[0x0506_0708, 0x0102_0304]));
        assert_eq!(bytes, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(!write_be(&mut bytes[..7], &[0x0506_0708, 0x0102_0304]));
    }

    #[test]
    fn montgomery_multiplication_matches_plain_arithmetic() {
        for &modulus in &MODULI {
            let len = limbs_for_bytes(16 - modulus.leading_zeros() as usize / 8);
            let m = limbs(modulus, len);
            let factor = montgomery_factor(m[0]);
            let r_squared = montgomery_r_squared(&m);
            let r = 1u128 << (32 * len);
            assert_eq!(
                value(&r_squared),
                mul_mod(r % modulus, r % modulus, modulus)
            );
            for (a, b) in [
                (3u128, 5u128),
                (modulus - 1, modulus - 2),
                (0x1234_5678_9abc, 7),
            ] {
                let mut to_form = vec![0; len];
                mont_mul(&mut to_form, &limbs(a, len), &r_squared, &m, factor);
                let mut product = vec![0; len];
                mont_mul(&mut product, &to_form, &limbs(b, len), &m, factor);
                assert_eq!(value(&product), mul_mod(a, b, modulus));
            }
        }
    }

    fn mul_mod(a: u128, b: u128, m: u128) -> u128 {
        // Double-and-add keeps every intermediate below 2m < 2^128.
        let (mut result, mut addend, mut b) = (0u128, a % m, b);
        while b > 0 {
            if b & 1 == 1 {
                result = (result + addend) % m;
            }
            addend = (addend + addend) % m;
            b >>= 1;
        }
        result
    }

    fn gcd(a: u128, b: u128) -> u128 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn inversion_gives_the_multiplicative_inverse() {
        for &modulus in &MODULI {
            let len = limbs_for_bytes(16 - modulus.leading_zeros() as usize / 8);
            let m = limbs(modulus, len);
            for a in [1u128, 2, 3, modulus - 1, 0xdead_beef_cafe] {
                if gcd(a, modulus) != 1 {
                    assert_eq!(invert(&limbs(a, len), &m), None);
                    continue;
                }
                let inverse = invert(&limbs(a, len), &m).map(|x| value(&x));
                assert_eq!(inverse.map(|x| mul_mod(a, x, modulus)), Some(1));
            }
            assert_eq!(invert(&limbs(0, len), &m), None);
        }
    }
}
