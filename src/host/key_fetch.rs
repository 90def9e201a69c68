//! Fetching one provider's keys with dispatched HTTP calls, and sharing them.
//!
//! Every worker runs a fetcher per provider, but only the one holding the
//! lease fetches; the JWKS it gets is validated, then stored in shared data,
//! where every worker (itself included) picks it up and parses it when the
//! shared version changes.

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};

use super::log;
use crate::config::{KeySource, Provider};
use crate::keys::discovery::{jwks_target, MAX_DOCUMENT_BYTES};
use crate::keys::http_target::HttpTarget;
use crate::keys::jwks::MAX_JWKS_BYTES;
use crate::keys::schedule::{
    encode_lease, fetch_lease_ms, key_record_name, lease_expired, lease_name, refresh_due,
    retry_after_ms, KeyRecord,
};
use crate::keys::{parse_jwks, KeySet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchStep {
    Discovery,
    Jwks,
}

pub struct KeyFetcher {
    provider: Provider,
    record_name: String,
    lease_name: String,
    in_flight: Option<(u32, FetchStep)>,
    /// Shared-data version of the record last installed here.
    installed_cas: Option<u32>,
    fetched_at_ms: Option<u64>,
}

impl KeyFetcher {
    pub fn new(provider: Provider) -> KeyFetcher {
        KeyFetcher {
            record_name: key_record_name(&provider.name),
            lease_name: lease_name(&provider.name),
            provider,
            in_flight: None,
            installed_cas: None,
            fetched_at_ms: None,
        }
    }

    pub fn owns(&self, token_id: u32) -> bool {
        self.in_flight.is_some_and(|(token, _)| token == token_id)
    }

    /// A new key set when the shared record changed since the last call.
    pub fn sync(&mut self) -> Option<Rc<KeySet>> {
        let (Some(bytes), Some(cas)) = hostcalls::get_shared_data(&self.record_name).ok()? else {
            return None;
        };
        if self.installed_cas == Some(cas) {
            return None;
        }
        self.installed_cas = Some(cas);
        let record = KeyRecord::decode(&bytes)?;
        // The record was validated before it was stored; a failure here
        // means another version of the filter wrote it.
        match parse_jwks(&record.jwks) {
            Ok(parsed) => {
                self.fetched_at_ms = Some(record.fetched_at_ms);
                Some(Rc::new(parsed.set))
            }
            Err(error) => {
                log::error(&format!(
                    "provider {}: shared key set unusable: {error}",
                    self.provider.name
                ));
                None
            }
        }
    }

    /// Starts a fetch when one is due and this worker wins the lease.
    pub fn maybe_start(&mut self, now_ms: u64) {
        if self.in_flight.is_some()
            || !refresh_due(self.fetched_at_ms, self.provider.cache_duration_s, now_ms)
        {
            return;
        }
        let lease_until = now_ms + fetch_lease_ms(self.provider.key_source.timeout_ms());
        if !self.take_lease(now_ms, lease_until) {
            return;
        }
        let (target, step) = match &self.provider.key_source {
            KeySource::Discovery { document, .. } => (document.clone(), FetchStep::Discovery),
            KeySource::RemoteJwks { jwks, .. } => (jwks.clone(), FetchStep::Jwks),
        };
        self.dispatch(&target, step, now_ms);
    }

    /// Handles the answer to one of this fetcher's calls; returns the new
    /// key set once the JWKS was fetched and shared.
    pub fn on_response(&mut self, body_size: usize, now_ms: u64) -> Option<Rc<KeySet>> {
        let (_, step) = self.in_flight.take()?;
        match self.read_response(step, body_size) {
            Ok(body) => match step {
                FetchStep::Discovery => {
                    self.follow_discovery(&body, now_ms);
                    None
                }
                FetchStep::Jwks => self.store(body, now_ms),
            },
            Err(reason) => {
                self.fail(&reason, now_ms);
                None
            }
        }
    }

    fn read_response(&self, step: FetchStep, body_size: usize) -> Result<Vec<u8>, String> {
        let status = hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .ok_or_else(|| "no response (connection failure or timeout)".to_string())?;
        if status != "200" {
            return Err(format!("HTTP status {status}"));
        }
        let limit = match step {
            FetchStep::Discovery => MAX_DOCUMENT_BYTES,
            FetchStep::Jwks => MAX_JWKS_BYTES,
        };
        if body_size > limit {
            return Err(format!("body of {body_size} bytes exceeds {limit} bytes"));
        }
        Ok(
            hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default(),
        )
    }

    fn follow_discovery(&mut self, body: &[u8], now_ms: u64) {
        let KeySource::Discovery { jwks_cluster, .. } = &self.provider.key_source else {
            return;
        };
        match jwks_target(body, &self.provider.issuer, jwks_cluster) {
            Ok(target) => self.dispatch(&target, FetchStep::Jwks, now_ms),
            Err(error) => self.fail(&error.to_string(), now_ms),
        }
    }

    fn store(&mut self, jwks: Vec<u8>, now_ms: u64) -> Option<Rc<KeySet>> {
        match parse_jwks(&jwks) {
            Ok(parsed) => {
                for skipped in &parsed.skipped {
                    log::warn(&format!(
                        "provider {}: JWKS key #{} (kid {:?}) skipped: {}",
                        self.provider.name, skipped.index, skipped.kid, skipped.reason
                    ));
                }
                log::info(&format!(
                    "provider {}: loaded {} key(s)",
                    self.provider.name,
                    parsed.set.len()
                ));
            }
            Err(error) => {
                self.fail(&error.to_string(), now_ms);
                return None;
            }
        }
        let record = KeyRecord {
            fetched_at_ms: now_ms,
            jwks,
        };
        if let Err(status) =
            hostcalls::set_shared_data(&self.record_name, Some(&record.encode()), None)
        {
            self.fail(&format!("cannot share keys: {status:?}"), now_ms);
            return None;
        }
        self.release_lease(now_ms);
        self.sync()
    }

    fn dispatch(&mut self, target: &HttpTarget, step: FetchStep, now_ms: u64) {
        let headers = vec![
            (":method", "GET"),
            (":path", target.path.as_str()),
            (":authority", target.authority.as_str()),
            ("accept", "application/json"),
        ];
        let timeout = Duration::from_millis(self.provider.key_source.timeout_ms());
        match hostcalls::dispatch_http_call(&target.cluster, headers, None, vec![], timeout) {
            Ok(token) => self.in_flight = Some((token, step)),
            Err(status) => self.fail(&dispatch_error(&target.cluster, status), now_ms),
        }
    }

    /// Logs the failure and holds the lease until the retry time, so no
    /// worker retries sooner. The last good key set stays in use.
    fn fail(&mut self, reason: &str, now_ms: u64) {
        let retry_ms = retry_after_ms(self.fetched_at_ms.is_some());
        log::warn(&format!(
            "provider {}: fetching keys failed: {reason}; retrying in {} ms",
            self.provider.name, retry_ms
        ));
        self.set_lease(now_ms + retry_ms);
    }

    fn take_lease(&self, now_ms: u64, until_ms: u64) -> bool {
        let (current, cas) = hostcalls::get_shared_data(&self.lease_name).unwrap_or((None, None));
        if !lease_expired(current.as_deref(), now_ms) {
            return false;
        }
        hostcalls::set_shared_data(&self.lease_name, Some(&encode_lease(until_ms)), cas).is_ok()
    }

    fn release_lease(&self, now_ms: u64) {
        self.set_lease(now_ms);
    }

    fn set_lease(&self, until_ms: u64) {
        let _ = hostcalls::set_shared_data(&self.lease_name, Some(&encode_lease(until_ms)), None);
    }
}

fn dispatch_error(cluster: &str, status: Status) -> String {
    match status {
        Status::BadArgument => {
            format!("cannot call cluster {cluster:?} (is it defined in the Envoy configuration?)")
        }
        other => format!("cannot call cluster {cluster:?}: {other:?}"),
    }
}
