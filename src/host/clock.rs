//! The host clock, in the units the core takes.

use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;

/// Milliseconds since the epoch. A clock that cannot be read counts as the
/// end of time, so every token is expired rather than every token valid.
pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(u64::MAX, |elapsed| elapsed.as_millis() as u64)
}

/// Nanoseconds since the epoch, for timing the filter's own phases.
#[cfg(feature = "phase-timing")]
pub fn now_ns() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}
