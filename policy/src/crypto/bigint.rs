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

/// Shifts right by `bits` (1 to 31); `top` supplies the bits shifted in
/// at the top.
#[inline(always)]
fn shift_right_bits(a: &mut [u32], bits: u32, top: u32) {
    let mut index = 0;
    while index + 1 < a.len() {
        a[index] = (a[index] >> bits) | (a[index + 1] << (32 - bits));
        index += 1;
    }
    if let Some(last) = a.last_mut() {
        *last = (*last >> bits) | (top << (32 - bits));
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

/// `t += u * x + v * y` for one limb, with a carry chain for each product.
/// Each sum fits in 64 bits.
#[inline(always)]
fn two_products(t: &mut u32, x: u32, y: u32, u: u64, v: u64, carries: &mut (u64, u64)) {
    let first = u64::from(*t) + u * u64::from(x) + carries.0;
    let second = u64::from(first as u32) + v * u64::from(y) + carries.1;
    *carries = (first >> 32, second >> 32);
    *t = second as u32;
}

/// `t += u * x + v * y` limb by limb over the shortest of the three
/// slices, continuing `carries`.
///
/// The loop walks the slices with slice patterns, four limbs a step: one
/// length test per slice and step instead of a bounds check per limb, and
/// unrolled by hand because the release profile optimises for size and
/// does not unroll. In V8 this is about a fifth faster than indexing.
#[inline(always)]
fn two_row_pass(
    mut t: &mut [u32],
    mut x: &[u32],
    mut y: &[u32],
    u: u64,
    v: u64,
    carries: &mut (u64, u64),
) {
    loop {
        match (std::mem::take(&mut t), x, y) {
            (
                [t0, t1, t2, t3, t_rest @ ..],
                [x0, x1, x2, x3, x_rest @ ..],
                [y0, y1, y2, y3, y_rest @ ..],
            ) => {
                two_products(t0, *x0, *y0, u, v, carries);
                two_products(t1, *x1, *y1, u, v, carries);
                two_products(t2, *x2, *y2, u, v, carries);
                two_products(t3, *x3, *y3, u, v, carries);
                (t, x, y) = (t_rest, x_rest, y_rest);
            }
            ([t0, t_rest @ ..], [x0, x_rest @ ..], [y0, y_rest @ ..]) => {
                two_products(t0, *x0, *y0, u, v, carries);
                (t, x, y) = (t_rest, x_rest, y_rest);
            }
            _ => return,
        }
    }
}

/// `t += u * x + carry` for one limb.
#[inline(always)]
fn one_product(t: &mut u32, x: u32, u: u64, carry: &mut u64) {
    let sum = u64::from(*t) + u * u64::from(x) + *carry;
    *t = sum as u32;
    *carry = sum >> 32;
}

/// `t += u * x` over the shorter slice, returning the carry out of the
/// top; walked like [`two_row_pass`].
#[inline(always)]
fn one_row_pass(mut t: &mut [u32], mut x: &[u32], u: u64) -> u64 {
    let mut carry = 0u64;
    loop {
        match (std::mem::take(&mut t), x) {
            ([t0, t1, t2, t3, t_rest @ ..], [x0, x1, x2, x3, x_rest @ ..]) => {
                one_product(t0, *x0, u, &mut carry);
                one_product(t1, *x1, u, &mut carry);
                one_product(t2, *x2, u, &mut carry);
                one_product(t3, *x3, u, &mut carry);
                (t, x) = (t_rest, x_rest);
            }
            ([t0, t_rest @ ..], [x0, x_rest @ ..]) => {
                one_product(t0, *x0, u, &mut carry);
                (t, x) = (t_rest, x_rest);
            }
            _ => return carry,
        }
    }
}

#[inline(always)]
fn fill_zero(a: &mut [u32]) {
    let mut index = 0;
    while index < a.len() {
        a[index] = 0;
        index += 1;
    }
}

/// `out = wide[len..2 * len] + top * R`, less `m` when that is not below
/// `m`; the value must be below `2m`.
#[inline(always)]
fn take_upper_half(out: &mut [u32], wide: &[u32], top: u64, m: &[u32]) {
    let len = m.len();
    let mut index = 0;
    while index < len {
        out[index] = wide[len + index];
        index += 1;
    }
    if top != 0 || compare(&out[..len], m) != Ordering::Less {
        sub_assign(out, m);
    }
}

/// `out = a * b / R mod m` with `R = 2^(32 * m.len())`, for odd `m`, `a`
/// below `R` and `b < m`; `out` is fully reduced (below `m`). `wide` is
/// scratch space of at least `2 * m.len()` limbs.
///
/// Row `i` adds `a_i * b + q * m` at limb offset `i`, `q` chosen so that
/// limb `i` becomes zero; after all rows the upper half holds the result.
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
    let (a, b, wide) = (&a[..len], &b[..len], &mut wide[..2 * len]);
    fill_zero(wide);
    // The bit above the running sum's top limb; the sum stays below 2m.
    let mut top = 0u64;
    let mut i = 0;
    while i < len {
        let a_limb = a[i];
        let quotient = wide[i]
            .wrapping_add(a_limb.wrapping_mul(b[0]))
            .wrapping_mul(factor);
        let mut carries = (0u64, 0u64);
        let row = &mut wide[i..i + len];
        two_row_pass(row, b, m, a_limb.into(), quotient.into(), &mut carries);
        let high = top + carries.0 + carries.1;
        wide[i + len] = high as u32;
        top = high >> 32;
        i += 1;
    }
    take_upper_half(out, wide, top, m);
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
    let factor = montgomery_factor(m[0]);
    let (mut u, mut v) = (a.to_vec(), m.to_vec());
    let mut x1 = vec![0u32; m.len()];
    x1[0] = 1;
    let mut x2 = vec![0u32; m.len()];
    // Invariants: x1 * a = u and x2 * a = v (mod m).
    while !is_one(&u) && !is_one(&v) {
        if is_zero(&u) || is_zero(&v) {
            return None;
        }
        remove_factors_of_two(&mut u, &mut x1, m, factor);
        remove_factors_of_two(&mut v, &mut x2, m, factor);
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

/// Divides non-zero `value` by its largest power of two, and
/// `coefficient` by the same power modulo `m`, up to 31 bits a pass.
fn remove_factors_of_two(value: &mut [u32], coefficient: &mut [u32], m: &[u32], factor: u32) {
    while is_even(value) {
        let bits = value[0].trailing_zeros().min(31);
        shift_right_bits(value, bits, 0);
        divide_by_power_of_two(coefficient, bits, m, factor);
    }
}

/// `a = a / 2^bits mod m` for `a < m` and `bits` from 1 to 31: adding the
/// multiple `q * m` with `q < 2^bits` that clears the low `bits` bits
/// (`q = a * (-m^-1) mod 2^bits`, `factor` being `-m^-1 mod 2^32`) makes
/// the sum divisible, and the quotient stays below `m`.
fn divide_by_power_of_two(a: &mut [u32], bits: u32, m: &[u32], factor: u32) {
    let quotient = a[0].wrapping_mul(factor) & (u32::MAX >> (32 - bits));
    let top = one_row_pass(a, m, quotient.into());
    shift_right_bits(a, bits, top as u32);
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
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

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

    /// Odd moduli of many lengths, the top limb non-zero: random ones,
    /// all ones, and ones with all-ones or single-bit limbs.
    fn odd_moduli(rng: &mut StdRng) -> Vec<Vec<u32>> {
        let mut moduli = Vec::new();
        for len in [1, 2, 3, 4, 5, 7, 8, 9, 12, 63, 64, 65, 96, 128] {
            let mut random: Vec<u32> = (0..len).map(|_| rng.gen()).collect();
            random[0] |= 1;
            random[len - 1] |= 1 << 31;
            moduli.push(random);
            moduli.push(vec![u32::MAX; len]);
            let mut sparse = vec![0u32; len];
            sparse[0] = 1;
            sparse[len - 1] |= 1;
            moduli.push(sparse);
            let mut low_bits = vec![u32::MAX; len];
            low_bits[len - 1] = rng.gen_range(1..1 << 20);
            low_bits[0] |= 1;
            moduli.push(low_bits);
        }
        moduli
    }

    /// Values below `m` that stress carries: 0, 1, 2, m-1, m-2, all-ones
    /// limbs under the top one, the top limb alone, and random ones.
    fn values_below(m: &[u32], rng: &mut StdRng) -> Vec<Vec<u32>> {
        let len = m.len();
        let mut inputs = vec![vec![0u32; len]];
        for small in [1u32, 2] {
            let mut value = vec![0u32; len];
            value[0] = small;
            inputs.push(value);
        }
        for below in [1u32, 2] {
            let mut value = m.to_vec();
            let mut subtrahend = vec![0u32; len];
            subtrahend[0] = below;
            sub_assign(&mut value, &subtrahend);
            inputs.push(value);
        }
        let mut ones = vec![u32::MAX; len];
        ones[len - 1] = 0;
        inputs.push(ones);
        let mut top = vec![0u32; len];
        top[len - 1] = m[len - 1] - 1;
        inputs.push(top);
        for _ in 0..20 {
            let mut value: Vec<u32> = (0..len).map(|_| rng.gen()).collect();
            value[len - 1] %= m[len - 1];
            inputs.push(value);
        }
        inputs.retain(|value| compare(value, m) == Ordering::Less);
        inputs
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

    /// Binary GCD of `a` and odd `m`, without coefficients.
    fn gcd_with_odd(a: &[u32], m: &[u32]) -> Vec<u32> {
        let (mut u, mut v) = (a.to_vec(), m.to_vec());
        while !is_zero(&u) {
            while is_even(&u) {
                shift_right_bits(&mut u, 1, 0);
            }
            if compare(&u, &v) == Ordering::Less {
                std::mem::swap(&mut u, &mut v);
            }
            sub_assign(&mut u, &v);
        }
        v
    }

    #[test]
    fn inversion_of_many_limbs_gives_the_inverse_below_the_modulus() {
        let mut rng = StdRng::seed_from_u64(0x1e5);
        // Inversion serves the elliptic curves: up to 12 limbs.
        for m in odd_moduli(&mut rng).into_iter().filter(|m| m.len() <= 12) {
            let len = m.len();
            let (factor, r_squared) = (montgomery_factor(m[0]), montgomery_r_squared(&m));
            let mut one = vec![0u32; len];
            one[0] = 1;
            for a in values_below(&m, &mut rng) {
                let Some(inverse) = invert(&a, &m) else {
                    let coprime = is_one(&gcd_with_odd(&a, &m));
                    assert!(is_zero(&a) || !coprime, "m = {m:x?}, a = {a:x?}");
                    continue;
                };
                assert_eq!(compare(&inverse, &m), Ordering::Less);
                let (mut scaled, mut product) = (vec![0u32; len], vec![0u32; len]);
                mont_mul(&mut scaled, &a, &inverse, &m, factor);
                mont_mul(&mut product, &scaled, &r_squared, &m, factor);
                assert_eq!(product, one, "m = {m:x?}, a = {a:x?}");
            }
        }
    }

    #[test]
    fn inversion_refuses_values_sharing_a_factor_with_the_modulus() {
        // m = 3 * (2^61 - 1), with a multiple of each factor.
        let modulus = 3 * ((1u128 << 61) - 1);
        let m = limbs(modulus, 3);
        for a in [3u128, 9, (1 << 61) - 1, 6 * ((1 << 61) - 1) % modulus] {
            assert_eq!(invert(&limbs(a, 3), &m), None, "{a}");
        }
        assert!(invert(&limbs(2, 3), &m).is_some());
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
