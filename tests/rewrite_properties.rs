//! Whatever query a client sends, the rewritten one carries exactly the
//! gateway's enforcement under the enforcement keys, as the backend decodes it.

use proptest::prelude::*;

use tenantgate::config::Backend;
use tenantgate::rewrite::query::{append_query, enforcement_arguments, is_enforcement_key};
use tenantgate::rewrite::{rewritten_path, route};
use tenantgate::tenancy::Enforcement;

/// Keys a client might use, in raw and percent-encoded spellings.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("extra_label".to_string()),
        Just("extra_filters".to_string()),
        Just("extra_filters[]".to_string()),
        Just("extra%5Flabel".to_string()),
        Just("extra_filters%5B%5D".to_string()),
        Just("extra_filters%5b%5d".to_string()),
        Just("%65xtra_label".to_string()),
        Just("query".to_string()),
        "[a-z_%5B5D]{0,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    "[a-z0-9={}\"%+&]{0,16}"
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), value()), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// A query as a client may write it: pairs with no, one or more `=`,
/// empty pairs, bytes encoded as they are and bytes that are not, valid,
/// lower-case, invalid and cut-off escapes, `+`, multibyte characters.
fn raw_query() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        2 => "[a-zA-Z0-9*._-]{0,5}",
        // The token's parameter above, as a client spells it.
        1 => prop_oneof![Just("a+b".to_string()), Just("a%20b".to_string()), Just("token".to_string())],
        // As many bytes encoded as they are as bytes that are not.
        3 => "[ab01*._~+;/:\\[\"\u{e9}\u{20ac}-]{1,5}",
        2 => "([a-zA-Z0-9+]|%[0-9a-fA-F]{2}|%[0-9a-fA-F]?){1,5}",
    ];
    let pair = prop::collection::vec(part, 1..4).prop_map(|parts| parts.join("="));
    prop::collection::vec(pair, 0..6).prop_map(|pairs| pairs.join("&"))
}

fn enforcement() -> Enforcement {
    Enforcement {
        cluster_tenant: None,
        extra_labels: vec!["tenant=team-a".into()],
        extra_filters: vec!["{env=\"prod\"}".into()],
        ..Enforcement::default()
    }
}

proptest! {
    #[test]
    fn only_the_gateway_sets_enforcement(query in query()) {
        let target = format!("/api/v1/query?{query}");
        // Targets the filter refuses outright need no rewriting.
        if let Ok(route) = route("GET", &target, &Backend::VmSingle) {
            let enforcement = enforcement();
            let arguments = enforcement_arguments(&enforcement);
            let path = rewritten_path(&route, &enforcement, &arguments, &Backend::VmSingle);
            let (_, rewritten) = path.split_once('?').expect("enforcement is always set");
            let mut labels = Vec::new();
            let mut filters = Vec::new();
            for (k, v) in form_urlencoded::parse(rewritten.as_bytes()) {
                match k.as_ref() {
                    "extra_label" => labels.push(v.into_owned()),
                    "extra_filters" | "extra_filters[]" => filters.push(v.into_owned()),
                    _ => {}
                }
            }
            prop_assert_eq!(labels, vec!["tenant=team-a".to_string()]);
            prop_assert_eq!(filters, vec!["{env=\"prod\"}".to_string()]);
        }
    }

    /// Pairs copied as they are and pairs decoded and encoded again give
    /// the query a form serializer writes from the decoded arguments, byte
    /// for byte.
    #[test]
    fn the_query_is_the_form_encoding_of_the_kept_arguments(
        query in raw_query(),
        token_param in prop_oneof![Just(None), Just(Some("token")), Just(Some("a.b")), Just(Some("a b"))],
        arguments in prop_oneof![Just(""), Just("extra_label=t%3Da")],
    ) {
        let mut rewritten = String::from("/p");
        append_query(&mut rewritten, Some(&query), arguments, token_param);
        let mut reference = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if !is_enforcement_key(&key) && token_param != Some(key.as_ref()) {
                reference.append_pair(&key, &value);
            }
        }
        let mut expected = reference.finish();
        if !expected.is_empty() && !arguments.is_empty() {
            expected.push('&');
        }
        expected.push_str(arguments);
        let expected = if expected.is_empty() { "/p".to_string() } else { format!("/p?{expected}") };
        prop_assert_eq!(rewritten, expected);
    }
}

