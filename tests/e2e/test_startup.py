"""A freshly started Envoy serves its very first request."""

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
