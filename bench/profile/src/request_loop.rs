//! The loop both entry points run: what the host layer does for one
//! request, then the pipeline's decision, many times over.

use std::hint::black_box;
use std::time::Instant;

use tenantgate::config::Config;
use tenantgate::header_pairs::write_block;
use tenantgate::keys::parse_jwks;
use tenantgate::pipeline::TokenCache;
use tenantgate::pipeline::{decide_on_header_block, Decision, StaticKeys};

const TARGET: &str = "/api/v1/query?query=up";

pub fn run(config: &str, jwks: &str, tokens: &str, iterations: usize) -> Result<u128, String> {
    let read = |path: &str| std::fs::read(path).map_err(|error| format!("{path}: {error}"));
    let config = Config::from_json(&read(config)?).map_err(|error| error.to_string())?;
    // Keys configured in the provider (`local_jwks`, `pem_keys`,
    // `hmac_secrets`) win; otherwise the JWKS file is the fetched key set.
    let fetched = parse_jwks(&read(jwks)?)
        .map_err(|error| format!("{error:?}"))?
        .set;
    let keys = config
        .providers
        .first()
        .and_then(|provider| provider.key_source.local_keys())
        .unwrap_or(&fetched);
    let tokens =
        String::from_utf8(read(tokens)?).map_err(|_| "tokens are not UTF-8".to_string())?;
    let tokens: Vec<&str> = tokens.lines().filter(|line| !line.is_empty()).collect();
    if tokens.is_empty() {
        return Err("no tokens".into());
    }
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| "clock before 1970")?
        .as_secs();
    // The host serialises the header map; that is not the filter's work.
    let blocks: Vec<Vec<u8>> = tokens.iter().map(|token| header_block(token)).collect();
    let mut cache = TokenCache::new(config.token_cache_size);
    let mut key_store = StaticKeys(vec![Some(keys)]);
    let started = Instant::now();
    let mut forwarded = 0usize;
    for index in 0..iterations {
        let block = &blocks[index % blocks.len()];
        forwarded += usize::from(handle(block, &config, &mut key_store, &mut cache, now_s));
    }
    let ns_per_request = started.elapsed().as_nanos() / iterations.max(1) as u128;
    if forwarded != iterations {
        return Err(format!(
            "only {forwarded} of {iterations} requests were forwarded"
        ));
    }
    Ok(ns_per_request)
}

/// What the filter does with one request's header map: the decision on
/// the map read in place, and the decision dropped. Never inlined, so that
/// a profile tells the filter's work from the loop's.
#[inline(never)]
fn handle(
    block: &[u8],
    config: &Config,
    keys: &mut StaticKeys<'_>,
    cache: &mut TokenCache,
    now_s: u64,
) -> bool {
    let decision = decide_on_header_block(config, block, keys, cache, now_s);
    matches!(black_box(decision), Decision::Forward(_))
}

/// The header map Envoy hands a filter for a wrk request, serialised as
/// the host writes it (see `tenantgate::header_pairs`).
fn header_block(token: &str) -> Vec<u8> {
    let authorization = format!("Bearer {token}");
    write_block(&[
        (b":authority", b"127.0.0.1:10000"),
        (b":path", TARGET.as_bytes()),
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b"authorization", authorization.as_bytes()),
        (b"x-forwarded-proto", b"http"),
        (b"x-request-id", b"5b1e4c0e-52c7-4c7a-9a52-4f3e5d0c8a11"),
    ])
}
