//! The root context: configuration, the tick, key fetching, and the requests
//! waiting for keys.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};

use super::clock::now_ms;
use super::host_signature;
use super::key_fetch::{Installed, KeyFetcher};
use super::log;
use super::signatures::EnvoySignatures;
use super::stream::{decide_and_act, refuse, Step, Stream, StreamRef};
use crate::config::{Config, SignatureBackendChoice};
use crate::pipeline::TokenCache;
use crate::reply::Refusal;
use crate::verify::signature::{Portable, SignatureBackend};

/// Often enough that requests waiting on another worker's fetch resume
/// quickly; the work per tick is a shared-data read per provider.
const TICK: Duration = Duration::from_millis(200);

/// A request held back until its provider's next key set.
pub struct Waiter {
    pub context_id: u32,
    pub provider: usize,
    pub since_ms: u64,
    pub on_timeout: Refusal,
    pub stream: StreamRef,
}

/// What the root context shares with the requests of its worker.
pub struct Shared {
    pub config: Option<Rc<Config>>,
    pub keys: Vec<Option<Installed>>,
    pub waiting: Vec<Waiter>,
    /// Providers for which a request won an unknown-kid refetch claim.
    pub refetch_requests: Vec<usize>,
    pub token_cache: TokenCache,
    pub signatures: Rc<dyn SignatureBackend>,
}

impl Shared {
    /// Whether the request was waiting for keys.
    pub fn forget_waiter(&mut self, context_id: u32) -> bool {
        let before = self.waiting.len();
        self.waiting
            .retain(|waiter| waiter.context_id != context_id);
        self.waiting.len() != before
    }

    fn take_waiters(&mut self, keep: impl Fn(&Waiter) -> bool) -> Vec<Waiter> {
        let (taken, kept) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| !keep(w));
        self.waiting = kept;
        taken
    }
}

pub struct Root {
    context_id: u32,
    shared: Rc<RefCell<Shared>>,
    /// One per provider; `None` for providers with configured keys.
    fetchers: Vec<Option<KeyFetcher>>,
}

impl Root {
    pub fn new(context_id: u32) -> Root {
        Root {
            context_id,
            shared: Rc::new(RefCell::new(Shared {
                config: None,
                keys: Vec::new(),
                waiting: Vec::new(),
                refetch_requests: Vec::new(),
                token_cache: TokenCache::new(0),
                signatures: Rc::new(Portable),
            })),
            fetchers: Vec::new(),
        }
    }

    fn install(&mut self, provider: usize, keys: Installed) {
        {
            let mut shared = self.shared.borrow_mut();
            if let Some(slot) = shared.keys.get_mut(provider) {
                *slot = Some(keys);
            }
        }
        let waiters = self
            .shared
            .borrow_mut()
            .take_waiters(|w| w.provider != provider);
        for waiter in waiters {
            if hostcalls::set_effective_context(waiter.context_id).is_err() {
                continue;
            }
            let step = decide_and_act(
                &mut self.shared.borrow_mut(),
                waiter.context_id,
                &waiter.stream,
            );
            if step == Step::Continue {
                let _ = hostcalls::resume_http_request();
            }
        }
        let _ = hostcalls::set_effective_context(self.context_id);
    }

    /// Keys past their lifetime and stale period are no longer used:
    /// requests wait for a fresh set, then get 503.
    fn drop_stale_keys(&mut self, provider: usize, now_ms: u64) {
        let Some(Some(fetcher)) = self.fetchers.get(provider) else {
            return;
        };
        if !fetcher.is_stale(now_ms) {
            return;
        }
        let mut shared = self.shared.borrow_mut();
        if let Some(slot @ Some(_)) = shared.keys.get_mut(provider) {
            *slot = None;
            log::error(&format!(
                "provider {}: keys are stale and no refresh succeeded; tokens are refused until keys load",
                fetcher.name()
            ));
        }
    }

    /// Answers requests that waited longer than configured.
    fn expire_waiters(&mut self, now_ms: u64) {
        let Some(config) = self.shared.borrow().config.clone() else {
            return;
        };
        let deadline = config.key_wait_timeout_ms;
        let expired = self
            .shared
            .borrow_mut()
            .take_waiters(|w| now_ms.saturating_sub(w.since_ms) < deadline);
        for waiter in expired {
            if hostcalls::set_effective_context(waiter.context_id).is_ok() {
                refuse(
                    &mut waiter.stream.borrow_mut(),
                    &config.realm,
                    waiter.on_timeout,
                );
            }
        }
        let _ = hostcalls::set_effective_context(self.context_id);
    }
}

/// Envoy's verifier only after it passed its known-answer check here.
fn choose_signature_backend(choice: SignatureBackendChoice) -> Rc<dyn SignatureBackend> {
    match choice {
        SignatureBackendChoice::Auto if host_signature::probe() => {
            log::info("signatures: Envoy's verify_signature for RS256/384/512 and ES256/384, portable verifiers for the rest");
            Rc::new(EnvoySignatures)
        }
        SignatureBackendChoice::Auto => {
            log::info("signatures: portable verifiers (the host has no working verify_signature)");
            Rc::new(Portable)
        }
        SignatureBackendChoice::Portable => {
            log::info("signatures: portable verifiers (signature_backend: portable)");
            Rc::new(Portable)
        }
    }
}

/// Configured keys are in place from the start and never change.
fn configured_keys(provider: &crate::config::Provider) -> Option<Installed> {
    provider.key_source.local_keys().map(|keys| Installed {
        keys: Rc::new(keys.clone()),
        fetched_at_ms: 0,
        generation: 0,
    })
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let now = now_ms();
        let Some(provider) = self
            .fetchers
            .iter()
            .position(|f| f.as_ref().is_some_and(|f| f.owns(token_id)))
        else {
            return;
        };
        let installed = self.fetchers[provider]
            .as_mut()
            .and_then(|fetcher| fetcher.on_response(body_size, now));
        if let Some(keys) = installed {
            self.install(provider, keys);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        let config = match Config::from_json(&bytes) {
            Ok(config) => config,
            Err(error) => {
                log::critical(&error.to_string());
                return false;
            }
        };
        self.fetchers = config
            .providers
            .iter()
            .map(|provider| match provider.key_source.local_keys() {
                Some(_) => None,
                None => Some(KeyFetcher::new(provider.clone())),
            })
            .collect();
        {
            let mut shared = self.shared.borrow_mut();
            shared.keys = config.providers.iter().map(configured_keys).collect();
            shared.token_cache = TokenCache::new(config.token_cache_size);
            shared.signatures = choose_signature_backend(config.signature_backend);
            shared.config = Some(Rc::new(config));
        }
        let _ = hostcalls::set_tick_period(TICK);
        true
    }

    fn on_tick(&mut self) {
        let now = now_ms();
        let requests = std::mem::take(&mut self.shared.borrow_mut().refetch_requests);
        for provider in requests {
            if let Some(Some(fetcher)) = self.fetchers.get_mut(provider) {
                fetcher.request_refetch(now);
            }
        }
        for provider in 0..self.fetchers.len() {
            let synced = self.fetchers[provider].as_mut().and_then(KeyFetcher::sync);
            if let Some(keys) = synced {
                self.install(provider, keys);
            }
            self.drop_stale_keys(provider, now);
            if let Some(fetcher) = self.fetchers[provider].as_mut() {
                fetcher.maybe_start(now);
            }
        }
        self.expire_waiters(now);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream::new(context_id, self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
