//! The request loop as a wasm library for V8 (see main.rs): reads
//! config.json, jwks.json and tokens.txt from the preopened directory.

mod request_loop;

/// Nanoseconds per request over `iterations` requests; 0 on an error
/// (printed to stderr).
#[no_mangle]
pub extern "C" fn profile_run(iterations: u32) -> u64 {
    match request_loop::run(
        "config.json",
        "jwks.json",
        "tokens.txt",
        iterations as usize,
    ) {
        Ok(ns) => ns as u64,
        Err(message) => {
            eprintln!("profile_run: {message}");
            0
        }
    }
}
