"""The table of accepted and refused tokens (tools/token_table.py) in the real
Envoy: every key form (inline JWKS, PEM, HMAC secrets), algorithm, claim rule
and token source, with tokens minted by PyJWT just now. The committed copy of
the table runs natively in tests/token_table.rs."""

import base64
import json
import re

import pytest

import token_table
from client import call_raw, error_of

CHALLENGE = re.compile(r'Bearer realm="tenantgate"(?:, error="([^"]+)", error_description="([^"]+)")?$')


@pytest.fixture(scope="module")
def table():
    return token_table.build()


@pytest.fixture(scope="module", params=["auto", "portable"])
def gateway(request, start_envoy, upstream, table):
    """Once with Envoy's own verifier where it has one, once with the
    verifiers compiled into the filter."""
    config = {**table["config"], "signature_backend": request.param}
    envoy = start_envoy(config, upstream.port)
    expected = {
        "auto": "signatures: Envoy's verify_signature for RS256/384/512 and ES256/384",
        "portable": "signatures: portable verifiers (signature_backend: portable)",
    }[request.param]
    assert expected in envoy.log_text()
    return envoy


def case_ids():
    return [case["name"] for case in json.loads(token_table.TABLE_FILE.read_text())["cases"]]


def test_committed_table_has_the_same_cases(table):
    committed = json.loads(token_table.TABLE_FILE.read_text())
    assert [(c["name"], c["expect"]) for c in committed["cases"]] == [
        (c["name"], c["expect"]) for c in table["cases"]
    ], "run `make token-table` to refresh tests/data/token-table/table.json"
    assert committed["config"] == table["config"]


@pytest.mark.parametrize("name", case_ids())
def test_case(gateway, upstream, table, name):
    (case,) = [c for c in table["cases"] if c["name"] == name]
    request, expect = case["request"], case["expect"]
    upstream.clear()
    response = call_raw(gateway.url, request["method"], request["path"], headers=dict(request["headers"]))
    assert response.status_code == expect["status"], response.text
    if expect["status"] == 200:
        (forwarded,) = upstream.requests
        assert "extra_label=tenant%3Dteam-a" in forwarded.path
        token = token_of(request)
        everything = forwarded.path + "".join(f"{n}:{v}" for n, v in forwarded.headers)
        assert token not in everything, "the token reached the backend"
        return
    assert upstream.requests == []
    challenge = CHALLENGE.match(response.headers["WWW-Authenticate"])
    assert challenge, response.headers["WWW-Authenticate"]
    assert challenge.group(1) == expect["error"]
    assert error_of(response)["error"] == expect["description"]
    if challenge.group(2) is not None:
        assert challenge.group(2) == expect["description"]
    token = token_of(request)
    if token:
        assert token not in response.text and token not in str(response.headers)


def token_of(request):
    """The token a request carries, wherever it is."""
    for name, value in request["headers"]:
        if value.startswith("Basic "):
            return base64.b64decode(value[len("Basic "):]).decode().split(":", 1)[1]
        for prefix in ("Bearer ", "bearer ", "token "):
            if value.startswith(prefix):
                return value[len(prefix):]
        if name == "x-jwt-assertion":
            return value
        if name == "cookie" and "grafana_session=" in value:
            return value.split("grafana_session=", 1)[1]
    if "auth_token=" in request["path"]:
        return request["path"].split("auth_token=", 1)[1]
    return None
