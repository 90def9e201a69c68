//! The proxy-wasm host layer: moves data between Envoy and the pure core.
//! No policy lives here.
//!
//! * [`root`]: one per worker thread (and the main thread); reads the
//!   configuration, runs the tick, owns key fetching and waiting requests.
//! * [`key_fetch`]: fetches a provider's keys with dispatched HTTP calls and
//!   shares them with every worker through shared data.
//! * [`stream`]: one request; asks the core what to do and does it.
//! * [`host_signature`], [`signatures`]: Envoy's `verify_signature` as a
//!   signature backend, after a known-answer check at start.
//! * [`phase_timing`]: with the `phase-timing` feature, where a request's
//!   time goes, for `make bench`.

mod clock;
mod header_map;
pub mod host_signature;
mod key_fetch;
mod key_store;
mod log;
mod phase_timing;
mod root;
mod signatures;
mod stream;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|context_id| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::Root::new(context_id))
    });
}}
