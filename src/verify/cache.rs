//! Verified-token cache: a token that passed every check is not checked
//! again while it stays valid. An entry is keyed by the SHA-256 of the token,
//! holds only successes (so a valid token can never fail from the cache),
//! and ends at the token's `exp` (with the clock skew) or when the
//! provider's key set changes, whichever comes first. Bounded: the oldest
//! entry makes room for a new one.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub type Claims = Rc<Map<String, Value>>;

type TokenHash = [u8; 32];

struct Entry {
    provider: usize,
    key_generation: u64,
    /// Seconds since the epoch; `None` for tokens without `exp`.
    valid_until_s: Option<f64>,
    claims: Claims,
}

pub struct TokenCache {
    capacity: usize,
    entries: HashMap<TokenHash, Entry>,
    insertion_order: VecDeque<TokenHash>,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns it off.
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            entries: HashMap::new(),
            insertion_order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The provider and claims of a token verified before, if that still
    /// holds: not expired, and the provider's keys unchanged.
    pub fn get(
        &mut self,
        token: &str,
        key_generation: impl Fn(usize) -> Option<u64>,
        now_s: u64,
    ) -> Option<(usize, Claims)> {
        if self.capacity == 0 {
            return None;
        }
        let hash = hash(token);
        let entry = self.entries.get(&hash)?;
        let fresh = entry
            .valid_until_s
            .is_none_or(|until| (now_s as f64) < until)
            && key_generation(entry.provider) == Some(entry.key_generation);
        if fresh {
            Some((entry.provider, entry.claims.clone()))
        } else {
            self.entries.remove(&hash);
            None
        }
    }

    pub fn insert(
        &mut self,
        token: &str,
        provider: usize,
        key_generation: u64,
        valid_until_s: Option<f64>,
        claims: Claims,
    ) {
        if self.capacity == 0 {
            return;
        }
        let hash = hash(token);
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
            claims,
        };
        if self.entries.insert(hash, entry).is_none() {
            self.insertion_order.push_back(hash);
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

fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Rc::new(Map::new())
    }

    #[test]
    fn entries_end_at_expiry_and_on_key_change() {
        let mut cache = TokenCache::new(4);
        cache.insert("a", 0, 7, Some(100.0), claims());
        assert!(cache.get("a", |_| Some(7), 99).is_some());
        assert!(cache.get("a", |_| Some(7), 100).is_none(), "expired");
        cache.insert("b", 0, 7, None, claims());
        assert!(cache.get("b", |_| Some(8), 0).is_none(), "keys changed");
        assert!(
            cache.get("b", |_| Some(7), 0).is_none(),
            "gone after the miss"
        );
        cache.insert("c", 0, 7, None, claims());
        assert!(cache.get("c", |_| None, 0).is_none(), "keys dropped");
        assert!(cache.get("unknown", |_| Some(7), 0).is_none());
    }

    #[test]
    fn stays_within_its_capacity() {
        let mut cache = TokenCache::new(2);
        for token in ["a", "b", "c"] {
            cache.insert(token, 0, 1, None, claims());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a", |_| Some(1), 0).is_none(), "oldest evicted");
        assert!(cache.get("c", |_| Some(1), 0).is_some());
        for index in 0..100 {
            cache.insert(&index.to_string(), 0, 1, Some(1.0), claims());
            cache.get(&index.to_string(), |_| Some(1), 5);
        }
        assert!(cache.insertion_order.len() <= 4);
        let mut off = TokenCache::new(0);
        off.insert("a", 0, 1, None, claims());
        assert!(off.get("a", |_| Some(1), 0).is_none());
    }
}
