//! The host clock, in the units the core takes. Read with the ABI call
//! itself: the SDK's `get_current_time` makes a `SystemTime` of it on every
//! request, and panics where the host answers with an error.

#[link(wasm_import_module = "env")]
extern "C" {
    // The ABI's status is a 32-bit integer; declared as such so that no
    // value the host returns can be an invalid enum.
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
}

const STATUS_OK: u32 = 0;

/// Nanoseconds since the epoch; `None` when the host gives no time.
fn host_time_ns() -> Option<u64> {
    let mut time_ns: u64 = 0;
    // SAFETY: the host writes one u64 to the address it is given.
    let status = unsafe { proxy_get_current_time_nanoseconds(&mut time_ns) };
    (status == STATUS_OK).then_some(time_ns)
}

/// Milliseconds since the epoch. A clock that cannot be read counts as the
/// end of time, so every token is expired rather than every token valid.
pub fn now_ms() -> u64 {
    host_time_ns().map_or(u64::MAX, |time_ns| time_ns / 1_000_000)
}

/// Nanoseconds since the epoch, for timing the filter's own phases.
#[cfg(feature = "phase-timing")]
pub fn now_ns() -> u64 {
    host_time_ns().unwrap_or(0)
}
