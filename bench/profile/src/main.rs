//! Runs tenantgate's per-request work natively, many times over, so a
//! profiler can say where the time goes:
//!
//! ```sh
//! tenantgate-bench-profile CONFIG.json JWKS.json TOKENS.txt ITERATIONS
//! valgrind --tool=callgrind tenantgate-bench-profile ... && callgrind_annotate --inclusive=yes
//! ```
//!
//! Each iteration does what the host layer does for one request: reads the
//! header map in place (serialised the way the host hands it over), builds
//! the request head, and asks the pipeline for a decision with the keys
//! loaded (the provider's configured keys when the configuration has them,
//! otherwise JWKS.json as the fetched key set). TOKENS.txt holds one token
//! per line, used in turn: one token is the warm path (token cache hit),
//! more tokens than `token_cache_size` the cold path. Prints nanoseconds
//! per request.
//!
//! The same loop builds for wasm32-wasip1 as a library exporting
//! `profile_run(iterations)` (src/lib.rs), which `run-in-v8.mjs` runs in
//! Node's V8 for a function-level profile of the wasm code:
//! `node --cpu-prof run-in-v8.mjs PROFILE.wasm DIR ITERATIONS`, DIR holding
//! config.json, jwks.json and tokens.txt.

use std::process::ExitCode;

mod request_loop;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, jwks, tokens, iterations] = args.as_slice() else {
        eprintln!("usage: tenantgate-bench-profile CONFIG.json JWKS.json TOKENS.txt ITERATIONS");
        return ExitCode::from(2);
    };
    let Ok(iterations) = iterations.parse() else {
        eprintln!("tenantgate-bench-profile: ITERATIONS is not a number");
        return ExitCode::from(2);
    };
    match request_loop::run(config, jwks, tokens, iterations) {
        Ok(ns) => {
            println!("{ns} ns per request");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("tenantgate-bench-profile: {message}");
            ExitCode::FAILURE
        }
    }
}
