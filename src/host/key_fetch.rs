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
    fetch_lease_ms, is_json_content_type, key_record_name, lease_name, lifetime_ms, KeyRecord,
    Lease,
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
    /// The installed record, without its JWKS.
    installed: Option<KeyRecord>,
    /// When a token with an unknown kid asked for a fetch, until one starts.
    refetch_requested_at: Option<u64>,
}

/// A key set taken from the shared record.
pub struct Installed {
    pub keys: Rc<KeySet>,
    pub fetched_at_ms: u64,
    /// The shared-data version the set came from; changes with every set.
    pub generation: u64,
}

impl KeyFetcher {
    pub fn new(provider: Provider) -> KeyFetcher {
        KeyFetcher {
            record_name: key_record_name(&provider.name),
            lease_name: lease_name(&provider.name),
            provider,
            in_flight: None,
            installed_cas: None,
            installed: None,
            refetch_requested_at: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.provider.name
    }

    pub fn owns(&self, token_id: u32) -> bool {
        self.in_flight.is_some_and(|(token, _)| token == token_id)
    }

    /// A new key set when the shared record changed since the last call.
    pub fn sync(&mut self) -> Option<Installed> {
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
                let fetched_at_ms = record.fetched_at_ms;
                self.installed = Some(KeyRecord {
                    jwks: Vec::new(),
                    ..record
                });
                Some(Installed {
                    keys: Rc::new(parsed.set),
                    fetched_at_ms,
                    generation: u64::from(cas),
                })
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

    /// Whether the installed keys are past their lifetime and stale period.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        self.installed
            .as_ref()
            .is_some_and(|record| record.is_stale(self.provider.max_stale_s, now_ms))
    }

    /// A token with an unknown kid won the refetch claim on this worker.
    pub fn request_refetch(&mut self, now_ms: u64) {
        self.refetch_requested_at = Some(now_ms);
    }

    /// Starts a fetch when one is due and this worker wins the lease.
    pub fn maybe_start(&mut self, now_ms: u64) {
        if self.in_flight.is_some() {
            return;
        }
        let interval_ms = self.provider.kid_refetch_interval_s * 1000;
        let answered = |requested: u64| {
            (self.installed.as_ref())
                .is_some_and(|record| record.answers_refetch_requested_at(requested))
        };
        if self.refetch_requested_at.is_some_and(|requested| {
            now_ms.saturating_sub(requested) >= interval_ms || answered(requested)
        }) {
            self.refetch_requested_at = None;
        }
        let due = self.refetch_requested_at.is_some()
            || self
                .installed
                .as_ref()
                .is_none_or(|record| record.refresh_due(now_ms));
        if !due {
            return;
        }
        let lease_until = now_ms + fetch_lease_ms(self.provider.key_source.timeout_ms());
        if !self.take_lease(now_ms, lease_until) {
            return;
        }
        self.refetch_requested_at = None;
        let (target, step) = match &self.provider.key_source {
            KeySource::Discovery { document, .. } => (document.clone(), FetchStep::Discovery),
            KeySource::RemoteJwks { jwks, .. } => (jwks.clone(), FetchStep::Jwks),
            // Configured keys have no fetcher.
            KeySource::Local(_) => return,
        };
        self.dispatch(&target, step, now_ms);
    }

    /// Handles the answer to one of this fetcher's calls; returns the new
    /// key set once the JWKS was fetched and shared.
    pub fn on_response(&mut self, body_size: usize, now_ms: u64) -> Option<Installed> {
        let (_, step) = self.in_flight.take()?;
        match self.read_response(step, body_size) {
            Ok(body) => match step {
                FetchStep::Discovery => {
                    self.follow_discovery(&body, now_ms);
                    None
                }
                FetchStep::Jwks => {
                    let cache_control = response_header("cache-control");
                    let lifetime =
                        lifetime_ms(self.provider.cache_duration_s, cache_control.as_deref());
                    self.store(body, lifetime, now_ms)
                }
            },
            Err(reason) => {
                self.fail(&reason, now_ms);
                None
            }
        }
    }

    fn read_response(&self, step: FetchStep, body_size: usize) -> Result<Vec<u8>, String> {
        let status = response_header(":status")
            .ok_or_else(|| "no response (connection failure or timeout)".to_string())?;
        if status != "200" {
            return Err(format!("HTTP status {status}"));
        }
        let content_type = response_header("content-type");
        if !is_json_content_type(content_type.as_deref()) {
            return Err(format!(
                "content type {:?} is not JSON",
                content_type.unwrap_or_default()
            ));
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
        let KeySource::Discovery {
            jwks_cluster,
            jwks_authority,
            ..
        } = &self.provider.key_source
        else {
            return;
        };
        let jwks_authority = jwks_authority.clone();
        match jwks_target(body, &self.provider.issuer, jwks_cluster) {
            Ok(target) => self.dispatch(
                &target.with_authority(jwks_authority),
                FetchStep::Jwks,
                now_ms,
            ),
            Err(error) => self.fail(&error.to_string(), now_ms),
        }
    }

    fn store(&mut self, jwks: Vec<u8>, lifetime_ms: u64, now_ms: u64) -> Option<Installed> {
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
            lifetime_ms,
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
        let (current, _) = hostcalls::get_shared_data(&self.lease_name).unwrap_or((None, None));
        let lease =
            Lease::decode(current.as_deref()).after_failure(self.installed.is_some(), now_ms);
        log::warn(&format!(
            "provider {}: fetching keys failed: {reason}; retry {} in {} ms",
            self.provider.name,
            lease.failures,
            lease.until_ms.saturating_sub(now_ms)
        ));
        self.set_lease(lease);
    }

    fn take_lease(&self, now_ms: u64, until_ms: u64) -> bool {
        let (current, cas) = hostcalls::get_shared_data(&self.lease_name).unwrap_or((None, None));
        let lease = Lease::decode(current.as_deref());
        if !lease.is_free(now_ms) {
            return false;
        }
        let taken = Lease { until_ms, ..lease };
        hostcalls::set_shared_data(&self.lease_name, Some(&taken.encode()), cas).is_ok()
    }

    fn release_lease(&self, now_ms: u64) {
        self.set_lease(Lease {
            until_ms: now_ms,
            failures: 0,
        });
    }

    fn set_lease(&self, lease: Lease) {
        let _ = hostcalls::set_shared_data(&self.lease_name, Some(&lease.encode()), None);
    }
}

fn response_header(name: &str) -> Option<String> {
    let value = hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, name).ok()??;
    String::from_utf8(value).ok()
}

fn dispatch_error(cluster: &str, status: Status) -> String {
    match status {
        Status::BadArgument => {
            format!("cannot call cluster {cluster:?} (is it defined in the Envoy configuration?)")
        }
        other => format!("cannot call cluster {cluster:?}: {other:?}"),
    }
}
