//! The whole decision, natively: tokens signed here with RSA, P-256 and
//! P-384 keys go through `pipeline::decide` with a key set parsed from JWKS.

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use signature::{RandomizedSigner, SignatureEncoding, Signer};

use tenantgate::config::Config;
use tenantgate::extract::ExtractError;
use tenantgate::header_pairs::write_block;
use tenantgate::keys::{parse_jwks, KeySet};
use tenantgate::pipeline::TokenCache;
use tenantgate::pipeline::{
    check_body, decide, decide_on_header_block, Decision, Forward, HeaderNotWritten, KeyStore,
    RequestHead, RequestHeaders, StaticKeys,
};
use tenantgate::reply::Refusal;
use tenantgate::rewrite::{BodyCheck, RewriteError};
use tenantgate::tenancy::TenancyError;
use tenantgate::verify::TokenError;

const ISSUER: &str = "https://idp.example";
const NOW: u64 = 1_800_000_000;

struct Keys {
    rsa: rsa::RsaPrivateKey,
    other_rsa: rsa::RsaPrivateKey,
    p256: p256::ecdsa::SigningKey,
    p384: p384::ecdsa::SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        Keys {
            rsa: rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            other_rsa: rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            p256: p256::ecdsa::SigningKey::random(&mut rng),
            p384: p384::ecdsa::SigningKey::random(&mut rng),
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwks() -> KeySet {
    let k = keys();
    let rsa_public = k.rsa.to_public_key();
    let p256_point = k.p256.verifying_key().to_encoded_point(false);
    let p384_point = k.p384.verifying_key().to_encoded_point(false);
    let document = json!({"keys": [
        {"kty": "RSA", "kid": "rsa", "use": "sig",
         "n": b64(&rsa_public.n().to_bytes_be()), "e": b64(&rsa_public.e().to_bytes_be())},
        {"kty": "EC", "crv": "P-256", "kid": "p256", "alg": "ES256",
         "x": b64(p256_point.x().unwrap()), "y": b64(p256_point.y().unwrap())},
        {"kty": "EC", "crv": "P-384", "kid": "p384",
         "x": b64(p384_point.x().unwrap()), "y": b64(p384_point.y().unwrap())},
    ]});
    parse_jwks(document.to_string().as_bytes()).unwrap().set
}

fn config(backend: &str) -> Config {
    config_with(backend, json!({}))
}

/// The test provider with `settings` merged into it.
fn config_with(backend: &str, settings: Value) -> Config {
    let mut provider = json!({"name": "idp", "issuer": ISSUER, "audiences": ["metrics"],
                              "discovery": {"cluster": "idp"}});
    for (name, value) in settings.as_object().unwrap() {
        provider[name] = value.clone();
    }
    let json = json!({"providers": [provider], "tenancy": {"backend": backend}});
    Config::from_json(json.to_string().as_bytes()).unwrap()
}

fn claims(extra: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER, "aud": "metrics", "sub": "alice", "exp": NOW + 600,
        "vm_access": {"extra_labels": {"tenant": "team-a"}},
    });
    for (name, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// Signs with the named algorithm and key; `header` is merged over `alg`.
fn mint(alg: &str, kid: &str, header: Value, claims: Value) -> String {
    let mut full_header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
    for (name, value) in header.as_object().unwrap() {
        full_header[name] = value.clone();
    }
    let input = format!(
        "{}.{}",
        b64(full_header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let k = keys();
    let signature = match alg {
        "RS256" => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.rsa.clone())
            .sign(input.as_bytes())
            .to_vec(),
        "RS512" => rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(k.rsa.clone())
            .sign(input.as_bytes())
            .to_vec(),
        "PS256" => rsa::pss::SigningKey::<sha2::Sha256>::new(k.rsa.clone())
            .sign_with_rng(&mut rand::thread_rng(), input.as_bytes())
            .to_vec(),
        "OTHER-RS256" => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.other_rsa.clone())
            .sign(input.as_bytes())
            .to_vec(),
        "ES256" => {
            let signature: p256::ecdsa::Signature = k.p256.sign(input.as_bytes());
            signature.to_vec()
        }
        "ES384" => {
            let signature: p384::ecdsa::Signature = k.p384.sign(input.as_bytes());
            signature.to_vec()
        }
        _ => b"not a signature".to_vec(),
    };
    format!("{input}.{}", b64(&signature))
}

fn run(config: &Config, method: &str, target: &str, authorization: &[&str]) -> Decision {
    let head = RequestHead {
        method,
        target,
        headers: authorization
            .iter()
            .map(|value| ("authorization", *value))
            .collect(),
        undecodable: Vec::new(),
    };
    decide_uncached(config, &head)
}

/// The decision about `head` with the test keys and no token cache.
fn decide_uncached(config: &Config, head: &RequestHead<'_>) -> Decision {
    let keys = jwks();
    decide(
        config,
        head,
        &mut StaticKeys(vec![Some(&keys)]),
        &mut TokenCache::new(0),
        NOW,
    )
}

/// `GET /api/v1/query` with one `Authorization` header.
fn query_head(authorization: &str) -> RequestHead<'_> {
    RequestHead {
        method: "GET",
        target: "/api/v1/query",
        headers: vec![("authorization", authorization)],
        undecodable: Vec::new(),
    }
}

/// An `Authorization` value with an ES256 token of the test key.
fn es256_bearer(token_claims: Value) -> String {
    format!("Bearer {}", mint("ES256", "p256", json!({}), token_claims))
}

fn query_with(token: &str) -> Decision {
    let bearer = format!("Bearer {token}");
    run(
        &config("vm_single"),
        "GET",
        "/api/v1/query?query=up",
        &[&bearer],
    )
}

fn forwarded_path(decision: Decision) -> String {
    match decision {
        Decision::Forward(forward) => forward.path,
        other => panic!("expected the request to go on, got {other:?}"),
    }
}

fn token_error(decision: Decision) -> TokenError {
    match decision {
        Decision::Refuse(Refusal::InvalidToken(error)) => error,
        other => panic!("expected invalid_token, got {other:?}"),
    }
}

#[test]
fn every_supported_algorithm_is_accepted_with_its_key() {
    for (alg, kid) in [
        ("RS256", "rsa"),
        ("RS512", "rsa"),
        ("PS256", "rsa"),
        ("ES256", "p256"),
        ("ES384", "p384"),
    ] {
        let token = mint(alg, kid, json!({}), claims(json!({})));
        assert_eq!(
            forwarded_path(query_with(&token)),
            "/api/v1/query?query=up&extra_label=tenant%3Dteam-a",
            "{alg}"
        );
    }
}

#[test]
fn forwarded_request_loses_client_tenancy_headers_and_authorization() {
    let token = mint("ES256", "p256", json!({}), claims(json!({})));
    let bearer = format!("Bearer {token}");
    let tenancy_headers = [
        "x-scope-orgid",
        "accountid",
        "projectid",
        "x-prom-label-policy",
        "thanos-tenant",
    ];
    let mut headers: Vec<(&str, &str)> = vec![("authorization", &bearer)];
    headers.extend(tenancy_headers.map(|name| (name, "team-b")));
    let Decision::Forward(forward) =
        decide_head(&config("vm_single"), "/api/v1/query?query=up", headers)
    else {
        panic!("expected forward");
    };
    for header in tenancy_headers.iter().chain(&["authorization"]) {
        assert!(
            forward.remove_headers.iter().any(|name| name == header),
            "{header}"
        );
    }
    assert_eq!(forward.body_check, BodyCheck::None);

    // Headers the request does not carry cost no removal.
    let Decision::Forward(forward) = query_with(&token) else {
        panic!("expected forward");
    };
    assert_eq!(forward.remove_headers, ["authorization"]);
}

/// The header changes a proxy was asked for, in order; it refuses the
/// change to a header named `refused`.
#[derive(Default)]
struct RecordedHeaders {
    changes: Vec<String>,
    refused: Option<&'static str>,
}

impl RecordedHeaders {
    fn record(&mut self, name: &str, change: String) -> Result<(), HeaderNotWritten> {
        if self.refused == Some(name) {
            return Err(HeaderNotWritten);
        }
        self.changes.push(change);
        Ok(())
    }
}

impl RequestHeaders for RecordedHeaders {
    fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderNotWritten> {
        self.record(name, format!("set {name}: {value}"))
    }

