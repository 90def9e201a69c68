//! RSA signature verification: RSASSA-PKCS1-v1_5 and RSASSA-PSS
//! (RFC 8017), with the parameters JWS fixes (RFC 7518 §3.3, §3.5).

use std::fmt;

use super::bigint;
use super::narrow_limbs::{self, Modulus};
use super::{Hash, KeyError};

pub const MIN_BITS: usize = 2048;
pub const MAX_BITS: usize = 4096;

/// An RSA public key with its Montgomery constants computed once.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// The modulus, in the 27-bit limbs of [`narrow_limbs`].
    n: Modulus,
    /// `R^(s + 1) mod n` with `R = 2^(27 * limbs)`, limbs reversed: see
    /// [`unscaling_factor`].
    unscale_reversed: Vec<u32>,
    exponent: u32,
    bits: usize,
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits)
            .field("exponent", &self.exponent)
            .field("modulus", &super::hex(&self.modulus()))
            .finish()
    }
}

impl RsaPublicKey {
    /// A key from its big-endian modulus and exponent (leading zero bytes
    /// allowed). The modulus must be odd and 2048 to 4096 bits; the exponent
    /// odd, at least 3 and at most 2^32.
    pub fn from_be_bytes(modulus: &[u8], exponent: &[u8]) -> Result<RsaPublicKey, KeyError> {
        let exponent = read_exponent(exponent)?;
        let modulus = bigint::strip_leading_zeros(modulus);
        let bits = modulus
            .first()
            .map_or(0, |top| 8 * modulus.len() - top.leading_zeros() as usize);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(KeyError::ModulusSize { bits });
        }
        let mut limbs = vec![0u32; narrow_limbs::limbs_for_bits(bits)];
        narrow_limbs::read_be(&mut limbs, modulus);
        let n = Modulus::new(limbs).ok_or(KeyError::EvenModulus)?;
        Ok(RsaPublicKey {
            unscale_reversed: narrow_limbs::reversed(&unscaling_factor(&n, exponent)),
            n,
            exponent,
            bits,
        })
    }

    /// Size of the modulus in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The modulus, big-endian, without leading zero bytes.
    pub fn modulus(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; self.size()];
        narrow_limbs::write_be(&mut bytes, self.n.limbs());
        bytes
    }

    /// The public exponent, big-endian, without leading zero bytes.
    pub fn exponent(&self) -> Vec<u8> {
        bigint::strip_leading_zeros(&self.exponent.to_be_bytes()).to_vec()
    }

    /// Length of a signature in bytes: the modulus length.
    pub fn size(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.2): the whole encoded message is
    /// rebuilt from the digest and compared, never parsed.
    pub fn verify_pkcs1v15(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let Some(encoded) = self.public_operation(signature) else {
            return false;
        };
        let digest = hash.digest(&[message]);
        let prefix = digest_info_prefix(hash);
        let trailer = prefix.len() + digest.as_bytes().len();
        // 0x00 0x01, at least 8 bytes of 0xff, 0x00, DigestInfo.
        if encoded.len() < trailer + 11 {
            return false;
        }
        let padding_end = encoded.len() - trailer - 1;
        encoded[0] == 0x00
            && encoded[1] == 0x01
            && encoded[2..padding_end].iter().all(|&byte| byte == 0xff)
            && encoded[padding_end] == 0x00
            && encoded[padding_end + 1..padding_end + 1 + prefix.len()] == *prefix
            && encoded[encoded.len() - digest.as_bytes().len()..] == *digest.as_bytes()
    }

    /// RSASSA-PSS (RFC 8017 §8.1.2, §9.1.2) with MGF1 over the same hash
    /// and a salt as long as the digest, as RFC 7518 §3.5 requires.
    pub fn verify_pss(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let Some(decrypted) = self.public_operation(signature) else {
            return false;
        };
        let encoded_bits = self.bits - 1;
        let encoded_len = encoded_bits.div_ceil(8);
        // The encoded message has `encoded_bits` bits; when that is a whole
        // number of bytes the integer's top byte must be zero.
        let (high, encoded) = decrypted.split_at(decrypted.len() - encoded_len);
        if high.iter().any(|&byte| byte != 0) {
            return false;
        }
        pss_encoding_matches(hash, message, encoded, encoded_bits)
    }

    /// `signature^e mod n` as bytes as long as the modulus, or `None` when
    /// the signature has the wrong length or is not below the modulus.
    fn public_operation(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.size() {
            return None;
        }
        let mut base = self.n.scratch();
        if !narrow_limbs::read_be(&mut base, signature)
            || narrow_limbs::compare(&base, self.n.limbs()) != std::cmp::Ordering::Less
        {
            return None;
        }
        let power = self.power(&base);
        let mut out = vec![0u8; self.size()];
        narrow_limbs::write_be(&mut out, &power);
        Some(out)
    }

    /// `base^e mod n` for `base < n`, by square-and-multiply with
    /// Montgomery steps on the plain `base`: each step divides by `R`, and
    /// one last multiplication by [`unscaling_factor`] puts the powers of
    /// `R` back, so neither a conversion into Montgomery form nor one out
    /// of it is needed.
    fn power(&self, base: &[u32]) -> Vec<u32> {
        let acc = montgomery_steps_power(&self.n, base, self.exponent.into());
        let mut out = self.n.scratch();
        let mut quotients = self.n.scratch();
        self.n
            .mul(&mut out, &acc, &self.unscale_reversed, &mut quotients);
        out
    }
}

