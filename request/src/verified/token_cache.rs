//! Verified-token cache: a token that passed every check is not checked
//! again while it stays valid. An entry is keyed by a keyed 128-bit hash of
//! the token (the token itself is not kept), holds only successes (so a
//! valid token can never fail from the cache), and ends at the token's
//! `exp` (with the clock skew) or when the provider's key set changes,
//! whichever comes first. Bounded: the oldest entry makes room for a new
//! one. What an entry holds is up to the caller (the pipeline keeps the
//! claims and what they grant).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::rc::Rc;

use siphasher::sip128::{Hasher128, SipHasher13};

/// What an entry is found by: SipHash-1-3 (128 bits) of the token under a
/// key drawn at random for each cache. Without that key nobody can make a
/// token land on another token's entry, and tokens are not kept in memory.
/// Several times cheaper per request than SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey(u128);

struct Entry<V> {
    provider: usize,
    key_generation: u64,
    /// Seconds since the epoch; `None` for tokens without `exp`.
    valid_until_s: Option<f64>,
    value: Rc<V>,
}

pub struct TokenCache<V> {
    capacity: usize,
    hash_key: (u64, u64),
    entries: HashMap<TokenKey, Entry<V>, BuildHasherDefault<KeyBits>>,
    insertion_order: VecDeque<TokenKey>,
}

impl<V> TokenCache<V> {
    /// A cache of at most `capacity` tokens; 0 turns it off.
    pub fn new(capacity: usize) -> TokenCache<V> {
        TokenCache {
            capacity,
            hash_key: random_hash_key(),
            entries: HashMap::default(),
            insertion_order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key of `token`; `None` when the cache is off, so nothing is hashed.
    #[inline]
    pub fn key_of(&self, token: &str) -> Option<TokenKey> {
        (self.capacity > 0).then(|| {
            let mut hasher = SipHasher13::new_with_keys(self.hash_key.0, self.hash_key.1);
            hasher.write(token.as_bytes());
            TokenKey(hasher.finish128().as_u128())
        })
    }

    /// What was kept of a token verified before, if that still holds: not
    /// expired, and the provider's keys unchanged.
    #[inline]
    pub fn get(
        &mut self,
        key: &TokenKey,
        key_generation: impl Fn(usize) -> Option<u64>,
        now_s: u64,
    ) -> Option<Rc<V>> {
        let entry = self.entries.get(key)?;
        let fresh = entry
            .valid_until_s
            .is_none_or(|until| (now_s as f64) < until)
            && key_generation(entry.provider) == Some(entry.key_generation);
        if fresh {
            Some(entry.value.clone())
        } else {
            self.entries.remove(key);
            None
        }
    }

    pub fn insert(
        &mut self,
        key: TokenKey,
        provider: usize,
        key_generation: u64,
        valid_until_s: Option<f64>,
        value: Rc<V>,
    ) {
        while self.entries.len() >= self.capacity {
            match self.insertion_order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        let entry = Entry {
            provider,
            key_generation,
            valid_until_s,
            value,
        };
        if self.entries.insert(key, entry).is_none() {
            self.insertion_order.push_back(key);
        }
        // Entries removed on expiry leave stale hashes behind; keep the
        // queue bounded too.
        if self.insertion_order.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.insertion_order
                .retain(|hash| entries.contains_key(hash));
        }
    }
}

/// The table's hash of a [`TokenKey`]: 64 of its bits. The key already is
/// a keyed hash nobody can steer without the cache's secret, so hashing it
/// again (std's default) would only cost time.
#[derive(Default)]
struct KeyBits(u64);

impl Hasher for KeyBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, bits: u128) {
        self.0 ^= bits as u64;
    }

    /// Not used by `TokenKey`; folds other input in so the hasher stays
    /// correct for any key.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
}

/// 128 secret bits: std seeds every `RandomState` from the system's random
/// source (`random_get` in a proxy-wasm host); two hashes under it give the
/// key.
fn random_hash_key() -> (u64, u64) {
    let seed = RandomState::new();
    (seed.hash_one(0u8), seed.hash_one(1u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a token in `cache` under the key `cache` gives it.
    fn get(cache: &mut TokenCache<()>, token: &str, generation: Option<u64>, now: u64) -> bool {
        let key = cache.key_of(token).unwrap();
        cache.get(&key, |_| generation, now).is_some()
    }

    fn put(cache: &mut TokenCache<()>, token: &str, valid_until: Option<f64>) {
        let key = cache.key_of(token).unwrap();
        cache.insert(key, 0, 7, valid_until, Rc::new(()));
    }

    #[test]
    fn entries_end_at_expiry_and_on_key_change() {
        let mut cache = TokenCache::new(4);
        put(&mut cache, "a", Some(100.0));
        assert!(get(&mut cache, "a", Some(7), 99));
        assert!(!get(&mut cache, "a", Some(7), 100), "expired");
        put(&mut cache, "b", None);
        assert!(!get(&mut cache, "b", Some(8), 0), "keys changed");
        assert!(!get(&mut cache, "b", Some(7), 0), "gone after the miss");
        put(&mut cache, "c", None);
        assert!(!get(&mut cache, "c", None, 0), "keys dropped");
        assert!(!get(&mut cache, "unknown", Some(7), 0));
    }

    #[test]
    fn stays_within_its_capacity() {
        let mut cache = TokenCache::new(2);
        for token in ["a", "b", "c"] {
            put(&mut cache, token, None);
        }
        assert_eq!(cache.len(), 2);
        assert!(!get(&mut cache, "a", Some(7), 0), "oldest evicted");
        assert!(get(&mut cache, "c", Some(7), 0));
        for index in 0..100 {
            put(&mut cache, &index.to_string(), Some(1.0));
            get(&mut cache, &index.to_string(), Some(7), 5);
        }
        assert!(cache.insertion_order.len() <= 4);
        assert_eq!(
            TokenCache::<()>::new(0).key_of("a"),
            None,
            "off: nothing hashed or kept"
        );
    }

    #[test]
    fn keys_differ_per_token_and_per_cache() {
        let cache = TokenCache::<()>::new(1);
        assert_eq!(cache.key_of("a"), cache.key_of("a"));
        assert_ne!(cache.key_of("a"), cache.key_of("b"));
        assert_ne!(
            cache.key_of("a"),
            TokenCache::<()>::new(1).key_of("a"),
            "random key"
        );
    }
}
