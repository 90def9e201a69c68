"""Who gets in: missing, invalid and insufficient tokens, and the allow-list."""

import base64
import hashlib
import hmac
import json
import re

import demo_keys
import mint_token
import pytest
from cryptography.hazmat.primitives import serialization

from client import call, error_of

QUERY = "/api/v1/query?query=demo_requests_total"
IMPORT = "/api/v1/import/prometheus"
TEAM_A = {"extra_labels": {"tenant": "team-a"}}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(document):
    return b64url(json.dumps(document).encode())


def unsigned_token(idp):
    header = {"alg": "none", "typ": "JWT"}
    return f"{b64url_json(header)}.{b64url_json(mint_token.build_claims(issuer=idp.issuer))}."


def hmac_with_public_key_token(idp):
    """HS256 keyed with the published RSA key: the algorithm-confusion attack."""
    public_pem = demo_keys.load_or_create_key(idp.keys_dir, demo_keys.RS256).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': 'demo-rs256'})}." + b64url_json(
        mint_token.build_claims(issuer=idp.issuer)
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def foreign_key_token(idp, tmp_path_factory, alg):
    """Right kid and claims, signed by a key the IdP never published."""
    other_keys = tmp_path_factory.mktemp("foreign-keys")
    return mint_token.mint_token(alg=alg, keys_dir=other_keys, issuer=idp.issuer)


BAD_TOKENS = {
    "expired": lambda idp, _: idp.mint({"exp": "-3600", "iat": "-7200"}),
    "not-yet-valid": lambda idp, _: idp.mint({"nbf": "+3600"}),
    "foreign-rs256-signature": lambda idp, tmp: foreign_key_token(idp, tmp, "RS256"),
    "foreign-es256-signature": lambda idp, tmp: foreign_key_token(idp, tmp, "ES256"),
    "wrong-issuer": lambda idp, _: idp.mint({"iss": "http://127.0.0.1:1/other"}),
    "wrong-audience": lambda idp, _: idp.mint({"aud": "someone-else"}),
    "unknown-kid": lambda idp, _: idp.mint(kid="no-such-key"),
    "alg-none": lambda idp, _: unsigned_token(idp),
    "hs256-with-public-key": lambda idp, _: hmac_with_public_key_token(idp),
    "garbage": lambda idp, _: "this-is-not-a-jwt",
    "three-garbage-parts": lambda idp, _: "e30.e30.AAAA",
}


def assert_token_not_echoed(response, token):
    """Tokens are credentials: no part of one may come back to the caller."""
    exposed = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for part in [token, *token.split(".")]:
        if len(part) >= 8:
            assert part not in exposed


def test_no_token_is_challenged(single_envoy):
    response = call(single_envoy.url, "GET", QUERY)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="tenantgate"')
    assert "error=" not in challenge
    assert error_of(response)["errorType"] == "unauthorized"


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_invalid_token_is_rejected(single_envoy, idp, tmp_path_factory, case):
    token = BAD_TOKENS[case](idp, tmp_path_factory)
    response = call(single_envoy.url, "GET", QUERY, token=token)
    assert response.status_code == 401, response.text
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="tenantgate"')
    assert 'error="invalid_token"' in challenge
    assert re.search(r'error_description="[^"]+"', challenge), challenge
    assert error_of(response)["errorType"] == "unauthorized"
    assert_token_not_echoed(response, token)


def assert_forbidden(response, insufficient_scope):
    assert response.status_code == 403, response.text
    assert error_of(response)["errorType"] == "forbidden"
    if insufficient_scope:
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_token_without_tenancy_claim_is_forbidden(single_envoy, idp):
    response = call(single_envoy.url, "GET", QUERY, token=idp.mint({"vm_access": None}))
    assert_forbidden(response, insufficient_scope=True)


def test_read_only_token_cannot_write(single_envoy, idp):
    token = idp.mint({"vm_access": {**TEAM_A, "mode": 1}})
    response = call(single_envoy.url, "POST", IMPORT, token=token, data=b"demo_denied_write 1\n")
    assert_forbidden(response, insufficient_scope=True)
    assert call(single_envoy.url, "GET", QUERY, token=token).status_code == 200


def test_write_only_token_cannot_read(single_envoy, idp):
    token = idp.mint({"vm_access": {**TEAM_A, "mode": 2}})
    response = call(single_envoy.url, "GET", QUERY, token=token)
    assert_forbidden(response, insufficient_scope=True)
    assert call(single_envoy.url, "POST", IMPORT, token=token, data=b"demo_write_only 1\n").status_code == 204


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/status/top_queries"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/admin/tsdb/delete_series?match[]=demo_canary"),
        ("GET", "/api/v1/admin/tsdb/delete_series?match[]=demo_canary"),
        ("GET", "/flags"),
        ("GET", "/internal/force_flush"),
    ],
)
def test_endpoint_outside_allow_list_is_forbidden(single_envoy, idp, victoria_metrics, method, path):
    response = call(single_envoy.url, method, path, token=idp.mint())
    assert_forbidden(response, insufficient_scope=False)
    assert victoria_metrics.query("demo_canary"), "a series was deleted through the proxy"
