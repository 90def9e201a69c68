//! The table of accepted and refused tokens (tests/data/token-table), minted
//! by PyJWT, run through the filter's decision at the time it was minted.
//! The same cases run in a real Envoy in tests/e2e/test_token_table.py.

use serde::Deserialize;
use serde_json::Value;

use tenantgate::config::Config;
use tenantgate::pipeline::TokenCache;
use tenantgate::pipeline::{decide, Decision, RequestHead, StaticKeys};

#[derive(Deserialize)]
struct Table {
    now: u64,
    config: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    request: Request,
    expect: Expect,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct Expect {
    status: u32,
    #[serde(default)]
    description: Option<String>,
}

fn table() -> Table {
    let text = include_str!("data/token-table/table.json");
    serde_json::from_str(text).expect("table.json is valid")
}

/// The status and description a client would see.
fn answer(config: &Config, case: &Case, now: u64, cache: &mut TokenCache) -> (u32, Option<String>) {
    let head = RequestHead {
        method: &case.request.method,
        target: &case.request.path,
        headers: case
            .request
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect(),
        undecodable: Vec::new(),
    };
    let keys: Vec<_> = config
        .providers
        .iter()
        .map(|provider| provider.key_source.local_keys())
        .collect();
    match decide(config, &head, &mut StaticKeys(keys), cache, now) {
        Decision::Forward(_) => (200, None),
        Decision::Refuse(refusal) => (refusal.status(), Some(refusal.description().to_string())),
        Decision::AwaitKeys { .. } => panic!("{}: configured keys never wait", case.name),
    }
}

fn run(cache_size: usize) {
    let table = table();
    let config = Config::from_json(table.config.to_string().as_bytes()).expect("table config");
    let mut cache = TokenCache::new(cache_size);
    let mut failures = Vec::new();
    // Twice: the second pass answers from the token cache where it can.
    for pass in 0..2 {
        for case in &table.cases {
            let (status, description) = answer(&config, case, table.now, &mut cache);
            let expected = (case.expect.status, case.expect.description.clone());
            if (status, description.clone()) != expected {
                failures.push(format!(
                    "pass {pass}, {}: got {status} {description:?}, expected {expected:?}",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_case_gets_its_answer() {
    run(0);
}

#[test]
fn every_case_gets_its_answer_with_the_token_cache() {
    run(1024);
}

#[test]
fn table_covers_every_algorithm_and_key_form() {
    let table = table();
    let names: Vec<&str> = table.cases.iter().map(|case| case.name.as_str()).collect();
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
        "HS384", "HS512",
    ] {
        assert!(
            names.iter().any(|name| name.contains(alg)),
            "no case for {alg}"
        );
    }
    for form in [
        "PKIX",
        "PKCS#1",
        "PKCS#8",
        "SEC1",
        "oct key",
        "text secret",
        "base64 secret",
    ] {
        assert!(
            names.iter().any(|name| name.contains(form)),
            "no case for {form}"
        );
    }
}
