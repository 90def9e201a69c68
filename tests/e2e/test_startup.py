"""A freshly started Envoy serves its very first request."""

import time

from client import call, tenants_in_result


def test_first_request_after_ready_waits_for_keys(start_envoy, default_plugin_config, victoria_metrics, idp):
    # Mint before starting so nothing delays the first request after /ready.
    token = idp.mint()
    envoy = start_envoy(default_plugin_config, victoria_metrics.port)
    response = call(envoy.url, "GET", "/api/v1/query?query=demo_requests_total", token=token)
    try:
        assert response.status_code == 200, response.text
        assert tenants_in_result(response.json()) == {"team-a"}
    finally:
        envoy.stop()


def test_unreachable_keys_answer_503_after_the_wait(start_envoy, default_plugin_config, victoria_metrics, idp):
    # The discovery cluster does not exist: keys can never load. Requests
    # wait key_wait_timeout_ms, then get 503 — never 401, never a hang.
    config = dict(default_plugin_config, key_wait_timeout_ms=1000)
    config["providers"] = [dict(config["providers"][0], discovery={"cluster": "no_such_cluster"})]
    envoy = start_envoy(config, victoria_metrics.port)
    try:
        started = time.monotonic()
        response = call(envoy.url, "GET", "/api/v1/query?query=demo_requests_total", token=idp.mint())
        waited = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json()["errorType"] == "unavailable"
        assert 0.9 <= waited < 4, f"waited {waited:.1f} s"
        assert "no_such_cluster" in envoy.log_text()
        # Without a token the answer does not depend on keys.
        assert call(envoy.url, "GET", "/api/v1/query?query=up").status_code == 401
    finally:
        envoy.stop()


def test_keys_from_a_jwks_url_without_discovery(start_envoy, default_plugin_config, victoria_metrics, idp):
    config = dict(default_plugin_config)
    provider = {key: value for key, value in config["providers"][0].items() if key != "discovery"}
    provider["remote_jwks"] = {"uri": f"{idp.issuer}/jwks.json", "cluster": "demo_idp", "timeout_ms": 2000}
    config["providers"] = [provider]
    discovery_before = idp.stats().get("/.well-known/openid-configuration", 0)
    envoy = start_envoy(config, victoria_metrics.port)
    try:
        for alg in ("RS256", "ES256"):
            response = call(envoy.url, "GET", "/api/v1/query?query=demo_requests_total", token=idp.mint(alg=alg))
            assert response.status_code == 200, response.text
            assert tenants_in_result(response.json()) == {"team-a"}
        assert idp.stats().get("/.well-known/openid-configuration", 0) == discovery_before
    finally:
        envoy.stop()


def test_a_cached_token_still_expires(start_envoy, default_plugin_config, victoria_metrics, idp):
    config = dict(default_plugin_config)
    config["providers"] = [dict(config["providers"][0], clock_skew_s=0)]
    envoy = start_envoy(config, victoria_metrics.port)
    try:
        token = idp.mint({"exp": int(time.time()) + 2})
        for _ in range(3):  # the second and third answers come from the verified-token cache
            assert call(envoy.url, "GET", "/api/v1/query?query=up", token=token).status_code == 200
        time.sleep(3)
        response = call(envoy.url, "GET", "/api/v1/query?query=up", token=token)
        assert response.status_code == 401, response.text
        assert 'error_description="token is expired"' in response.headers["WWW-Authenticate"]
    finally:
        envoy.stop()