/// `base^exponent * R^-s mod n` for `base < n` and an exponent of at least
/// 1, by left-to-right square-and-multiply with Montgomery steps, each of
/// which divides by `R`; `s` is [`montgomery_steps_scale`] of the exponent.
fn montgomery_steps_power(n: &Modulus, base: &[u32], exponent: u64) -> Vec<u32> {
    let base_reversed = narrow_limbs::reversed(base);
    let (mut acc, mut acc_reversed) = (base.to_vec(), base_reversed.clone());
    let (mut scratch, mut quotients) = (n.scratch(), n.scratch());
    for bit in (0..63 - exponent.leading_zeros()).rev() {
        n.sqr(&mut scratch, &acc, &acc_reversed, &mut quotients);
        if exponent >> bit & 1 == 1 {
            n.mul(&mut acc, &scratch, &base_reversed, &mut quotients);
        } else {
            std::mem::swap(&mut acc, &mut scratch);
        }
        narrow_limbs::reverse_into(&mut acc_reversed, &acc);
    }
    acc
}

/// How many factors `R^-1` [`RsaPublicKey::power`] leaves in `base^e`:
/// each squaring doubles the count and adds one, each multiplication by
/// `base` adds one. At most about 2^33 for a 32-bit exponent.
fn montgomery_steps_scale(exponent: u32) -> u64 {
    let top_bit = 31 - exponent.leading_zeros();
    let mut scale = 0u64;
    for bit in (0..top_bit).rev() {
        scale = 2 * scale + 1;
        if exponent >> bit & 1 == 1 {
            scale += 1;
        }
    }
    scale
}

/// `R^(s + 1) mod n` for `s` = [`montgomery_steps_scale`]: one Montgomery
/// multiplication by it turns `base^e * R^-s` into `base^e`.
///
/// `R^2 mod n` is `R` in Montgomery form, and raising it to the power `s`
/// in Montgomery form gives the Montgomery form of `R^s`, which is
/// `R^(s + 1) mod n`.
fn unscaling_factor(n: &Modulus, exponent: u32) -> Vec<u32> {
    montgomery_steps_power(n, &n.r_squared(), montgomery_steps_scale(exponent))
}

fn read_exponent(exponent: &[u8]) -> Result<u32, KeyError> {
    let exponent = bigint::strip_leading_zeros(exponent);
    if exponent.len() > 4 {
        return Err(KeyError::Exponent);
    }
    let value = exponent
        .iter()
        .fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte));
    if value < 3 || value & 1 == 0 {
        return Err(KeyError::Exponent);
    }
    Ok(value)
}

