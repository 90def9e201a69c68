//! The whole decision, natively: tokens signed here with RSA, P-256 and
//! P-384 keys go through `pipeline::decide` with a key set parsed from JWKS.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use signature::{RandomizedSigner, SignatureEncoding, Signer};

use tenantgate::config::Config;
use tenantgate::extract::ExtractError;
use tenantgate::keys::{parse_jwks, KeySet};
use tenantgate::pipeline::{decide, Decision, KeyStore, RequestHead, StaticKeys};
use tenantgate::reply::Refusal;
use tenantgate::rewrite::BodyCheck;
use tenantgate::tenancy::TenancyError;
use tenantgate::verify::cache::TokenCache;
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
    let keys = jwks();
    let head = RequestHead {
        method,
        target,
        headers: authorization
            .iter()
            .map(|value| ("authorization", *value))
            .collect(),
        undecodable: Vec::new(),
    };
    decide(
        config,
        &head,
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
    let Decision::Forward(forward) = query_with(&token) else {
        panic!("expected forward");
    };
    for header in [
        "authorization",
        "x-scope-orgid",
        "accountid",
        "projectid",
        "x-prom-label-policy",
        "thanos-tenant",
    ] {
        assert!(
            forward.remove_headers.iter().any(|name| name == header),
            "{header}"
        );
    }
    assert_eq!(forward.body_check, BodyCheck::None);
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
        ("HS256", TokenError::UnsupportedAlgorithm),
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
    let token = format!(
        "Bearer {}",
        mint("ES256", "p256", json!({}), claims(json!({})))
    );
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
fn requests_wait_while_keys_load() {
    let config = config("vm_single");
    let bearer = format!(
        "Bearer {}",
        mint("ES256", "p256", json!({}), claims(json!({})))
    );
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
    let known = format!(
        "Bearer {}",
        mint("ES256", "p256", json!({}), claims(json!({})))
    );
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
    let bearer = format!("Bearer {}", mint("ES256", "p256", json!({}), read_only));
    assert_eq!(
        run(&config, "POST", "/api/v1/import/prometheus", &[&bearer]),
        Decision::Refuse(Refusal::Forbidden(TenancyError::WriteNotAllowed))
    );
    let no_access = format!(
        "Bearer {}",
        mint(
            "ES256",
            "p256",
            json!({}),
            claims(json!({"vm_access": null}))
        )
    );
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
    let bearer = format!("Bearer {}", mint("ES256", "p256", json!({}), token_claims));
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
    let keys = jwks();
    let head = RequestHead {
        method: "GET",
        target,
        headers,
        undecodable: Vec::new(),
    };
    decide(
        config,
        &head,
        &mut StaticKeys(vec![Some(&keys)]),
        &mut TokenCache::new(0),
        NOW,
    )
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
    let bearer = format!(
        "Bearer {}",
        mint(
            "ES256",
            "p256",
            json!({}),
            claims(json!({"exp": NOW + 100}))
        )
    );
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