/// The whole request, through `pipeline::decide` with a valid token: no
/// request leaves the filter without exactly the tenant's enforcement, nor
/// with any client tenancy or identity header, nor with a body the backend
/// would read enforcement arguments from.
mod whole_request {
    use std::sync::OnceLock;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use p256::ecdsa::{signature::Signer, Signature, SigningKey};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use tenantgate::config::Config;
    use tenantgate::keys::{parse_jwks, KeySet};
    use tenantgate::pipeline::TokenCache;
    use tenantgate::pipeline::{check_body, decide, Decision, Forward, RequestHead, StaticKeys};
    use tenantgate::rewrite::{BodyCheck, TENANT_HEADERS};

    const ISSUER: &str = "https://idp.example";
    const NOW: u64 = 1_800_000_000;
    const IDENTITY_HEADER: &str = "x-webauth-user";
    const TEAM_B_POLICY: &str = "team-b:%7Benv%3D%22prod%22%7D";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    struct Fixture {
        keys: KeySet,
        token: String,
        /// Per entry of `tenancy_claims()`: two tokens, each of its own
        /// user (`sub`, sent as an identity header).
        claim_tokens: Vec<[String; 2]>,
        configs: Vec<(&'static str, Config)>,
        /// `configs` and more mappings: vmauth's fields, a nested claim
        /// with a default.
        mapping_configs: Vec<(&'static str, Config)>,
    }

    /// `vm_access` and `groups` values, some alike to one mapping and not to
    /// another, some the same value but for a number's kind. Each token also
    /// carries its `vm_access` value as `realm.access`.
    fn tenancy_claims() -> Vec<(Value, Value)> {
        let access = json!({"tenant_id": {"account_id": 7, "project_id": 3},
                            "extra_labels": {"tenant": "team-a"},
                            "extra_filters": ["{env=\"prod\"}"]});
        let with = |pointer: &str, value: Value| {
            let mut changed = access.clone();
            if let Some(slot) = changed.pointer_mut(pointer) {
                *slot = value;
            }
            changed
        };
        let groups = json!(["metrics-a", "metrics-b"]);
        let mode = |mode: Value| {
            let mut changed = access.clone();
            changed["mode"] = mode;
            changed
        };
        vec![
            (access.clone(), groups.clone()),
            (with("/tenant_id/account_id", json!(7.0)), groups.clone()),
            (
                with("/tenant_id/project_id", json!(0)),
                json!(["metrics-b", "metrics-a"]),
            ),
            (
                with("/tenant_id/project_id", json!(0.0)),
                json!("metrics-a metrics-b"),
            ),
            (
                with("/tenant_id/project_id", json!(-0.0)),
                json!(["metrics-a"]),
            ),
            (
                with("/extra_labels/tenant", json!("team-b")),
                json!(["metrics-b"]),
            ),
            (
                with("/tenant_id/account_id", json!(8)),
                json!(["metrics-b"]),
            ),
            (json!(access.to_string()), json!("metrics-a")),
            (mode(json!(1)), json!([])),
            (mode(json!(1.0)), json!(null)),
            (mode(json!(2)), json!(["metrics-a", {"x": 1}])),
            (
                json!({"tenant_id": {"account_id": 7, "project_id": 3}}),
                json!(["metrics-a", "metrics-a"]),
            ),
            (json!({}), json!(7)),
            (
                json!({"metrics_account_id": 7, "metrics_extra_labels": ["tenant=team-a"]}),
                groups.clone(),
            ),
            (
                json!({"metrics_account_id": 7.0, "metrics_extra_labels": ["tenant=team-a"]}),
                groups.clone(),
            ),
            (
                json!({"metrics_account_id": 7, "metrics_project_id": 3,
                       "metrics_extra_labels": ["tenant=team-b"]}),
                groups.clone(),
            ),
            (json!(null), groups.clone()),
            (Value::Null, Value::Null),
        ]
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let key = SigningKey::random(&mut rand::thread_rng());
            let point = key.verifying_key().to_encoded_point(false);
            let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k",
                "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}]});
            let claims = json!({
                "iss": ISSUER, "exp": NOW + 600, "sub": "alice",
                "vm_access": {"tenant_id": {"account_id": 7, "project_id": 3},
                              "extra_labels": {"tenant": "team-a"},
                              "extra_filters": ["{env=\"prod\"}"]},
                "groups": ["metrics-a", "metrics-b"],
            });
            let sign = |claims: &Value| {
                let input = format!(
                    "{}.{}",
                    b64(json!({"alg": "ES256", "kid": "k"}).to_string().as_bytes()),
                    b64(claims.to_string().as_bytes())
                );
                let signature: Signature = key.sign(input.as_bytes());
                format!("{input}.{}", b64(&signature.to_vec()))
            };
            let token = sign(&claims);
            let values = tenancy_claims();
            let claim_tokens = values
                .iter()
                .enumerate()
                .map(|(index, (access, groups))| {
                    [0, 1].map(|copy| {
                        let mut claims = json!({"iss": ISSUER, "exp": NOW + 600,
                                                "sub": format!("user-{index}-{copy}"),
                                                "azp": if index % 2 == 0 { "grafana" } else { "cli" },
                                                "resource_access": {"grafana": {"roles": ["viewer"]}},
                                                "name": "A User", "email_verified": true});
                        if index % 3 != 0 {
                            claims["email"] = json!(format!("user-{index}@example.com"));
                        }
                        // The last entry has none of the claims.
                        if index + 1 < values.len() {
                            claims["vm_access"] = access.clone();
                            claims["realm"] = json!({"access": access});
                            claims["groups"] = groups.clone();
                        }
                        sign(&claims)
                    })
                })
                .collect();
            let config_with = |tenancy: Value, rules: Value, identity_headers: Value| {
                let mut provider = json!({"name": "idp", "issuer": ISSUER, "discovery": {"cluster": "idp"}});
                if let (Some(provider), Value::Object(rules)) = (provider.as_object_mut(), rules) {
                    provider.extend(rules);
                }
                let document = json!({
                    "providers": [provider],
                    "tenancy": tenancy,
                    "identity_headers": identity_headers,
                    "token_sources": [{"authorization_bearer": {}}, {"basic_password": {}}],
                });
                Config::from_json(document.to_string().as_bytes()).unwrap()
            };
            let config = |tenancy: Value| {
                config_with(tenancy, json!({}),
                    json!([{"claim": "sub", "header": IDENTITY_HEADER}]))
            };
            let policies = json!({
                "a": {"tenants": ["team-a"], "scopes": ["read", "write"]},
                "b": {"tenants": ["team-b"], "scopes": ["read"], "selectors": ["{env=\"prod\"}"]},
            });
            let configs = vec![
                ("vm_single", config(json!({"backend": "vm_single"}))),
                ("vm_cluster", config(json!({"backend": "vm_cluster"}))),
                ("mimir", config(json!({"backend": "mimir", "mapping": "access_policies",
                    "claim": "groups", "pattern": "metrics-(.+)", "federation": true,
                    "policies": policies}))),
            ];
            let mut mapping_configs = configs.clone();
            mapping_configs.extend([
                ("vmauth", config(json!({"backend": "vm_cluster", "mapping": "vmauth"}))),
                ("nested_default", config(json!({"backend": "vm_single", "claim": "realm.access",
                    "default": {"extra_labels": {"tenant": "team-z"}}}))),
                ("claim_rules", config_with(json!({"backend": "vm_single"}),
                    json!({"required_claims": ["email"], "expected_claims": {"azp": "grafana"}}),
                    json!([{"claim": "sub", "header": IDENTITY_HEADER},
                           {"claim": "resource_access.grafana.roles", "header": "x-roles"}]))),
            ]);
            Fixture {
                keys: parse_jwks(jwks.to_string().as_bytes()).unwrap().set,
                token,
                claim_tokens,
                configs,
                mapping_configs,
            }
        })
    }

