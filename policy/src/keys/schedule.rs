//! When to fetch a provider's keys, and the small records the workers share
//! about it. The host keeps three records per provider in proxy-wasm shared
//! data:
//!
//! * the key record: the last good JWKS, when it was fetched and how long it
//!   lives;
//! * the lease: until when one worker owns the next fetch, and how many
//!   fetches failed in a row (taken with compare-and-swap, so only one worker
//!   fetches; a failed fetch extends it to the retry time, which backs off);
//! * the unknown-kid claim: when a token with an unknown `kid` last caused a
//!   fetch, so such fetches happen at most once per interval.

/// Shared-data key of a provider's key record.
pub fn key_record_name(provider: &str) -> String {
    format!("tenantgate/{provider}/keys")
}

/// Shared-data key of a provider's fetch lease.
pub fn lease_name(provider: &str) -> String {
    format!("tenantgate/{provider}/lease")
}

/// Shared-data key of a provider's last unknown-kid fetch.
pub fn kid_claim_name(provider: &str) -> String {
    format!("tenantgate/{provider}/kid-refetch")
}

/// Key sets never live shorter than this, whatever `max-age` says.
pub const MIN_LIFETIME_MS: u64 = 1_000;

/// The last good JWKS of a provider as all workers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub fetched_at_ms: u64,
    pub lifetime_ms: u64,
    pub jwks: Vec<u8>,
}

const RECORD_MAGIC: &[u8] = b"tenantgate-keys-v2 ";

impl KeyRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = RECORD_MAGIC.to_vec();
        bytes
            .extend_from_slice(format!("{} {}\n", self.fetched_at_ms, self.lifetime_ms).as_bytes());
        bytes.extend_from_slice(&self.jwks);
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<KeyRecord> {
        let rest = bytes.strip_prefix(RECORD_MAGIC)?;
        let newline = rest.iter().position(|&b| b == b'\n')?;
        let header = std::str::from_utf8(&rest[..newline]).ok()?;
        let (fetched, lifetime) = header.split_once(' ')?;
        Some(KeyRecord {
            fetched_at_ms: fetched.parse().ok()?,
            lifetime_ms: lifetime.parse().ok()?,
            jwks: rest[newline + 1..].to_vec(),
        })
    }

    /// Background refresh starts after four fifths of the lifetime, so it
    /// normally completes before the keys are old.
    pub fn refresh_due(&self, now_ms: u64) -> bool {
        now_ms >= self.fetched_at_ms.saturating_add(self.lifetime_ms * 4 / 5)
    }

    /// Whether this key set answers an unknown-kid refetch asked for at
    /// `requested_at_ms`: it was fetched since. Two workers can both claim
    /// the first refetch (the claim record does not exist yet, so neither
    /// write is compare-and-swap); the one that did not fetch finds its
    /// request answered by the other's keys instead of fetching again.
    pub fn answers_refetch_requested_at(&self, requested_at_ms: u64) -> bool {
        self.fetched_at_ms >= requested_at_ms
    }

    /// Past its lifetime and the allowed stale period: no longer trusted.
    pub fn is_stale(&self, max_stale_s: u64, now_ms: u64) -> bool {
        now_ms
            > self
                .fetched_at_ms
                .saturating_add(self.lifetime_ms)
                .saturating_add(max_stale_s.saturating_mul(1000))
    }
}

/// Who may fetch next: nobody before `until_ms`; `failures` counts failed
/// fetches in a row, for the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lease {
    pub until_ms: u64,
    pub failures: u32,
}

impl Lease {
    pub fn encode(self) -> Vec<u8> {
        format!("{} {}", self.until_ms, self.failures).into_bytes()
    }

    /// An unreadable lease counts as free, so a garbled value cannot stop
    /// every future fetch.
    pub fn decode(bytes: Option<&[u8]>) -> Lease {
        let text = bytes
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("");
        let mut parts = text.split(' ').map(str::parse::<u64>);
        match (parts.next(), parts.next()) {
            (Some(Ok(until_ms)), Some(Ok(failures))) => Lease {
                until_ms,
                failures: u32::try_from(failures).unwrap_or(u32::MAX),
            },
            _ => Lease::default(),
        }
    }

    pub fn is_free(self, now_ms: u64) -> bool {
        now_ms >= self.until_ms
    }

    /// The lease after a failed fetch: retry after 1 s, doubling, capped at
    /// 30 s while no keys were ever loaded (requests are waiting) and at
    /// 5 minutes once a good set is in use.
    pub fn after_failure(self, have_keys: bool, now_ms: u64) -> Lease {
        let failures = self.failures.saturating_add(1);
        let cap_ms = if have_keys { 300_000 } else { 30_000 };
        let backoff_ms = 1_000u64
            .checked_shl(failures - 1)
            .unwrap_or(u64::MAX)
            .min(cap_ms);
        Lease {
            until_ms: now_ms.saturating_add(backoff_ms),
            failures,
        }
    }
}

/// How long the fetching worker holds the lease: both requests of a
/// discovery fetch, plus a margin.
pub fn fetch_lease_ms(timeout_ms: u64) -> u64 {
    2 * timeout_ms + 1000
}

/// The lifetime of a fetched key set: the configured cache duration,
/// lowered by the answer's `Cache-Control: max-age` when that is smaller.
pub fn lifetime_ms(cache_duration_s: u64, cache_control: Option<&str>) -> u64 {
    let configured = cache_duration_s.saturating_mul(1000);
    let lifetime = match cache_control.and_then(max_age_s) {
        Some(max_age) => configured.min(max_age.saturating_mul(1000)),
        None => configured,
    };
    lifetime.max(MIN_LIFETIME_MS)
}

