"""Claim mappings against real VictoriaMetrics single-node: vmauth's
metrics_* claims, GEM-style access policies, nested claim paths and the
default grant each see exactly their tenant's series."""

import pytest

from client import call, tenants_in_result
from harness import plugin_config_trusting, wait_until

QUERY = "/api/v1/query?query=demo_requests_total"


@pytest.fixture(scope="module")
def envoy_with(start_envoy, idp, victoria_metrics):
    """Starts (once per tenancy) an Envoy with that tenancy in front of VictoriaMetrics."""
    started = {}

    def start(name, tenancy):
        if name not in started:
            config = plugin_config_trusting(idp.issuer)
            config["tenancy"] = tenancy
            started[name] = start_envoy(config, victoria_metrics.port)
        return started[name]

    yield start
    for envoy in started.values():
        envoy.stop()


def tenants_seen(envoy, token, path=QUERY):
    response = call(envoy.url, "GET", path, token=token)
    assert response.status_code == 200, response.text
    return tenants_in_result(response.json())


def test_vmauth_metrics_claims(envoy_with, idp):
    envoy = envoy_with("vmauth", {"backend": "vm_single", "mapping": "vmauth"})
    team_b = idp.mint({"vm_access": {"metrics_extra_labels": ["tenant=team-b"]}})
    assert tenants_seen(envoy, team_b) == {"team-b"}
    either = idp.mint({"vm_access": {"metrics_extra_filters": ['{tenant="team-a"}', '{tenant="team-b"}']}})
    assert tenants_seen(envoy, either) == {"team-a", "team-b"}
    # vmgateway's fields mean nothing to the vmauth mapping: no scope, 403.
    gateway_style = idp.mint({"vm_access": {"extra_labels": {"tenant": "team-b"}}})
    assert call(envoy.url, "GET", QUERY, token=gateway_style).status_code == 403


def test_nested_claim_path(envoy_with, idp):
    envoy = envoy_with(
        "nested", {"backend": "vm_single", "claim": '"https://corp.example/metrics".grants[1]'}
    )
    claims = {
        "vm_access": {"extra_labels": {"tenant": "team-a"}},
        "https://corp.example/metrics": {"grants": [{"extra_labels": {"tenant": "team-a"}},
                                                    {"extra_labels": {"tenant": "team-b"}}]},
    }
    assert tenants_seen(envoy, idp.mint(claims)) == {"team-b"}
    assert call(envoy.url, "GET", QUERY, token=idp.mint()).status_code == 403


def test_default_grant_for_tokens_without_the_claim(envoy_with, idp, victoria_metrics):
    envoy = envoy_with(
        "default", {"backend": "vm_single", "default": {"extra_labels": {"tenant": "team-b"}, "mode": 1}}
    )
    unclaimed = idp.mint({"vm_access": None})
    assert tenants_seen(envoy, unclaimed) == {"team-b"}
    assert tenants_seen(envoy, idp.mint()) == {"team-a"}, "a token's own claim wins"
    write = call(envoy.url, "POST", "/api/v1/import/prometheus", token=unclaimed, data=b"demo_default_write 1\n")
    assert write.status_code == 403, write.text


def test_access_policies_on_single_node(envoy_with, idp):
    envoy = envoy_with(
        "policies",
        {
            "backend": "vm_single",
            "mapping": "access_policies",
            "claim": "realm_access.roles",
            "pattern": "metrics:(\\w+)",
            "policies": {
                "a": {"scopes": ["read"], "selectors": ['{tenant="team-a"}']},
                "b": {"scopes": ["read"], "selectors": ['{tenant="team-b"}']},
            },
        },
    )
    def roles(*names):
        return idp.mint({"vm_access": None, "realm_access": {"roles": list(names)}})

    assert tenants_seen(envoy, roles("metrics:b", "offline_access")) == {"team-b"}
    assert tenants_seen(envoy, roles("metrics:a", "metrics:b")) == {"team-a", "team-b"}, "the union of reads"
    # Whole-value matches only, and unknown policies grant nothing.
    assert call(envoy.url, "GET", QUERY, token=roles("xmetrics:b", "metrics:c")).status_code == 403
    assert call(envoy.url, "POST", "/api/v1/import/prometheus", token=roles("metrics:a"), data=b"x 1\n").status_code == 403


def test_written_series_get_the_vmauth_labels(envoy_with, idp, victoria_metrics):
    envoy = envoy_with("vmauth", {"backend": "vm_single", "mapping": "vmauth"})
    token = idp.mint({"vm_access": {"metrics_extra_labels": ["tenant=team-b"]}})
    response = call(envoy.url, "POST", "/api/v1/import/prometheus", token=token, data=b'demo_vmauth_write{tenant="team-a"} 3\n')
    assert response.status_code == 204, response.text
    victoria_metrics.flush()
    series = wait_until(lambda: victoria_metrics.query("demo_vmauth_write"), timeout=10, interval=0.2)
    assert {s["metric"]["tenant"] for s in series} == {"team-b"}