/// DER of `DigestInfo` up to the digest bytes (RFC 8017 §9.2, note 1),
/// with the NULL parameters the RFC writes out.
fn digest_info_prefix(hash: Hash) -> &'static [u8] {
    match hash {
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with salt length = digest length.
fn pss_encoding_matches(hash: Hash, message: &[u8], encoded: &[u8], encoded_bits: usize) -> bool {
    let digest_len = hash.output_len();
    let salt_len = digest_len;
    let encoded_len = encoded.len();
    if encoded_len < digest_len + salt_len + 2 || encoded[encoded_len - 1] != 0xbc {
        return false;
    }
    let (masked_db, rest) = encoded.split_at(encoded_len - digest_len - 1);
    let h = &rest[..digest_len];
    let unused_bits = 8 * encoded_len - encoded_bits;
    if unused_bits > 0 && masked_db[0] >> (8 - unused_bits) != 0 {
        return false;
    }
    let mut db = mgf1(hash, h, masked_db.len());
    for (byte, masked) in db.iter_mut().zip(masked_db) {
        *byte ^= masked;
    }
    db[0] &= 0xff >> unused_bits;
    let padding_len = db.len() - salt_len - 1;
    if db[..padding_len].iter().any(|&byte| byte != 0) || db[padding_len] != 0x01 {
        return false;
    }
    let salt = &db[padding_len + 1..];
    let expected = hash.digest(&[&[0u8; 8], hash.digest(&[message]).as_bytes(), salt]);
    expected.as_bytes() == h
}

/// MGF1 (RFC 8017 §B.2.1) output of `len` bytes.
fn mgf1(hash: Hash, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + hash.output_len());
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(hash.digest(&[seed, &counter.to_be_bytes()]).as_bytes());
        counter += 1;
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modulus_of_bits(bits: usize) -> Vec<u8> {
        let mut bytes = vec![0xffu8; bits.div_ceil(8)];
        bytes[0] = 0xff >> (8 * bytes.len() - bits);
        bytes
    }

    #[test]
    fn refuses_moduli_outside_2048_to_4096_bits_and_even_ones() {
        let e = [1, 0, 1];
        assert!(RsaPublicKey::from_be_bytes(&modulus_of_bits(2048), &e).is_ok());
        assert!(RsaPublicKey::from_be_bytes(&modulus_of_bits(4096), &e).is_ok());
        assert_eq!(
            RsaPublicKey::from_be_bytes(&modulus_of_bits(2047), &e),
            Err(KeyError::ModulusSize { bits: 2047 })
        );
        assert_eq!(
            RsaPublicKey::from_be_bytes(&modulus_of_bits(4097), &e),
            Err(KeyError::ModulusSize { bits: 4097 })
        );
        let mut even = modulus_of_bits(2048);
        *even.last_mut().unwrap() = 0xfe;
        assert_eq!(
            RsaPublicKey::from_be_bytes(&even, &e),
            Err(KeyError::EvenModulus)
        );
    }

    #[test]
    fn refuses_exponents_that_are_even_too_small_or_too_large() {
        let n = modulus_of_bits(2048);
        for bad in [&[1][..], &[0, 0, 0, 0, 2], &[0x01, 0, 0, 0, 1], &[2, 0]] {
            assert_eq!(
                RsaPublicKey::from_be_bytes(&n, bad),
                Err(KeyError::Exponent),
                "{bad:?}"
            );
        }
        for good in [&[3][..], &[0, 1, 0, 1], &[0xff, 0xff, 0xff, 0xff]] {
            assert!(RsaPublicKey::from_be_bytes(&n, good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn reports_its_parts_without_leading_zeros() {
        let n = modulus_of_bits(2050);
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&n);
        let key = RsaPublicKey::from_be_bytes(&padded, &[0, 1, 0, 1]).unwrap();
        assert_eq!(key.bits(), 2050);
        assert_eq!(key.size(), 257);
        assert_eq!(key.modulus(), n);
        assert_eq!(key.exponent(), [1, 0, 1]);
    }

    /// `base^e mod n` the textbook way, with the 32-bit limbs of
    /// [`bigint`]: into Montgomery form, square and multiply with the plain
    /// Montgomery multiplication, back out.
    fn reference_power(n: &[u32], base: &[u32], exponent: u32) -> Vec<u32> {
        let factor = bigint::montgomery_factor(n[0]);
        let r_squared = bigint::montgomery_r_squared(n);
        let mut base_form = vec![0u32; n.len()];
        bigint::mont_mul(&mut base_form, base, &r_squared, n, factor);
        let mut acc = base_form.clone();
        for bit in (0..31 - exponent.leading_zeros()).rev() {
            let mut next = vec![0u32; n.len()];
            bigint::mont_mul(&mut next, &acc, &acc, n, factor);
            if exponent >> bit & 1 == 1 {
                bigint::mont_mul(&mut acc, &next, &base_form, n, factor);
            } else {
                acc = next;
            }
        }
        let mut one = vec![0u32; n.len()];
        one[0] = 1;
        let mut out = vec![0u32; n.len()];
        bigint::mont_mul(&mut out, &acc, &one, n, factor);
        out
    }

    #[test]
    fn public_operation_matches_textbook_exponentiation_for_any_exponent() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(0xe7);
        for bits in [2048usize, 2050, 3072, 4096] {
            let mut modulus: Vec<u8> = (0..bits.div_ceil(8)).map(|_| rng.gen()).collect();
            modulus[0] &= 0xff >> (8 * modulus.len() - bits);
            modulus[0] |= 0x80 >> (8 * modulus.len() - bits);
            *modulus.last_mut().unwrap() |= 1;
            let modulus = bigint::strip_leading_zeros(&modulus).to_vec();
            for exponent in [3u32, 5, 17, 65537, 0x8000_0001, u32::MAX] {
                let key = RsaPublicKey::from_be_bytes(&modulus, &exponent.to_be_bytes()).unwrap();
                let mut signature: Vec<u8> = (0..key.size()).map(|_| rng.gen()).collect();
                signature[0] = 0;
                let limbs = bigint::limbs_for_bytes(modulus.len());
                let (mut n, mut base) = (vec![0u32; limbs], vec![0u32; limbs]);
                bigint::read_be(&mut n, &modulus);
                bigint::read_be(&mut base, &signature);
                let mut expected = vec![0u8; key.size()];
                bigint::write_be(&mut expected, &reference_power(&n, &base, exponent));
                assert_eq!(
                    key.public_operation(&signature),
                    Some(expected),
                    "{bits} bits, e = {exponent}"
                );
            }
        }
    }

    #[test]
    fn signatures_of_the_wrong_length_or_not_below_the_modulus_fail() {
        let key = RsaPublicKey::from_be_bytes(&modulus_of_bits(2048), &[3]).unwrap();
        let message = b"message";
        for signature in [
            vec![0u8; 255],
            vec![0u8; 257],
            modulus_of_bits(2048),
            vec![0xff; 256],
        ] {
            assert!(!key.verify_pkcs1v15(Hash::Sha256, message, &signature));
            assert!(!key.verify_pss(Hash::Sha256, message, &signature));
        }
    }
}