fn max_age_s(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") {
            value.trim().trim_matches('"').parse().ok()
        } else {
            None
        }
    })
}

/// What to do with a token naming a `kid` the key set lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownKid {
    /// Claim the refetch (compare-and-swap on the claim record) and wait.
    Refetch,
    /// A refetch claimed by some worker has not completed: wait for it.
    Wait,
    /// The key set was refetched recently and still lacks the kid.
    Refuse,
}

/// `claimed_at_ms`: the last unknown-kid refetch claim of the provider;
/// `fetched_at_ms`: when the key set in use was fetched.
pub fn unknown_kid(
    claimed_at_ms: Option<u64>,
    fetched_at_ms: u64,
    interval_s: u64,
    now_ms: u64,
) -> UnknownKid {
    match claimed_at_ms {
        Some(claimed) if now_ms.saturating_sub(claimed) < interval_s.saturating_mul(1000) => {
            if fetched_at_ms < claimed {
                UnknownKid::Wait
            } else {
                UnknownKid::Refuse
            }
        }
        _ => UnknownKid::Refetch,
    }
}

/// Whether a response's `Content-Type` is JSON (JWKS are
/// `application/json` or `application/jwk-set+json`).
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media_type = crate::encoding::media_type(content_type);
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_record_round_trips_and_refuses_garbage() {
        let record = KeyRecord {
            fetched_at_ms: 1_700_000_000_123,
            lifetime_ms: 600_000,
            jwks: b"{\"keys\":[]}\n".to_vec(),
        };
        assert_eq!(KeyRecord::decode(&record.encode()), Some(record));
        assert_eq!(KeyRecord::decode(b"{\"keys\":[]}"), None);
        assert_eq!(KeyRecord::decode(b"tenantgate-keys-v2 x 1\n{}"), None);
        assert_eq!(KeyRecord::decode(b"tenantgate-keys-v2 1\n{}"), None);
    }

    #[test]
    fn a_key_set_fetched_since_a_refetch_request_answers_it() {
        let record = KeyRecord {
            fetched_at_ms: 5_000,
            lifetime_ms: 600_000,
            jwks: Vec::new(),
        };
        assert!(record.answers_refetch_requested_at(4_999));
        assert!(record.answers_refetch_requested_at(5_000));
        assert!(!record.answers_refetch_requested_at(5_001));
    }

    #[test]
    fn refresh_after_four_fifths_and_stale_after_the_grace_period() {
        let record = KeyRecord {
            fetched_at_ms: 1_000,
            lifetime_ms: 600_000,
            jwks: Vec::new(),
        };
        assert!(!record.refresh_due(1_000 + 479_999));
        assert!(record.refresh_due(1_000 + 480_000));
        assert!(!record.is_stale(60, 1_000 + 660_000));
        assert!(record.is_stale(60, 1_000 + 660_001));
    }

    #[test]
    fn lease_round_trips_and_garbage_is_free() {
        let lease = Lease {
            until_ms: 10,
            failures: 2,
        };
        assert_eq!(Lease::decode(Some(&lease.encode())), lease);
        assert!(!lease.is_free(9));
        assert!(lease.is_free(10));
        assert!(Lease::decode(Some(b"garbage")).is_free(0));
        assert!(Lease::decode(None).is_free(0));
    }

    #[test]
    fn failures_back_off_exponentially_to_a_cap() {
        let mut lease = Lease::default();
        let mut waits = Vec::new();
        for _ in 0..8 {
            lease = lease.after_failure(false, 0);
            waits.push(lease.until_ms);
        }
        assert_eq!(
            waits,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        let worn = Lease {
            until_ms: 0,
            failures: 200,
        };
        assert_eq!(worn.after_failure(true, 5).until_ms, 300_005);
    }

    #[test]
    fn max_age_only_lowers_the_lifetime() {
        assert_eq!(lifetime_ms(600, None), 600_000);
        assert_eq!(lifetime_ms(600, Some("public, max-age=120")), 120_000);
        assert_eq!(
            lifetime_ms(600, Some("Max-Age=\"30\", must-revalidate")),
            30_000
        );
        assert_eq!(lifetime_ms(60, Some("max-age=86400")), 60_000);
        assert_eq!(lifetime_ms(600, Some("max-age=0")), MIN_LIFETIME_MS);
        assert_eq!(lifetime_ms(600, Some("max-age=soon")), 600_000);
    }

    #[test]
    fn unknown_kid_refetches_at_most_once_per_interval() {
        assert_eq!(unknown_kid(None, 0, 30, 100_000), UnknownKid::Refetch);
        assert_eq!(
            unknown_kid(Some(90_000), 80_000, 30, 100_000),
            UnknownKid::Wait
        );
        assert_eq!(
            unknown_kid(Some(90_000), 95_000, 30, 100_000),
            UnknownKid::Refuse
        );
        assert_eq!(
            unknown_kid(Some(60_000), 95_000, 30, 100_000),
            UnknownKid::Refetch
        );
    }

    #[test]
    fn only_json_answers_are_read() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "application/jwk-set+json; charset=utf-8"
        )));
        assert!(is_json_content_type(Some("Application/JSON")));
        assert!(!is_json_content_type(Some("text/html")));
        assert!(!is_json_content_type(Some("text/json+x")));
        assert!(!is_json_content_type(None));
    }
}
