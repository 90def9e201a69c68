//! The worker's key sets as the core sees them, and the unknown-kid refetch
//! claim shared by all workers.

use proxy_wasm::hostcalls;

use super::key_fetch::Installed;
use crate::config::Config;
use crate::keys::schedule::{kid_claim_name, unknown_kid, UnknownKid};
use crate::keys::KeySet;
use crate::pipeline::KeyStore;
use crate::verify::signature::SignatureBackend;

pub struct HostKeyStore<'a> {
    pub keys: &'a [Option<Installed>],
    pub config: &'a Config,
    /// Providers whose refetch this worker claimed; the root starts them.
    pub refetch_requests: &'a mut Vec<usize>,
    pub now_ms: u64,
    pub signatures: &'a dyn SignatureBackend,
}

impl KeyStore for HostKeyStore<'_> {
    fn signatures(&self) -> &dyn SignatureBackend {
        self.signatures
    }

    fn key_set(&self, provider: usize) -> Option<&KeySet> {
        self.keys
            .get(provider)?
            .as_ref()
            .map(|installed| &*installed.keys)
    }

    fn key_generation(&self, provider: usize) -> Option<u64> {
        self.keys
            .get(provider)?
            .as_ref()
            .map(|installed| installed.generation)
    }

    fn wait_for_unknown_kid(&mut self, provider: usize) -> bool {
        let (Some(Some(installed)), Some(settings)) =
            (self.keys.get(provider), self.config.providers.get(provider))
        else {
            return false;
        };
        if settings.key_source.local_keys().is_some() {
            return false;
        }
        let claim_name = kid_claim_name(&settings.name);
        let (claim, cas) = hostcalls::get_shared_data(&claim_name).unwrap_or((None, None));
        let claimed_at = claim
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<u64>().ok());
        match unknown_kid(
            claimed_at,
            installed.fetched_at_ms,
            settings.kid_refetch_interval_s,
            self.now_ms,
        ) {
            UnknownKid::Refuse => false,
            UnknownKid::Wait => true,
            UnknownKid::Refetch => {
                let claim = self.now_ms.to_string();
                // Losing the race means another worker just claimed it: wait
                // for that fetch instead.
                if hostcalls::set_shared_data(&claim_name, Some(claim.as_bytes()), cas).is_ok() {
                    self.refetch_requests.push(provider);
                }
                true
            }
        }
    }
}
