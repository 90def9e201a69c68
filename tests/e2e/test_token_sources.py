"""Tokens from every configured source, in the real Envoy; none of them
reaches the backend, and a request with two tokens is refused."""

import base64

import pytest

from client import call, error_of

SOURCES = [
    {"authorization_bearer": {}},
    {"basic_password": {}},
    {"header": {"name": "X-JWT-Assertion"}},
    {"query": {"name": "auth_token"}},
    {"cookie": {"name": "jwt"}},
]


@pytest.fixture(scope="module")
def gateway(start_envoy, idp, upstream):
    from harness import plugin_config_trusting

    config = plugin_config_trusting(idp.issuer)
    config["token_sources"] = SOURCES
    return start_envoy(config, upstream.port)


def basic(token):
    return "Basic " + base64.b64encode(f"tenant:{token}".encode()).decode()


WAYS = {
    "bearer": lambda t: ({"Authorization": f"Bearer {t}"}, ""),
    "basic": lambda t: ({"Authorization": basic(t)}, ""),
    "header": lambda t: ({"X-JWT-Assertion": t}, ""),
    "query": lambda t: ({}, f"&auth_token={t}"),
    "cookie": lambda t: ({"Cookie": f"theme=dark; jwt={t}"}, ""),
}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_token_from_each_source_is_verified_and_removed(gateway, idp, upstream, way):
    token = idp.mint()
    headers, query = WAYS[way](token)
    upstream.clear()
    response = call(gateway.url, "GET", f"/api/v1/query?query=up{query}", headers=headers)
    assert response.status_code == 200, response.text
    (forwarded,) = upstream.requests
    assert "extra_label=tenant%3Dteam-a" in forwarded.path
    everything = forwarded.path + "".join(f"{name}:{value}" for name, value in forwarded.headers)
    assert token not in everything, f"token reached the backend via {way}"
    if way == "cookie":
        assert forwarded.header("cookie") == "theme=dark"


@pytest.mark.parametrize("way", sorted(WAYS))
def test_forged_token_from_each_source_is_refused(gateway, idp, upstream, way):
    token = idp.mint()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    headers, query = WAYS[way](forged)
    upstream.clear()
    response = call(gateway.url, "GET", f"/api/v1/query?query=up{query}", headers=headers)
    assert response.status_code == 401, response.text
    assert upstream.requests == []


def test_two_tokens_are_refused(gateway, idp, upstream):
    upstream.clear()
    response = call(
        gateway.url,
        "GET",
        f"/api/v1/query?query=up&auth_token={idp.mint()}",
        headers={"X-JWT-Assertion": idp.mint()},
    )
    assert response.status_code == 400, response.text
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    assert error_of(response)["errorType"] == "bad_data"
    assert upstream.requests == []
