"""The `mimir` backend (Mimir, Cortex, GEM) in real Envoy: what reaches the
backend is the token's tenant in X-Scope-OrgID and its label policies in
X-Prom-Label-Policy, never the client's copies."""

import base64
from urllib.parse import unquote

import pytest

from client import call, call_raw, error_of
from harness import plugin_config_trusting

POLICIES = {
    "a": {"tenants": ["team-a"], "scopes": ["read", "write"]},
    "b-prod": {"tenants": ["team-b"], "scopes": ["read"], "selectors": ['{env="prod"}', '{job=~"api|web"}']},
    "ab-write": {"tenants": ["team-a", "team-b"], "scopes": ["write"]},
}
ONLY_A = {"vm_access": None, "groups": ["metrics-a", "unrelated"]}
ONLY_B = {"vm_access": None, "groups": ["metrics-b-prod"]}
A_AND_B = {"vm_access": None, "groups": ["metrics-a", "metrics-b-prod"]}
SPOOFED = {"X-Scope-OrgID": "team-c", "X-Prom-Label-Policy": "team-b:%7B%7D", "X-WEBAUTH-EMAIL": "root@example.com"}


def mimir_config(issuer, federation=False, **extra):
    config = plugin_config_trusting(issuer)
    config["tenancy"] = {
        "backend": "mimir",
        "mapping": "access_policies",
        "claim": "groups",
        "pattern": "metrics-(.+)",
        "federation": federation,
        "policies": POLICIES,
    }
    config["identity_headers"] = [
        {"claim": "email", "header": "X-WEBAUTH-EMAIL"},
        {"claim": "profile.teams", "header": "X-Teams"},
    ]
    config.update(extra)
    return config


@pytest.fixture(scope="module")
def mimir_envoy(start_envoy, idp, upstream):
    envoy = start_envoy(mimir_config(idp.issuer), upstream.port)
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def federating_envoy(start_envoy, idp, upstream):
    sources = [{"authorization_bearer": {}}, {"basic_password": {}}]
    envoy = start_envoy(mimir_config(idp.issuer, federation=True, token_sources=sources), upstream.port)
    yield envoy
    envoy.stop()


@pytest.fixture(autouse=True)
def fresh_recording(upstream):
    upstream.clear()


def values(request, name):
    return [value for key, value in request.headers if key.lower() == name.lower()]


def test_read_carries_the_token_tenant_not_the_clients(mimir_envoy, upstream, idp):
    response = call(mimir_envoy.url, "GET", "/api/v1/query?query=up", token=idp.mint(ONLY_A), headers=SPOOFED)
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert forwarded.path == "/prometheus/api/v1/query?query=up"
    assert values(forwarded, "X-Scope-OrgID") == ["team-a"]
    assert values(forwarded, "X-Prom-Label-Policy") == [], "team-a is granted whole"
    assert values(forwarded, "X-WEBAUTH-EMAIL") == [], "the token has no email claim"
    assert forwarded.header("Authorization") is None


def test_label_policies_go_one_per_selector_in_gems_format(mimir_envoy, upstream, idp):
    response = call(
        mimir_envoy.url, "POST", "/prometheus/api/v1/series", token=idp.mint(ONLY_B), headers=SPOOFED,
        data={"match[]": "up"},
    )
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert values(forwarded, "X-Scope-OrgID") == ["team-b"]
    policies = values(forwarded, "X-Prom-Label-Policy")
    assert sorted(policies) == sorted(["team-b:%7Benv%3D%22prod%22%7D", "team-b:%7Bjob%3D~%22api%7Cweb%22%7D"])
    assert sorted(unquote(p.split(":", 1)[1]) for p in policies) == sorted(POLICIES["b-prod"]["selectors"])
    assert forwarded.body == b"match%5B%5D=up", "bodies pass unchanged"


