//! Verified-token cache: a token that passed every check is not checked
//! again while it stays valid. An entry is keyed by the token itself (a
//! lookup compares the whole token, so no two tokens can share an entry),
//! holds only successes (so a valid token can never fail from the cache),
//! and ends at the token's `exp` (with the clock skew) or when the
//! provider's key set changes, whichever comes first. Bounded: the oldest
//! entry makes room for a new one.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use serde_json::{Map, Value};

pub type Claims = Rc<Map<String, Value>>;

/// What an entry is found by: the whole token. Only tokens that passed
/// verification are stored, each at most `max_token_bytes` long. A
/// cryptographic hash of the token would do as well but costs more per
/// request than the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey(Rc<str>);

/// Lets a lookup use the token as the request carries it, without a copy.
impl std::borrow::Borrow<str> for TokenKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

struct Entry {
    provider: usize,
    key_generation: u64,
    /// Seconds since the epoch; `None` for tokens without `exp`.
    valid_until_s: Option<f64>,
    claims: Claims,
}

pub struct TokenCache {
    capacity: usize,
    entries: HashMap<TokenKey, Entry>,
    insertion_order: VecDeque<TokenKey>,
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

    /// The key of `token`; `None` when the cache is off, so nothing is kept.
    pub fn key_of(&self, token: &str) -> Option<TokenKey> {
        (self.capacity > 0).then(|| TokenKey(Rc::from(token)))
    }

    /// The provider and claims of a token verified before, if that still
    /// holds: not expired, and the provider's keys unchanged.
    pub fn get(
        &mut self,
        token: &str,
        key_generation: impl Fn(usize) -> Option<u64>,
        now_s: u64,
    ) -> Option<(usize, Claims)> {
        let entry = self.entries.get(token)?;
        let fresh = entry
            .valid_until_s
            .is_none_or(|until| (now_s as f64) < until)
            && key_generation(entry.provider) == Some(entry.key_generation);
        if fresh {
            Some((entry.provider, entry.claims.clone()))
        } else {
            self.entries.remove(token);
            None
        }
    }

    pub fn insert(
        &mut self,
        key: TokenKey,
        provider: usize,
        key_generation: u64,
        valid_until_s: Option<f64>,
        claims: Claims,
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
            claims,
        };
        if self.entries.insert(key.clone(), entry).is_none() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Rc::new(Map::new())
    }

    fn key(token: &str) -> TokenKey {
        TokenCache::new(1).key_of(token).unwrap()
    }

    #[test]
    fn entries_end_at_expiry_and_on_key_change() {
        let mut cache = TokenCache::new(4);
        cache.insert(key("a"), 0, 7, Some(100.0), claims());
        assert!(cache.get("a", |_| Some(7), 99).is_some());
        assert!(cache.get("a", |_| Some(7), 100).is_none(), "expired");
        cache.insert(key("b"), 0, 7, None, claims());
        assert!(cache.get("b", |_| Some(8), 0).is_none(), "keys changed");
        assert!(
            cache.get("b", |_| Some(7), 0).is_none(),
            "gone after the miss"
        );
        cache.insert(key("c"), 0, 7, None, claims());
        assert!(cache.get("c", |_| None, 0).is_none(), "keys dropped");
        assert!(cache.get("unknown", |_| Some(7), 0).is_none());
    }

    #[test]
    fn stays_within_its_capacity() {
        let mut cache = TokenCache::new(2);
        for token in ["a", "b", "c"] {
            cache.insert(key(token), 0, 1, None, claims());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a", |_| Some(1), 0).is_none(), "oldest evicted");
        assert!(cache.get("c", |_| Some(1), 0).is_some());
        for index in 0..100 {
            cache.insert(key(&index.to_string()), 0, 1, Some(1.0), claims());
            cache.get(&index.to_string(), |_| Some(1), 5);
        }
        assert!(cache.insertion_order.len() <= 4);
        assert_eq!(
            TokenCache::new(0).key_of("a"),
            None,
            "off: nothing hashed or kept"
        );
    }
}
