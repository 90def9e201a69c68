//! When to fetch a provider's keys, and the small records the workers share
//! about it. The host keeps both records in proxy-wasm shared data:
//!
//! * the key record: the last good JWKS and when it was fetched;
//! * the lease: until when one worker owns the next fetch (taken with
//!   compare-and-swap, so only one worker fetches; a failed fetch extends it
//!   to hold the others back until the retry time).

/// Shared-data key of a provider's key record.
pub fn key_record_name(provider: &str) -> String {
    format!("tenantgate/{provider}/keys")
}

/// Shared-data key of a provider's fetch lease.
pub fn lease_name(provider: &str) -> String {
    format!("tenantgate/{provider}/lease")
}

/// The last good JWKS of a provider as all workers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub fetched_at_ms: u64,
    pub jwks: Vec<u8>,
}

const RECORD_MAGIC: &[u8] = b"tenantgate-keys-v1 ";

impl KeyRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = RECORD_MAGIC.to_vec();
        bytes.extend_from_slice(self.fetched_at_ms.to_string().as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&self.jwks);
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<KeyRecord> {
        let rest = bytes.strip_prefix(RECORD_MAGIC)?;
        let newline = rest.iter().position(|&b| b == b'\n')?;
        let fetched_at_ms = std::str::from_utf8(&rest[..newline]).ok()?.parse().ok()?;
        Some(KeyRecord {
            fetched_at_ms,
            jwks: rest[newline + 1..].to_vec(),
        })
    }
}

/// Until when (ms since the epoch) a worker owns the fetch.
pub fn encode_lease(until_ms: u64) -> Vec<u8> {
    until_ms.to_string().into_bytes()
}

/// An unreadable lease counts as expired, so a garbled value cannot stop
/// every future fetch.
pub fn lease_expired(lease: Option<&[u8]>, now_ms: u64) -> bool {
    let until = lease
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0);
    now_ms >= until
}

/// Keys are refreshed once four fifths of their lifetime have passed, so a
/// refresh normally completes before they would be considered old.
pub fn refresh_due(fetched_at_ms: Option<u64>, cache_duration_s: u64, now_ms: u64) -> bool {
    match fetched_at_ms {
        None => true,
        Some(fetched) => now_ms >= fetched.saturating_add(cache_duration_s * 1000 * 4 / 5),
    }
}

/// How long the fetching worker holds the lease: both requests of a
/// discovery fetch, plus a margin.
pub fn fetch_lease_ms(timeout_ms: u64) -> u64 {
    2 * timeout_ms + 1000
}

/// How long to wait after a failed fetch: soon while no key was ever
/// loaded (requests are waiting), slower once a good set is in use.
pub fn retry_after_ms(have_keys: bool) -> u64 {
    if have_keys {
        15_000
    } else {
        1_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_record_round_trips_and_refuses_garbage() {
        let record = KeyRecord {
            fetched_at_ms: 1_700_000_000_123,
            jwks: b"{\"keys\":[]}\n".to_vec(),
        };
        assert_eq!(KeyRecord::decode(&record.encode()), Some(record));
        assert_eq!(KeyRecord::decode(b"{\"keys\":[]}"), None);
        assert_eq!(KeyRecord::decode(b"tenantgate-keys-v1 x\n{}"), None);
    }

    #[test]
    fn lease_expires_at_its_time_and_garbage_counts_as_expired() {
        assert!(lease_expired(None, 5));
        assert!(!lease_expired(Some(&encode_lease(10)), 9));
        assert!(lease_expired(Some(&encode_lease(10)), 10));
        assert!(lease_expired(Some(b"garbage"), 0));
    }

    #[test]
    fn refresh_is_due_without_keys_and_after_four_fifths_of_the_lifetime() {
        assert!(refresh_due(None, 600, 0));
        assert!(!refresh_due(Some(1_000), 600, 1_000 + 479_999));
        assert!(refresh_due(Some(1_000), 600, 1_000 + 480_000));
    }
}
