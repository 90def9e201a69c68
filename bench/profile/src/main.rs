//! Runs tenantgate's per-request work natively, many times over, so a
//! profiler can say where the time goes:
//!
//! ```sh
//! tenantgate-bench-profile CONFIG.json JWKS.json TOKENS.txt ITERATIONS
//! valgrind --tool=callgrind tenantgate-bench-profile ... && callgrind_annotate --inclusive=yes
//! ```
//!
//! Each iteration does what the host layer does for one request: turns the
//! header map (as bytes, the way the host hands it over) into strings,
//! builds the request head, and asks the pipeline for a decision with the
//! keys loaded. TOKENS.txt holds one token per line, used in turn: one
//! token is the warm path (token cache hit), more tokens than
//! `token_cache_size` the cold path. Prints nanoseconds per request.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use tenantgate::config::Config;
use tenantgate::keys::parse_jwks;
use tenantgate::pipeline::{decide, Decision, RequestHead, StaticKeys};
use tenantgate::verify::cache::TokenCache;

const TARGET: &str = "/api/v1/query?query=up";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, jwks, tokens, iterations] = args.as_slice() else {
        eprintln!("usage: tenantgate-bench-profile CONFIG.json JWKS.json TOKENS.txt ITERATIONS");
        return ExitCode::from(2);
    };
    match run(config, jwks, tokens, iterations) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tenantgate-bench-profile: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: &str, jwks: &str, tokens: &str, iterations: &str) -> Result<(), String> {
    let read = |path: &str| std::fs::read(path).map_err(|error| format!("{path}: {error}"));
    let config = Config::from_json(&read(config)?).map_err(|error| error.to_string())?;
    let keys = parse_jwks(&read(jwks)?).map_err(|error| format!("{error:?}"))?.set;
    let tokens = String::from_utf8(read(tokens)?).map_err(|_| "tokens are not UTF-8".to_string())?;
    let tokens: Vec<&str> = tokens.lines().filter(|line| !line.is_empty()).collect();
    let iterations: usize = iterations.parse().map_err(|_| "ITERATIONS is not a number")?;
    if tokens.is_empty() {
        return Err("no tokens".into());
    }
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| "clock before 1970")?
        .as_secs();
    let mut cache = TokenCache::new(config.token_cache_size);
    let mut key_store = StaticKeys(vec![Some(&keys)]);
    let started = Instant::now();
    let mut forwarded = 0usize;
    for index in 0..iterations {
        let header_map = header_map(tokens[index % tokens.len()]);
        let (method, target, headers) = read_headers(header_map);
        let head = RequestHead {
            method: &method,
            target: &target,
            headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            undecodable: Vec::new(),
        };
        let decision = decide(&config, &head, &mut key_store, &mut cache, now_s);
        forwarded += usize::from(matches!(black_box(decision), Decision::Forward(_)));
    }
    let elapsed = started.elapsed();
    println!(
        "{} ns per request, {forwarded}/{iterations} forwarded",
        elapsed.as_nanos() / iterations.max(1) as u128
    );
    Ok(())
}

/// The header map Envoy hands a filter for a wrk request, as bytes.
fn header_map(token: &str) -> Vec<(String, Vec<u8>)> {
    [
        (":authority", "127.0.0.1:10000".to_string()),
        (":path", TARGET.to_string()),
        (":method", "GET".to_string()),
        (":scheme", "http".to_string()),
        ("authorization", format!("Bearer {token}")),
        ("x-forwarded-proto", "http".to_string()),
        ("x-request-id", "5b1e4c0e-52c7-4c7a-9a52-4f3e5d0c8a11".to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.into_bytes()))
    .collect()
}

/// What the host layer keeps of the header map: method, path, the rest.
fn read_headers(map: Vec<(String, Vec<u8>)>) -> (String, String, Vec<(String, String)>) {
    let mut method = String::new();
    let mut target = String::new();
    let mut headers = Vec::new();
    for (name, value) in map {
        let Ok(value) = String::from_utf8(value) else {
            continue;
        };
        match name.as_str() {
            ":method" => method = value,
            ":path" => target = value,
            pseudo if pseudo.starts_with(':') => {}
            _ => headers.push((name, value)),
        }
    }
    (method, target, headers)
}