def test_several_tenants_need_a_name_without_federation(mimir_envoy, upstream, idp):
    token = idp.mint(A_AND_B)
    response = call(mimir_envoy.url, "GET", "/api/v1/query?query=up", token=token)
    assert response.status_code == 403, response.text
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    named = call_raw(mimir_envoy.url, "GET", "/api/v1/query?query=up", headers={"Authorization": f"Bearer team-b:{token}"})
    assert named.status_code == 200, named.text
    forwarded = upstream.only_request()
    assert values(forwarded, "X-Scope-OrgID") == ["team-b"]
    assert len(values(forwarded, "X-Prom-Label-Policy")) == 2
    for tenant in ["team-c", "team-a|team-b"]:
        refused = call_raw(mimir_envoy.url, "GET", "/api/v1/query", headers={"Authorization": f"Bearer {tenant}:{token}"})
        assert refused.status_code == 403, refused.text
    assert len(upstream.requests) == 1


def test_federated_reads_when_configured(federating_envoy, upstream, idp):
    response = call(federating_envoy.url, "GET", "/api/v1/labels", token=idp.mint(A_AND_B))
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert values(forwarded, "X-Scope-OrgID") == ["team-a|team-b"]
    # team-a whole, team-b through its policies.
    assert all(p.startswith("team-b:") for p in values(forwarded, "X-Prom-Label-Policy"))
    assert len(values(forwarded, "X-Prom-Label-Policy")) == 2


def test_writes_go_to_exactly_one_tenant(federating_envoy, upstream, idp):
    body = b"\x00not-really-snappy"
    response = call(federating_envoy.url, "POST", "/api/v1/push", token=idp.mint(A_AND_B), data=body)
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert (forwarded.path, forwarded.body) == ("/api/v1/push", body)
    assert values(forwarded, "X-Scope-OrgID") == ["team-a"], "b-prod reads only; ab-write names two tenants"
    assert values(forwarded, "X-Prom-Label-Policy") == []
    upstream.clear()
    only_ab = idp.mint({"vm_access": None, "groups": ["metrics-ab-write"]})
    assert call(federating_envoy.url, "POST", "/api/v1/push", token=only_ab, data=body).status_code == 403
    assert call(federating_envoy.url, "POST", "/api/v1/push", token=idp.mint(ONLY_B), data=body).status_code == 403
    assert upstream.requests == []


def test_basic_auth_user_is_the_tenant(federating_envoy, upstream, idp):
    token = idp.mint(A_AND_B)
    basic = base64.b64encode(f"team-b:{token}".encode()).decode()
    response = call_raw(federating_envoy.url, "GET", "/api/v1/query?query=up", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.text
    assert values(upstream.only_request(), "X-Scope-OrgID") == ["team-b"]
    wrong = base64.b64encode(f"team-c:{token}".encode()).decode()
    refused = call_raw(federating_envoy.url, "GET", "/api/v1/query", headers={"Authorization": f"Basic {wrong}"})
    assert refused.status_code == 403, refused.text


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/write",
        "/prometheus/api/v1/rules",
        "/prometheus/api/v1/metadata",
        "/api/v1/user_stats",
        "/distributor/all_user_stats",
        "/ingester/flush",
        "/multitenant_alertmanager/status",
        "/compactor/delete_tenant",
        "/prometheus/config/v1/rules",
    ],
)
def test_admin_and_other_paths_are_refused(mimir_envoy, upstream, idp, target):
    response = call_raw(mimir_envoy.url, "POST", target, token=idp.mint(ONLY_A))
    assert response.status_code == 403, response.text
    error_of(response)
    assert upstream.requests == []


def test_identity_headers_carry_claims_and_refuse_injection(mimir_envoy, upstream, idp):
    claims = {**ONLY_A, "email": "alice@example.com", "profile": {"teams": ["ops", "dev", 7]}}
    response = call(mimir_envoy.url, "GET", "/api/v1/query?query=up", token=idp.mint(claims), headers=SPOOFED)
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert values(forwarded, "X-WEBAUTH-EMAIL") == ["alice@example.com"]
    assert values(forwarded, "X-Teams") == ["ops,dev,7"]
    upstream.clear()
    injected = {**ONLY_A, "email": "alice@example.com\r\nX-Scope-OrgID: team-b", "profile": {"teams": [{"x": 1}]}}
    response = call(mimir_envoy.url, "GET", "/api/v1/query?query=up", token=idp.mint(injected), headers=SPOOFED)
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert values(forwarded, "X-WEBAUTH-EMAIL") == []
    assert values(forwarded, "X-Teams") == []
    assert values(forwarded, "X-Scope-OrgID") == ["team-a"]
