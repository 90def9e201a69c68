//! The loop both entry points run: what the host layer does for one
//! request, then the pipeline's decision, many times over.

use std::hint::black_box;
use std::time::Instant;

use tenantgate::config::Config;
use tenantgate::keys::parse_jwks;
use tenantgate::pipeline::TokenCache;
use tenantgate::pipeline::{decide, Decision, RequestHead, StaticKeys};

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
    let mut cache = TokenCache::new(config.token_cache_size);
    let mut key_store = StaticKeys(vec![Some(keys)]);
    let started = Instant::now();
    let mut forwarded = 0usize;
    for index in 0..iterations {
        let header_map = header_map(tokens[index % tokens.len()]);
        let (method, target, headers) = read_headers(header_map);
        let head = RequestHead {
            method: &method,
            target: &target,
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            undecodable: Vec::new(),
        };
        let decision = decide(&config, &head, &mut key_store, &mut cache, now_s);
        forwarded += usize::from(matches!(black_box(decision), Decision::Forward(_)));
    }
    let ns_per_request = started.elapsed().as_nanos() / iterations.max(1) as u128;
    if forwarded != iterations {
        return Err(format!(
            "only {forwarded} of {iterations} requests were forwarded"
        ));
    }
    Ok(ns_per_request)
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
        (
            "x-request-id",
            "5b1e4c0e-52c7-4c7a-9a52-4f3e5d0c8a11".to_string(),
        ),
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