    fn path() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "/api/v1/query",
            "/prometheus/api/v1/query",
            "/api/v1/query_range",
            "/api/v1/series",
            "/api/v1/labels",
            "/api/v1/label/job/values",
            "/api/v1/export",
            "/federate",
            "/api/v1/write",
            "/api/v1/import/prometheus",
            "/api/v1/push",
            "/otlp/v1/metrics",
            "/prometheus/api/v1/push",
            "/select/1:0/prometheus/api/v1/query",
            "/insert/0:0/prometheus/api/v1/write",
            "/api/v1/admin/tsdb/delete_series",
            "/api/v1/metadata",
            "//api/v1/query",
            "/api/v1/./query",
            "/api/v1/%71uery",
            "/api/v1/query/",
            "/prometheus//api/v1/query",
            "/vmalert/api/v1/rules",
        ])
        .prop_map(String::from)
    }

    /// Query and form keys, enforcement ones in raw and encoded spellings.
    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "extra_label",
            "extra_filters",
            "extra_filters[]",
            "extra%5Flabel",
            "extra_filters%5B%5D",
            "%65xtra_label",
            "query",
            "match[]",
            "Extra_label",
            "x",
        ])
        .prop_map(String::from)
    }

    fn pairs() -> impl Strategy<Value = String> {
        prop::collection::vec((key(), "[a-z0-9={}\"%+]{0,8}"), 0..4).prop_map(|pairs| {
            let pairs: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join("&")
        })
    }

    /// A body and its Content-Type; whether the backend would read an
    /// enforcement argument from it.
    #[derive(Debug, Clone)]
    struct Body {
        content_type: Option<String>,
        bytes: Vec<u8>,
        carries_enforcement: bool,
    }

    fn is_enforcement(decoded: &str) -> bool {
        matches!(decoded, "extra_label" | "extra_filters" | "extra_filters[]")
    }

    fn body() -> impl Strategy<Value = Body> {
        let names = prop::collection::vec(
            prop::sample::select(vec![
                "query",
                "extra_label",
                "extra_filters",
                "extra_filters[]",
                "EXTRA_LABEL",
                "extra_label ",
                "time",
            ]),
            0..4,
        );
        prop_oneof![
            Just(Body { content_type: None, bytes: Vec::new(), carries_enforcement: false }),
            pairs().prop_map(|form| Body {
                carries_enforcement: form_urlencoded::parse(form.as_bytes())
                    .any(|(k, _)| is_enforcement(&k)),
                content_type: Some("application/x-www-form-urlencoded".into()),
                bytes: form.into_bytes(),
            }),
            (names, prop::bool::ANY).prop_map(|(names, lf_only)| {
                let newline = if lf_only { "\n" } else { "\r\n" };
                let mut bytes = String::new();
                for name in &names {
                    bytes.push_str(&format!("--zz{newline}Content-Disposition: form-data; name=\"{name}\"{newline}{newline}v{newline}"));
                }
                bytes.push_str("--zz--");
                Body {
                    carries_enforcement: names.iter().any(|n| is_enforcement(n)),
                    content_type: Some("Multipart/Form-Data; boundary=zz".into()),
                    bytes: bytes.into_bytes(),
                }
            }),
            prop::sample::select(vec!["multipart/mixed; boundary=zz", "application/json",
                                      "application/x-protobuf", "text/plain"])
                .prop_map(|content_type| Body {
                    content_type: Some(content_type.into()),
                    bytes: b"extra_label=tenant=team-b".to_vec(),
                    carries_enforcement: false,
                }),
        ]
    }

    #[derive(Debug, Clone)]
    struct Request {
        method: &'static str,
        target: String,
        tenant: Option<&'static str>,
        /// Basic auth (the tenant as the user name) instead of a bearer value.
        basic: bool,
        client_headers: Vec<(&'static str, String)>,
        body: Body,
    }

    fn request() -> impl Strategy<Value = Request> {
        let header_names = prop::sample::select(vec![
            "x-scope-orgid",
            "x-prom-label-policy",
            "accountid",
            "projectid",
            "thanos-tenant",
            IDENTITY_HEADER,
        ]);
        (
            prop::sample::select(vec!["GET", "POST", "PUT", "HEAD", "DELETE", "PATCH"]),
            path(),
            pairs(),
            prop::option::of(prop::sample::select(vec![
                "team-a",
                "team-b",
                "team-a|team-b",
                "7:3",
                "7",
                "x y",
            ])),
            prop::collection::vec((header_names, "[a-z0-9|:%{}]{1,8}"), 0..4),
            body(),
            prop::bool::ANY,
        )
            .prop_map(
                |(method, path, query, tenant, client_headers, body, basic)| Request {
                    method,
                    target: if query.is_empty() {
                        path
                    } else {
                        format!("{path}?{query}")
                    },
                    tenant,
                    basic,
                    client_headers,
                    body,
                },
            )
    }

    fn decide_on(config: &Config, request: &Request) -> Decision {
        decide_with_cache(config, request, &mut TokenCache::new(0))
    }

    fn decide_with_cache(config: &Config, request: &Request, cache: &mut TokenCache) -> Decision {
        decide_with_token(config, request, &fixture().token, cache)
    }

    fn decide_with_token(
        config: &Config,
        request: &Request,
        token: &str,
        cache: &mut TokenCache,
    ) -> Decision {
        let fixture = fixture();
        let authorization = match (request.tenant, request.basic) {
            (tenant, true) => {
                let credentials = format!("{}:{}", tenant.unwrap_or(""), token);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                )
            }
            (Some(tenant), false) => format!("Bearer {tenant}:{}", token),
            (None, false) => format!("Bearer {}", token),
        };
        let mut headers: Vec<(&str, &str)> = vec![("authorization", &authorization)];
        headers.extend(request.client_headers.iter().map(|(n, v)| (*n, v.as_str())));
        if let Some(content_type) = &request.body.content_type {
            headers.push(("content-type", content_type));
        }
        let head = RequestHead {
            method: request.method,
            target: &request.target,
            headers,
            undecodable: Vec::new(),
        };
        decide(
            config,
            &head,
            &mut StaticKeys(vec![Some(&fixture.keys)]),
            cache,
            NOW,
        )
    }

    /// The enforcement arguments of the forwarded query, as the backend
    /// decodes them.
    fn enforcement_arguments(path: &str) -> Vec<(String, String)> {
        let query = path.split_once('?').map_or("", |(_, query)| query);
        form_urlencoded::parse(query.as_bytes())
            .filter(|(key, _)| is_enforcement(key))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn set<'f>(forward: &'f Forward, name: &str) -> Vec<&'f str> {
        forward
            .set_headers
            .iter()
            .filter(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    fn check_forwarded(
        backend: &str,
        config: &Config,
        request: &Request,
        forward: &Forward,
    ) -> Result<(), TestCaseError> {
        // Every client copy the request carries is removed; the
        // authorization header always is.
        let carried = request
            .client_headers
            .iter()
            .map(|(name, _)| *name)
            .chain(["authorization"]);
        for name in carried {
            prop_assert!(
                forward.remove_headers.iter().any(|h| h == name),
                "{} kept",
                name
            );
        }
        for name in TENANT_HEADERS.iter().chain([&IDENTITY_HEADER]) {
            let sent = request.client_headers.iter().any(|(n, _)| n == name);
            let removed = forward.remove_headers.iter().any(|h| h == name);
            prop_assert!(sent || !removed, "{} removed but never sent", name);
        }
        prop_assert_eq!(set(forward, IDENTITY_HEADER), vec!["alice"]);
        let is_read = forward.path.contains("/api/v1/query")
            || forward.path.contains("/api/v1/series")
            || forward.path.contains("/api/v1/label")
            || forward.path.contains("/api/v1/export")
            || forward.path.starts_with("/federate")
            || forward.path.contains("/federate");
        let arguments = enforcement_arguments(&forward.path);
        let mut vm_expected = vec![("extra_label".to_string(), "tenant=team-a".to_string())];
        if is_read {
            vm_expected.push(("extra_filters".into(), "{env=\"prod\"}".into()));
        }
        match backend {
            "vm_single" => prop_assert_eq!(arguments, vm_expected),
            "vm_cluster" => {
                let tenant_path = if is_read {
                    "/select/7:3/prometheus/"
                } else {
                    "/insert/7:3/prometheus/"
                };
                prop_assert!(forward.path.starts_with(tenant_path), "{}", forward.path);
                prop_assert_eq!(arguments, vm_expected);
            }
            _ => {
                prop_assert!(arguments.is_empty());
                let org = set(forward, "x-scope-orgid");
                prop_assert_eq!(org.len(), 1);
                let policies: Vec<&str> = forward
                    .add_headers
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect();
                match org[0] {
                    "team-a" => prop_assert!(policies.is_empty()),
                    "team-b" | "team-a|team-b" => prop_assert_eq!(policies, vec![TEAM_B_POLICY]),
                    other => prop_assert!(false, "org id {}", other),
                }
                if org[0] != "team-a" {
                    prop_assert!(
                        forward.path.starts_with("/prometheus/api/v1/"),
                        "team-b only reads"
                    );
                }
                prop_assert_eq!(&forward.body_check, &BodyCheck::None);
            }
        }
        // VictoriaMetrics reads form bodies: each one is checked, and passes
        // only without enforcement arguments.
        if backend != "mimir" {
            let form_like = request.body.content_type.as_deref().is_some_and(|t| {
                let t = t.to_ascii_lowercase();
                t.starts_with("application/x-www-form-urlencoded") || t.starts_with("multipart/")
            });
            prop_assert_eq!(form_like, forward.body_check != BodyCheck::None);
            let verdict = check_body(config, &forward.body_check, &request.body.bytes);
            if request.body.carries_enforcement {
                prop_assert!(verdict.is_err(), "enforcement in the body passed");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn nothing_leaves_without_exactly_the_tenants_enforcement(request in request()) {
            for (backend, config) in &fixture().configs {
                if let Decision::Forward(forward) = decide_on(config, &request) {
                    check_forwarded(backend, config, &request, &forward)?;
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// The token cache remembers what a token grants: requests after
        /// the first, whatever they ask for, get what they would get
        /// without the cache.
        #[test]
        fn the_token_cache_changes_no_decision(requests in prop::collection::vec(request(), 1..6)) {
            for (_, config) in &fixture().configs {
                let mut cache = TokenCache::new(16);
                for request in &requests {
                    prop_assert_eq!(
                        decide_with_cache(config, request, &mut cache),
                        decide_on(config, request)
                    );
                }
            }
        }

        /// New tokens share the grant of an earlier token with the same
        /// tenancy claim value, each keeping its own identity; whatever the
        /// order of values alike and apart, each decision is the one made
        /// without any memory, and with every claim of the token kept.
        #[test]
        fn shared_grants_change_no_decision(
            steps in prop::collection::vec((0..tenancy_claims().len(), 0..2usize, request()), 1..24)
        ) {
            for (_, config) in &fixture().mapping_configs {
                let every_claim = config.clone().keeping_every_claim();
                let mut cache = TokenCache::new(16);
                for (claims, copy, request) in &steps {
                    let token = &fixture().claim_tokens[*claims][*copy];
                    let decision = decide_with_token(config, request, token, &mut cache);
                    prop_assert_eq!(
                        &decision,
                        &decide_with_token(config, request, token, &mut TokenCache::new(0)),
                        "claims {}", claims
                    );
                    prop_assert_eq!(
                        &decision,
                        &decide_with_token(&every_claim, request, token, &mut TokenCache::new(0)),
                        "claims {}, every claim kept", claims
                    );
                }
            }
        }
    }

    /// The generator reaches forwarded requests on every backend, so the
    /// property above is not vacuous.
    #[test]
    fn ordinary_requests_are_forwarded_on_every_backend() {
        let read = Request {
            method: "GET",
            target: "/prometheus/api/v1/query?query=up".into(),
            tenant: None,
            basic: false,
            client_headers: Vec::new(),
            body: Body {
                content_type: None,
                bytes: Vec::new(),
                carries_enforcement: false,
            },
        };
        for (backend, config) in &fixture().configs {
            let request = Request {
                tenant: (*backend == "mimir").then_some("team-b"),
                ..read.clone()
            };
            assert!(
                matches!(decide_on(config, &request), Decision::Forward(_)),
                "{backend}"
            );
        }
    }
}