    fn remove(&mut self, name: &str) -> Result<(), HeaderNotWritten> {
        self.record(name, format!("remove {name}"))
    }

    fn add(&mut self, name: &str, value: &str) -> Result<(), HeaderNotWritten> {
        self.record(name, format!("add {name}: {value}"))
    }
}

fn forward_with_every_change() -> Forward {
    Forward {
        path: "/api/v1/query?extra_label=tenant%3Da".to_string(),
        remove_headers: vec!["authorization".into(), "x-scope-orgid".into()],
        set_headers: vec![("x-scope-orgid".into(), "a".to_string())],
        add_headers: vec![("x-prom-label-policy", "a:team%3D%22a%22".to_string())],
        body_check: BodyCheck::Form,
    }
}

#[test]
fn a_forward_sets_the_path_then_removes_sets_and_adds_headers() {
    let mut headers = RecordedHeaders::default();
    assert_eq!(
        forward_with_every_change().apply(&mut headers),
        Ok(BodyCheck::Form)
    );
    assert_eq!(
        headers.changes,
        [
            "set :path: /api/v1/query?extra_label=tenant%3Da",
            "remove authorization",
            "remove x-scope-orgid",
            "set x-scope-orgid: a",
            "add x-prom-label-policy: a:team%3D%22a%22",
        ]
    );
}

#[test]
fn a_header_change_the_proxy_refuses_ends_the_forward() {
    let mut headers = RecordedHeaders {
        refused: Some("authorization"),
        ..RecordedHeaders::default()
    };
    assert_eq!(
        forward_with_every_change().apply(&mut headers),
        Err(HeaderNotWritten)
    );
    assert_eq!(
        headers.changes,
        ["set :path: /api/v1/query?extra_label=tenant%3Da"]
    );
}

#[test]
fn the_decision_on_a_header_block_is_the_decision_on_its_head() {
    let config = config("vm_single");
    let keys = jwks();
    let decide_block = |block: &[u8]| {
        decide_on_header_block(
            &config,
            block,
            &mut StaticKeys(vec![Some(&keys)]),
            &mut TokenCache::new(0),
            NOW,
        )
    };
    let bearer = es256_bearer(claims(json!({})));
    let block = write_block(&[
        (b":method", b"GET"),
        (b":path", b"/api/v1/query"),
        (b"authorization", bearer.as_bytes()),
    ]);
    assert_eq!(
        decide_block(&block),
        decide_uncached(&config, &query_head(&bearer))
    );
    assert!(matches!(decide_block(&block), Decision::Forward(_)));
    // A block that cannot be read carries no credentials.
    assert_eq!(
        decide_block(&block[..block.len() - 1]),
        Decision::Refuse(Refusal::Credentials(ExtractError::Missing))
    );
}

#[test]
fn time_claims_are_checked_with_the_skew() {
    let expired = claims(json!({"exp": NOW - 61}));
    assert_eq!(
        token_error(query_with(&mint("ES256", "p256", json!({}), expired))),
        TokenError::Expired
    );
    let within_skew = claims(json!({"exp": NOW - 30}));
    forwarded_path(query_with(&mint("ES256", "p256", json!({}), within_skew)));
    let early = claims(json!({"nbf": NOW + 61}));
    assert_eq!(
        token_error(query_with(&mint("ES256", "p256", json!({}), early))),
        TokenError::NotYetValid
    );
    let no_exp = claims(json!({"exp": null}));
    assert_eq!(
        token_error(query_with(&mint("ES256", "p256", json!({}), no_exp))),
        TokenError::MissingExpiry
    );
    let text_exp = claims(json!({"exp": "soon"}));
    assert_eq!(
        token_error(query_with(&mint("ES256", "p256", json!({}), text_exp))),
        TokenError::InvalidClaim("exp")
    );
}

#[test]
fn issuer_and_audience_must_match() {
    let foreign = claims(json!({"iss": "https://evil.example"}));
    assert_eq!(
        token_error(query_with(&mint("ES256", "p256", json!({}), foreign))),
        TokenError::UnknownIssuer
    );
    let wrong_aud = claims(json!({"aud": ["other", "x"]}));
    assert_eq!(
        token_error(query_with(&mint("ES256", "p256", json!({}), wrong_aud))),
        TokenError::WrongAudience
    );
    let listed_aud = claims(json!({"aud": ["other", "metrics"]}));
    forwarded_path(query_with(&mint("ES256", "p256", json!({}), listed_aud)));
}

#[test]
fn keys_are_chosen_strictly() {
    let unknown_kid = mint("ES256", "rotated-away", json!({}), claims(json!({})));
    assert_eq!(
        token_error(query_with(&unknown_kid)),
        TokenError::UnknownKeyId
    );
    // The EC key named with an RSA algorithm is never tried.
    let wrong_type = mint("RS256", "p256", json!({}), claims(json!({})));
    assert_eq!(
        token_error(query_with(&wrong_type)),
        TokenError::NoKeyForAlgorithm
    );
    // The P-256 JWK says ES256 only.
    let wrong_kid_curve = mint("ES384", "p256", json!({}), claims(json!({})));
    assert_eq!(
        token_error(query_with(&wrong_kid_curve)),
        TokenError::NoKeyForAlgorithm
    );
    // Another key's signature under a known kid.
    let forged = mint(
        "OTHER-RS256",
        "rsa",
        json!({"alg": "RS256"}),
        claims(json!({})),
    );
    assert_eq!(token_error(query_with(&forged)), TokenError::BadSignature);
    // Without a kid every fitting key is tried.
    let no_kid = mint("ES256", "p256", json!({"kid": null}), claims(json!({})));
    forwarded_path(query_with(&no_kid));
}

#[test]
fn refused_headers_and_tampering() {
    for (alg, error) in [
        ("none", TokenError::UnsupportedAlgorithm),
        // HMAC under an RSA key's kid: the public key is never an HMAC secret.
        ("HS256", TokenError::NoKeyForAlgorithm),
        ("RS256 ", TokenError::UnsupportedAlgorithm),
    ] {
        let token = mint(alg, "rsa", json!({}), claims(json!({})));
        assert_eq!(token_error(query_with(&token)), error, "{alg}");
    }
    let critical = mint("ES256", "p256", json!({"crit": ["exp"]}), claims(json!({})));
    assert_eq!(
        token_error(query_with(&critical)),
        TokenError::CriticalHeader
    );

    let token = mint("ES256", "p256", json!({}), claims(json!({})));
    let parts: Vec<&str> = token.split('.').collect();
    let widened = claims(json!({"vm_access": {"extra_labels": {"tenant": "team-b"}}}));
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(widened.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(token_error(query_with(&tampered)), TokenError::BadSignature);
    for malformed in [
        format!("{token}="),
        format!("{token}.x"),
        format!("{}.{}.", parts[0], parts[1]),
        "a.b.c".to_string(),
    ] {
        assert!(
            matches!(query_with(&malformed), Decision::Refuse(_)),
            "{malformed}"
        );
    }
}

#[test]
fn credentials_must_be_a_single_bearer_token() {
    let config = config("vm_single");
    let token = es256_bearer(claims(json!({})));
    assert_eq!(
        run(&config, "GET", "/api/v1/query", &[]),
        Decision::Refuse(Refusal::Credentials(ExtractError::Missing))
    );
    assert_eq!(
        run(&config, "GET", "/api/v1/query", &[&token, &token]),
        Decision::Refuse(Refusal::Credentials(ExtractError::Ambiguous))
    );
}

#[test]
fn a_token_that_is_not_a_b64token_is_refused_beside_a_cached_one() {
    let config = config("vm_single");
    let keys = jwks();
    let mut cache = TokenCache::new(16);
    let mut decide_cached = |authorization: &str| {
        decide(
            &config,
            &query_head(authorization),
            &mut StaticKeys(vec![Some(&keys)]),
            &mut cache,
            NOW,
        )
    };
    let token = es256_bearer(claims(json!({})));
    assert!(matches!(decide_cached(&token), Decision::Forward(_)));
    assert!(matches!(decide_cached(&token), Decision::Forward(_)));
    for malformed in [
        format!("{token}\""),
        format!("{token}!"),
        "Bearer a\"b.c".into(),
    ] {
        assert_eq!(
            decide_cached(&malformed),
            Decision::Refuse(Refusal::Credentials(ExtractError::Malformed)),
            "{malformed}"
        );
    }
}

#[test]
fn requests_wait_while_keys_load() {
    let config = config("vm_single");
    let bearer = es256_bearer(claims(json!({})));
    let head = query_head(&bearer);
    assert_eq!(
        decide(
            &config,
            &head,
            &mut StaticKeys(vec![None]),
            &mut TokenCache::new(0),
            NOW
        ),
        Decision::AwaitKeys {
            provider: 0,
            on_timeout: Refusal::KeysUnavailable
        }
    );
}

/// One key set whose contents, generation and refetch allowance the test
/// controls.
struct TestKeys {
    keys: KeySet,
    generation: u64,
    refetches_left: u32,
}

impl KeyStore for TestKeys {
    fn key_set(&self, _provider: usize) -> Option<&KeySet> {
        Some(&self.keys)
    }

    fn key_generation(&self, _provider: usize) -> Option<u64> {
        Some(self.generation)
    }

    fn wait_for_unknown_kid(&mut self, _provider: usize) -> bool {
        let allowed = self.refetches_left > 0;
        self.refetches_left = self.refetches_left.saturating_sub(1);
        allowed
    }
}

#[test]
fn unknown_kid_waits_for_a_refetch_when_the_host_allows_it() {
    let config = config("vm_single");
    let bearer = format!(
        "Bearer {}",
        mint("ES256", "rotated", json!({}), claims(json!({})))
    );
    let head = query_head(&bearer);
    let mut store = TestKeys {
        keys: jwks(),
        generation: 0,
        refetches_left: 1,
    };
    assert_eq!(
        decide(&config, &head, &mut store, &mut TokenCache::new(0), NOW),
        Decision::AwaitKeys {
            provider: 0,
            on_timeout: Refusal::InvalidToken(TokenError::UnknownKeyId)
        }
    );
    assert_eq!(
        decide(&config, &head, &mut store, &mut TokenCache::new(0), NOW),
        Decision::Refuse(Refusal::InvalidToken(TokenError::UnknownKeyId))
    );
    // A known kid never asks for a refetch.
    let known = es256_bearer(claims(json!({})));
    let head = RequestHead {
        headers: vec![("authorization", known.as_str())],
        ..head
    };
    assert!(matches!(
        decide(&config, &head, &mut store, &mut TokenCache::new(0), NOW),
        Decision::Forward(_)
    ));
}

#[test]
fn tenancy_decides_after_the_token_is_valid() {
    let config = config("vm_single");
    let read_only = claims(json!({"vm_access": {"extra_labels": {"tenant": "team-a"}, "mode": 1}}));
    let bearer = es256_bearer(read_only);
    assert_eq!(
        run(&config, "POST", "/api/v1/import/prometheus", &[&bearer]),
        Decision::Refuse(Refusal::Forbidden(TenancyError::WriteNotAllowed))
    );
    let no_access = es256_bearer(claims(json!({"vm_access": null})));
    assert_eq!(
        run(&config, "GET", "/api/v1/query", &[&no_access]),
        Decision::Refuse(Refusal::Forbidden(TenancyError::NoAccessClaim))
    );
}

#[test]
fn cluster_backend_routes_to_the_tenant() {
    let config = config("vm_cluster");
    let grant =
        claims(json!({"vm_access": "{\"tenant_id\":{\"account_id\":42,\"project_id\":1}}"}));
    let bearer = format!("Bearer {}", mint("RS256", "rsa", json!({}), grant));
    assert_eq!(
        forwarded_path(run(
            &config,
            "GET",
            "/prometheus/api/v1/series?match[]=up",
            &[&bearer]
        )),
        "/select/42:1/prometheus/api/v1/series?match%5B%5D=up"
    );
    assert_eq!(
        forwarded_path(run(&config, "POST", "/api/v1/write", &[&bearer])),
        "/insert/42:1/prometheus/api/v1/write"
    );
}

fn decide_with(config: &Config, token_claims: Value) -> Decision {
    let bearer = es256_bearer(token_claims);
    run(config, "GET", "/api/v1/query?query=up", &[&bearer])
}

#[test]
fn configured_claim_rules_are_enforced() {
    let lenient = config_with("vm_single", json!({"require_exp": false}));
    assert!(matches!(
        decide_with(&lenient, claims(json!({"exp": null}))),
        Decision::Forward(_)
    ));
    assert_eq!(
        token_error(decide_with(&lenient, claims(json!({"iat": NOW + 120})))),
        TokenError::IssuedInFuture
    );

    let short = config_with("vm_single", json!({"max_lifetime_s": 3600}));
    let long_lived = claims(json!({"iat": NOW - 10, "exp": NOW + 3600}));
    assert_eq!(
        token_error(decide_with(&short, long_lived)),
        TokenError::LifetimeTooLong
    );
    let fits = claims(json!({"iat": NOW - 10, "exp": NOW + 3000}));
    assert!(matches!(decide_with(&short, fits), Decision::Forward(_)));

    let strict = config_with(
        "vm_single",
        json!({"subjects": ["alice"], "required_claims": ["email"],
               "expected_claims": {"email_verified": true, "groups": ["metrics"]}}),
    );
    let good = claims(json!({"email": "a@x", "email_verified": true, "groups": ["metrics"]}));
    assert!(matches!(
        decide_with(&strict, good.clone()),
        Decision::Forward(_)
    ));
    let mut other_subject = good.clone();
    other_subject["sub"] = json!("mallory");
    assert_eq!(
        token_error(decide_with(&strict, other_subject)),
        TokenError::WrongSubject
    );
    let mut no_email = good.clone();
    no_email.as_object_mut().unwrap().remove("email");
    assert_eq!(
        token_error(decide_with(&strict, no_email)),
        TokenError::MissingRequiredClaim
    );
    let mut string_true = good;
    string_true["email_verified"] = json!("true");
    assert_eq!(
        token_error(decide_with(&strict, string_true)),
        TokenError::UnexpectedClaimValue
    );
}

fn with_sources(sources: Value) -> Config {
    let json = json!({
        "token_sources": sources,
        "providers": [{"name": "idp", "issuer": ISSUER, "audiences": ["metrics"],
                       "discovery": {"cluster": "idp"}}],
        "tenancy": {"backend": "vm_single"},
    });
    Config::from_json(json.to_string().as_bytes()).unwrap()
}

fn decide_head(config: &Config, target: &str, headers: Vec<(&str, &str)>) -> Decision {
    let head = RequestHead {
        method: "GET",
        target,
        headers,
        undecodable: Vec::new(),
    };
    decide_uncached(config, &head)
}

#[test]
fn tokens_come_from_the_configured_sources_and_do_not_go_upstream() {
    let token = mint("ES256", "p256", json!({}), claims(json!({})));
    let config = with_sources(json!([
        {"authorization_bearer": {}},
        {"header": {"name": "X-JWT-Assertion"}},
        {"query": {"name": "auth_token"}},
        {"cookie": {"name": "jwt"}},
    ]));

    let Decision::Forward(by_header) =
        decide_head(&config, "/api/v1/query", vec![("x-jwt-assertion", &token)])
    else {
        panic!("header token refused");
    };
    assert!(by_header
        .remove_headers
        .iter()
        .any(|name| name == "x-jwt-assertion"));

    let target = format!("/api/v1/query?query=up&auth_token={token}");
    let Decision::Forward(by_query) = decide_head(&config, &target, vec![]) else {
        panic!("query token refused");
    };
    assert_eq!(
        by_query.path,
        "/api/v1/query?query=up&extra_label=tenant%3Dteam-a"
    );

    let cookies = format!("theme=dark; jwt={token}; lang=en");
    let Decision::Forward(by_cookie) =
        decide_head(&config, "/api/v1/query", vec![("cookie", &cookies)])
    else {
        panic!("cookie token refused");
    };
    assert_eq!(
        by_cookie.set_headers,
        [("cookie".into(), "theme=dark; lang=en".to_string())]
    );

    let bearer = format!("Bearer {token}");
    assert_eq!(
        decide_head(&config, &target, vec![("authorization", &bearer)]),
        Decision::Refuse(Refusal::Credentials(ExtractError::Ambiguous))
    );
    // Only configured sources count.
    let bearer_only = config_with("vm_single", json!({}));
    assert_eq!(
        decide_head(&bearer_only, &target, vec![]),
        Decision::Refuse(Refusal::Credentials(ExtractError::Missing))
    );
}

#[test]
fn verified_tokens_are_cached_until_expiry_or_a_key_change() {
    let config = config("vm_single");
    let bearer = es256_bearer(claims(json!({"exp": NOW + 100})));
    let head = query_head(&bearer);
    let mut cache = TokenCache::new(16);
    let mut store = TestKeys {
        keys: jwks(),
        generation: 1,
        refetches_left: 0,
    };
    assert!(matches!(
        decide(&config, &head, &mut store, &mut cache, NOW),
        Decision::Forward(_)
    ));
    assert_eq!(cache.len(), 1);

    // Same generation, keys gone: the cached verdict is used.
    store.keys = KeySet::default();
    assert!(matches!(
        decide(&config, &head, &mut store, &mut cache, NOW),
        Decision::Forward(_)
    ));
    // A new key set invalidates the entry: verified again, against no keys.
    store.generation = 2;
    assert_eq!(
        decide(&config, &head, &mut store, &mut cache, NOW),
        Decision::Refuse(Refusal::InvalidToken(TokenError::UnknownKeyId))
    );
    store.keys = jwks();
    assert!(matches!(
        decide(&config, &head, &mut store, &mut cache, NOW),
        Decision::Forward(_)
    ));
    // The token expires (100 s + 60 s skew) even while cached.
    assert_eq!(
        decide(&config, &head, &mut store, &mut cache, NOW + 160),
        Decision::Refuse(Refusal::InvalidToken(TokenError::Expired))
    );
    // Refusals are never cached.
    assert!(cache.is_empty());
}

/// A configuration with this `tenancy` and top-level `extra` settings.
fn tenancy_config(tenancy: Value, extra: Value) -> Config {
    let mut json = json!({
        "providers": [{"name": "idp", "issuer": ISSUER, "audiences": ["metrics"],
                       "discovery": {"cluster": "idp"}}],
        "tenancy": tenancy,
    });
    for (name, value) in extra.as_object().unwrap() {
        json[name] = value.clone();
    }
    Config::from_json(json.to_string().as_bytes()).unwrap()
}

/// Decides about a request carrying `authorization` and `headers`.
fn decide_request(
    config: &Config,
    method: &str,
    target: &str,
    authorization: &str,
    headers: &[(&str, &str)],
) -> Decision {
    let mut all = vec![("authorization", authorization)];
    all.extend_from_slice(headers);
    let head = RequestHead {
        method,
        target,
        headers: all,
        undecodable: Vec::new(),
    };
    decide_uncached(config, &head)
}

fn bearer_with(extra_claims: Value) -> String {
    es256_bearer(claims(extra_claims))
}

fn forward(decision: Decision) -> Forward {
    match decision {
        Decision::Forward(forward) => forward,
        other => panic!("expected the request to go on, got {other:?}"),
    }
}

fn forbidden(decision: Decision) -> TenancyError {
    match decision {
        Decision::Refuse(Refusal::Forbidden(error)) => error,
        other => panic!("expected 403, got {other:?}"),
    }
}

/// The value the forwarded request will carry for `name`, if set.
fn set_value(forward: &Forward, name: &str) -> Option<String> {
    forward
        .set_headers
        .iter()
        .find(|(header, _)| header == name)
        .map(|(_, value)| value.clone())
}

fn removes(forward: &Forward, name: &str) -> bool {
    forward.remove_headers.iter().any(|header| header == name)
}

#[test]
fn vmauth_claims_scope_single_node_and_cluster() {
    let grant = json!({"vm_access": {
        "metrics_account_id": 12, "metrics_project_id": 4,
        "metrics_extra_labels": ["team=ops"],
        "metrics_extra_filters": ["{env=\"prod\"}"],
    }});
    let single = tenancy_config(
        json!({"backend": "vm_single", "mapping": "vmauth"}),
        json!({}),
    );
    let read = forward(decide_request(
        &single,
        "GET",
        "/api/v1/query?query=up",
        &bearer_with(grant.clone()),
        &[],
    ));
    assert_eq!(
        read.path,
        "/api/v1/query?query=up&extra_label=team%3Dops&extra_filters=%7Benv%3D%22prod%22%7D"
    );
    let cluster = tenancy_config(
        json!({"backend": "vm_cluster", "mapping": "vmauth"}),
        json!({}),
    );
    let write = forward(decide_request(
        &cluster,
        "POST",
        "/api/v1/write",
        &bearer_with(grant),
        &[],
    ));
    assert_eq!(
        write.path,
        "/insert/12:4/prometheus/api/v1/write?extra_label=team%3Dops"
    );
    // vmgateway's fields mean nothing to the vmauth mapping.
    let gateway_only = bearer_with(json!({"vm_access": {"tenant_id": {"account_id": 1}}}));
    assert_eq!(
        forbidden(decide_request(
            &cluster,
            "GET",
            "/api/v1/query",
            &gateway_only,
            &[]
        )),
        TenancyError::NoClusterTenant
    );
}

#[test]
fn claim_paths_and_the_default_grant() {
    let nested = tenancy_config(
        json!({"backend": "vm_single", "claim": "\"https://corp.example/claims\".metrics[1]"}),
        json!({}),
    );
    let token = bearer_with(json!({"vm_access": null, "https://corp.example/claims": {
        "metrics": [{"extra_labels": {"team": "x"}}, {"extra_labels": {"team": "y"}}]}}));
    assert_eq!(
        forward(decide_request(
            &nested,
            "GET",
            "/api/v1/labels",
            &token,
            &[]
        ))
        .path,
        "/api/v1/labels?extra_label=team%3Dy"
    );
    let no_claim = bearer_with(json!({"vm_access": null}));
    assert_eq!(
        forbidden(decide_request(
            &nested,
            "GET",
            "/api/v1/labels",
            &no_claim,
            &[]
        )),
        TenancyError::NoAccessClaim
    );
    let with_default = tenancy_config(
        json!({"backend": "vm_single", "default": {"extra_labels": {"team": "guest"}, "mode": 1}}),
        json!({}),
    );
    assert_eq!(
        forward(decide_request(
            &with_default,
            "GET",
            "/api/v1/labels",
            &no_claim,
            &[]
        ))
        .path,
        "/api/v1/labels?extra_label=team%3Dguest"
    );
    assert_eq!(
        forbidden(decide_request(
            &with_default,
            "POST",
            "/api/v1/write",
            &no_claim,
            &[]
        )),
        TenancyError::WriteNotAllowed
    );
    // A token with the claim gets its own grant, not the default.
    assert_eq!(
        forward(decide_request(
            &with_default,
            "GET",
            "/api/v1/labels",
            &bearer_with(json!({})),
            &[]
        ))
        .path,
        "/api/v1/labels?extra_label=tenant%3Dteam-a"
    );
}

fn mimir(federation: bool) -> Config {
    tenancy_config(
        json!({
            "backend": "mimir", "mapping": "access_policies", "claim": "groups",
            "pattern": "metrics-(.+)", "federation": federation,
            "policies": {
                "a-rw": {"tenants": ["team-a"], "scopes": ["read", "write"]},
                "b-prod": {"tenants": ["team-b"], "scopes": ["read"], "selectors": ["{env=\"prod\"}", "{job=\"x,y\"}"]},
                "ab-write": {"tenants": ["team-a", "team-b"], "scopes": ["write"]},
            },
        }),
        json!({}),
    )
}

const CLIENT_TENANCY: [(&str, &str); 3] = [
    ("x-scope-orgid", "team-c"),
    ("x-prom-label-policy", "team-b:%7B%7D"),
    ("accountid", "1"),
];

#[test]
fn mimir_gets_the_org_id_and_label_policies_instead_of_the_clients() {
    let config = mimir(false);
    let only_a = bearer_with(json!({"groups": ["metrics-a-rw", "other"]}));
    let read = forward(decide_request(
        &config,
        "GET",
        "/api/v1/query?query=up",
        &only_a,
        &CLIENT_TENANCY,
    ));
    assert_eq!(read.path, "/prometheus/api/v1/query?query=up");
    assert_eq!(set_value(&read, "x-scope-orgid").as_deref(), Some("team-a"));
    assert!(read.add_headers.is_empty(), "team-a is granted whole");
    for (name, _) in CLIENT_TENANCY {
        assert!(removes(&read, name), "{name}");
    }
    assert_eq!(read.body_check, BodyCheck::None);

    let only_b = bearer_with(json!({"groups": ["metrics-b-prod"]}));
    let read = forward(decide_request(
        &config,
        "POST",
        "/prometheus/api/v1/series",
        &only_b,
        &[],
    ));
    assert_eq!(set_value(&read, "x-scope-orgid").as_deref(), Some("team-b"));
    assert_eq!(
        read.add_headers,
        [
            (
                "x-prom-label-policy",
                "team-b:%7Benv%3D%22prod%22%7D".to_string()
            ),
            (
                "x-prom-label-policy",
                "team-b:%7Bjob%3D%22x%2Cy%22%7D".to_string()
            ),
        ]
    );
    assert_eq!(
        forbidden(decide_request(
            &config,
            "POST",
            "/api/v1/push",
            &only_b,
            &[]
        )),
        TenancyError::WriteNotAllowed
    );
    let push = forward(decide_request(
        &config,
        "POST",
        "/api/v1/push",
        &only_a,
        &[],
    ));
    assert_eq!(push.path, "/api/v1/push");
    assert_eq!(set_value(&push, "x-scope-orgid").as_deref(), Some("team-a"));
    assert!(push.add_headers.is_empty());
    for refused in [
        "/api/v1/write",
        "/prometheus/api/v1/rules",
        "/distributor/all_user_stats",
    ] {
        assert_eq!(
            decide_request(&config, "POST", refused, &only_a, &[]),
            Decision::Refuse(Refusal::Request(RewriteError::EndpointNotAllowed)),
            "{refused}"
        );
    }
}

#[test]
fn several_tenants_federate_only_when_configured_and_a_named_one_selects() {
    let both = bearer_with(json!({"groups": ["metrics-a-rw", "metrics-b-prod"]}));
    let plain = mimir(false);
    assert_eq!(
        forbidden(decide_request(&plain, "GET", "/api/v1/query", &both, &[])),
        TenancyError::SeveralTenants
    );
    let federated = forward(decide_request(
        &mimir(true),
        "GET",
        "/api/v1/query",
        &both,
        &[],
    ));
    assert_eq!(
        set_value(&federated, "x-scope-orgid").as_deref(),
        Some("team-a|team-b")
    );
    assert_eq!(federated.add_headers.len(), 2, "team-b's policies only");

    // GEM's `Bearer <tenant>:<token>` names one of the granted tenants.
    let token = mint(
        "ES256",
        "p256",
        json!({}),
        claims(json!({"groups": ["metrics-a-rw", "metrics-b-prod"]})),
    );
    let named = format!("Bearer team-b:{token}");
    let read = forward(decide_request(&plain, "GET", "/api/v1/query", &named, &[]));
    assert_eq!(set_value(&read, "x-scope-orgid").as_deref(), Some("team-b"));
    assert!(removes(&read, "authorization"));
    let not_granted = format!("Bearer team-c:{token}");
    assert_eq!(
        forbidden(decide_request(
            &plain,
            "GET",
            "/api/v1/query",
            &not_granted,
            &[]
        )),
        TenancyError::TenantNotGranted
    );
    let federated_name = format!("Bearer team-a|team-b:{token}");
    assert_eq!(
        forbidden(decide_request(
            &plain,
            "GET",
            "/api/v1/query",
            &federated_name,
            &[]
        )),
        TenancyError::SeveralTenants
    );
    assert_eq!(
        set_value(
            &forward(decide_request(
                &mimir(true),
                "GET",
                "/api/v1/query",
                &federated_name,
                &[]
            )),
            "x-scope-orgid"
        )
        .as_deref(),
        Some("team-a|team-b")
    );
    // Writes never federate; the ab-write policy names two tenants, so it
    // grants no write at all, and team-a's own policy decides.
    let writer = bearer_with(json!({"groups": ["metrics-ab-write"]}));
    assert_eq!(
        forbidden(decide_request(
            &mimir(true),
            "POST",
            "/api/v1/push",
            &writer,
            &[]
        )),
        TenancyError::WriteNotAllowed
    );
}

#[test]
fn basic_auth_user_names_the_tenant_where_there_are_tenants() {
    let sources = json!({"token_sources": [{"basic_password": {}}]});
    let token = mint(
        "ES256",
        "p256",
        json!({}),
        claims(json!({"groups": ["metrics-a-rw", "metrics-b-prod"]})),
    );
    let basic = |user: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{token}")));
    let mut tenancy = json!({
        "backend": "mimir", "mapping": "access_policies", "claim": "groups", "pattern": "metrics-(.+)",
        "policies": {"a-rw": {"tenants": ["team-a"], "scopes": ["read", "write"]},
                     "b-prod": {"tenants": ["team-b"], "scopes": ["read"]}},
    });
    let gem = tenancy_config(tenancy.clone(), sources.clone());
    let write = forward(decide_request(
        &gem,
        "POST",
        "/api/v1/push",
        &basic("team-a"),
        &[],
    ));
    assert_eq!(
        set_value(&write, "x-scope-orgid").as_deref(),
        Some("team-a")
    );
    assert_eq!(
        forbidden(decide_request(
            &gem,
            "POST",
            "/api/v1/push",
            &basic("team-b"),
            &[]
        )),
        TenancyError::TenantNotGranted
    );
    assert_eq!(
        forbidden(decide_request(
            &gem,
            "GET",
            "/api/v1/query",
            &basic("../x"),
            &[]
        )),
        TenancyError::InvalidTenant
    );
    // Single-node has no tenants: the user name is only a user name there,
    // while a tenant in a bearer value cannot be granted.
    tenancy = json!({"backend": "vm_single"});
    let single = tenancy_config(tenancy, sources);
    let plain_token = mint("ES256", "p256", json!({}), claims(json!({})));
    let vmagent = format!(
        "Basic {}",
        STANDARD.encode(format!("vmagent:{plain_token}"))
    );
    assert!(matches!(
        decide_request(&single, "GET", "/api/v1/query", &vmagent, &[]),
        Decision::Forward(_)
    ));
    // On the cluster only `<account>[:<project>]` names a tenant.
    let cluster = tenancy_config(
        json!({"backend": "vm_cluster"}),
        json!({"token_sources": [{"basic_password": {}}]}),
    );
    let cluster_token = mint(
        "ES256",
        "p256",
        json!({}),
        claims(json!({"vm_access": {"tenant_id": {"account_id": 7}}})),
    );
    let user = |name: &str| {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{name}:{cluster_token}"))
        )
    };
    assert_eq!(
        forward(decide_request(
            &cluster,
            "GET",
            "/api/v1/query",
            &user("vmagent"),
            &[]
        ))
        .path,
        "/select/7:0/prometheus/api/v1/query"
    );
    assert!(matches!(
        decide_request(&cluster, "GET", "/api/v1/query", &user("7"), &[]),
        Decision::Forward(_)
    ));
    assert_eq!(
        forbidden(decide_request(
            &cluster,
            "GET",
            "/api/v1/query",
            &user("8"),
            &[]
        )),
        TenancyError::TenantNotGranted
    );
    let bearer_single = config("vm_single");
    let named = format!("Bearer 7:{plain_token}");
    assert_eq!(
        forbidden(decide_request(
            &bearer_single,
            "GET",
            "/api/v1/query",
            &named,
            &[]
        )),
        TenancyError::TenantNotGranted
    );
}

#[test]
fn cluster_tenants_can_be_named_too() {
    let config = tenancy_config(
        json!({"backend": "vm_cluster", "mapping": "access_policies", "claim": "roles",
               "pattern": "vm:(.+)",
               "policies": {"7": {"tenants": ["7:0"], "scopes": ["read", "write"]},
                            "8": {"tenants": ["8:1"], "scopes": ["read"], "selectors": ["{team=\"a\"}"]}}}),
        json!({}),
    );
    let token = mint(
        "ES256",
        "p256",
        json!({}),
        claims(json!({"roles": "vm:7 vm:8"})),
    );
    let both = format!("Bearer {token}");
    assert_eq!(
        forbidden(decide_request(&config, "GET", "/api/v1/query", &both, &[])),
        TenancyError::SeveralTenants
    );
    let eight = format!("Bearer 8:1:{token}");
    assert_eq!(
        forward(decide_request(&config, "GET", "/api/v1/query", &eight, &[])).path,
        "/select/8:1/prometheus/api/v1/query?extra_filters=%7Bteam%3D%22a%22%7D"
    );
    let seven = format!("Bearer 7:{token}");
    assert_eq!(
        forward(decide_request(
            &config,
            "POST",
            "/api/v1/write",
            &seven,
            &[]
        ))
        .path,
        "/insert/7:0/prometheus/api/v1/write"
    );
    // Only one policy writes: the write needs no tenant named.
    assert_eq!(
        forward(decide_request(&config, "POST", "/api/v1/write", &both, &[])).path,
        "/insert/7:0/prometheus/api/v1/write"
    );
}

#[test]
fn identity_headers_carry_claims_and_client_copies_never_pass() {
    let config = tenancy_config(
        json!({"backend": "vm_single"}),
        json!({"identity_headers": [
            {"claim": "email", "header": "X-WEBAUTH-EMAIL"},
            {"claim": "groups", "header": "X-Groups"},
            {"claim": "profile.name", "header": "X-Name"},
        ]}),
    );
    let spoofed = [
        ("x-webauth-email", "admin@example.com"),
        ("x-groups", "admins"),
        ("x-name", "root"),
    ];
    let token = bearer_with(
        json!({"email": "alice@example.com", "groups": ["ops", "dev"],
                                   "profile": {"name": "Alice\r\nX-Scope-OrgID: team-b"}}),
    );
    let sent = forward(decide_request(
        &config,
        "GET",
        "/api/v1/query",
        &token,
        &spoofed,
    ));
    assert_eq!(
        set_value(&sent, "x-webauth-email").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(set_value(&sent, "x-groups").as_deref(), Some("ops,dev"));
    assert_eq!(
        set_value(&sent, "x-name"),
        None,
        "a value with CR LF is not sent"
    );
    for (name, _) in spoofed {
        assert!(removes(&sent, name), "{name}");
    }
    let without = forward(decide_request(
        &config,
        "GET",
        "/api/v1/query",
        &bearer_with(json!({})),
        &spoofed,
    ));
    assert_eq!(set_value(&without, "x-webauth-email"), None);
    assert!(removes(&without, "x-webauth-email"));
}

#[test]
fn multipart_bodies_are_checked_not_refused() {
    let config = config("vm_single");
    let token = bearer_with(json!({}));
    let content_type = [("content-type", "multipart/form-data; boundary=b0und")];
    let sent = forward(decide_request(
        &config,
        "POST",
        "/api/v1/query",
        &token,
        &content_type,
    ));
    assert_eq!(
        sent.body_check,
        BodyCheck::Multipart {
            boundary: "b0und".into()
        }
    );
    let part = |name: &str| {
        format!(
            "--b0und\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\nx\r\n--b0und--\r\n"
        )
    };
    assert_eq!(
        check_body(&config, &sent.body_check, part("query").as_bytes()),
        Ok(())
    );
    assert_eq!(
        check_body(
            &config,
            &sent.body_check,
            part("extra_filters[]").as_bytes()
        ),
        Err(Refusal::Request(RewriteError::EnforcementInBody))
    );
    assert_eq!(
        check_body(&config, &sent.body_check, b"--b0und\nbroken"),
        Err(Refusal::Request(RewriteError::InvalidMultipartBody))
    );
    let mixed = [("content-type", "multipart/mixed; boundary=b0und")];
    assert_eq!(
        decide_request(&config, "POST", "/api/v1/query", &token, &mixed),
        Decision::Refuse(Refusal::Request(RewriteError::MultipartBody))
    );
}
