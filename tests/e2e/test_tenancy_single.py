"""VictoriaMetrics single-node: each token sees and writes only its tenant."""

import time

import pytest

from client import (
    FORM,
    call,
    call_raw,
    error_of,
    tenants_in_export,
    tenants_in_federate,
    tenants_in_result,
)
from harness import wait_until

TEAM_B_SELECTOR = "%7Btenant%3D%22team-b%22%7D"  # {tenant="team-b"}


def tenant_claims(tenant):
    return {"vm_access": {"extra_labels": {"tenant": tenant}}}


def query_range_path():
    now = int(time.time())
    return f"/api/v1/query_range?query=demo_requests_total&start={now - 600}&end={now}&step=15"


# name -> (path, function turning the response into the set of tenants seen)
READ_ENDPOINTS = {
    "query": (lambda: "/api/v1/query?query=demo_requests_total", lambda r: tenants_in_result(r.json())),
    "query_range": (query_range_path, lambda r: tenants_in_result(r.json())),
    "series": (lambda: "/api/v1/series?match[]=demo_up", lambda r: tenants_in_result(r.json())),
    "label_values": (lambda: "/api/v1/label/tenant/values", lambda r: set(r.json()["data"])),
    "export": (lambda: "/api/v1/export?match[]=demo_requests_total", lambda r: tenants_in_export(r.text)),
    "federate": (lambda: "/federate?match[]=demo_requests_total", lambda r: tenants_in_federate(r.text)),
}


@pytest.mark.parametrize(("tenant", "alg"), [("team-a", "RS256"), ("team-a", "ES256"), ("team-b", "RS256")])
@pytest.mark.parametrize("endpoint", sorted(READ_ENDPOINTS))
def test_reads_see_only_own_tenant(single_envoy, idp, tenant, alg, endpoint):
    path, tenants_seen = READ_ENDPOINTS[endpoint]
    response = call(single_envoy.url, "GET", path(), token=idp.mint(tenant_claims(tenant), alg=alg))
    assert response.status_code == 200, response.text
    assert tenants_seen(response) == {tenant}


@pytest.mark.parametrize(("tenant", "sees_region"), [("team-a", False), ("team-b", True)])
def test_label_names_are_scoped_to_tenant(single_envoy, idp, tenant, sees_region):
    response = call(single_envoy.url, "GET", "/api/v1/labels", token=idp.mint(tenant_claims(tenant)))
    assert response.status_code == 200, response.text
    assert "tenant" in response.json()["data"]
    assert ("region" in response.json()["data"]) is sees_region


def test_extra_filters_grant_any_of_several_selectors(single_envoy, idp):
    token = idp.mint({"vm_access": {"extra_filters": ['{tenant="team-a"}', '{tenant="team-b"}']}})
    response = call(single_envoy.url, "GET", "/api/v1/query?query=demo_requests_total", token=token)
    assert response.status_code == 200, response.text
    assert tenants_in_result(response.json()) == {"team-a", "team-b"}


def assert_team_b_hidden(response):
    """A bypass attempt may be refused or answered for team-a only.

    422 is VictoriaMetrics itself rejecting a query it cannot parse.
    """
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code == 200:
        assert tenants_in_result(response.json()) <= {"team-a"}
        assert "team-b" not in response.text


@pytest.mark.parametrize(
    "smuggled",
    [
        f"extra_filters={TEAM_B_SELECTOR}",
        f"extra_filters[]={TEAM_B_SELECTOR}",
        f"extra_filters%5B%5D={TEAM_B_SELECTOR}",
        f"extra_filters%5b%5d={TEAM_B_SELECTOR}",
        "extra_label=tenant=team-b",
        "extra_label=tenant%3Dteam-b",
        "extra%5Flabel=tenant=team-b",
        "extra%5flabel=tenant=team-b",
        "%65xtra_label=tenant=team-b",
        "&extra_label=tenant=team-b",
    ],
)
def test_smuggled_enforcement_params_are_ignored_or_refused(single_envoy, idp, smuggled):
    target = f"/api/v1/query?query=demo_requests_total&{smuggled}"
    assert_team_b_hidden(call_raw(single_envoy.url, "GET", target, token=idp.mint()))


@pytest.mark.parametrize(
    "query_string",
    [
        f"query=demo_requests_total{TEAM_B_SELECTOR}",
        f"query=demo_requests_total;extra_filters={TEAM_B_SELECTOR}",
        f"query=demo_requests_total{TEAM_B_SELECTOR}&query=demo_requests_total",
    ],
)
def test_selecting_another_tenant_in_the_query_finds_nothing(single_envoy, idp, query_string):
    response = call_raw(single_envoy.url, "GET", f"/api/v1/query?{query_string}", token=idp.mint())
    assert_team_b_hidden(response)


def test_form_encoded_query_is_scoped(single_envoy, idp):
    response = call(
        single_envoy.url, "POST", "/api/v1/query", token=idp.mint(), data={"query": "demo_requests_total"}
    )
    assert response.status_code == 200, response.text
    assert tenants_in_result(response.json()) == {"team-a"}


@pytest.mark.parametrize(
    ("content_type", "form"),
    [
        (FORM, f"query=demo_requests_total&extra_filters={TEAM_B_SELECTOR}"),
        (FORM, f"query=demo_requests_total&extra_filters%5B%5D={TEAM_B_SELECTOR}"),
        (FORM, "query=demo_requests_total&extra_label=tenant%3Dteam-b"),
        (FORM, "query=demo_requests_total&extra%5Flabel=tenant%3Dteam-b"),
        (f"{FORM}; charset=utf-8", "query=demo_requests_total&extra_label=tenant%3Dteam-b"),
        ("Application/X-WWW-Form-URLEncoded", "query=demo_requests_total&extra_label=tenant%3Dteam-b"),
    ],
)
def test_form_body_enforcement_params_are_refused(single_envoy, idp, content_type, form):
    response = call_raw(
        single_envoy.url,
        "POST",
        "/api/v1/query",
        token=idp.mint(),
        headers={"Content-Type": content_type},
        body=form.encode(),
    )
    if response.status_code == 400:
        assert error_of(response)["errorType"] == "bad_data"
    assert_team_b_hidden(response)


def stored_tenants(victoria_metrics, metric):
    """Tenants of `metric` as stored, read from VictoriaMetrics directly."""
    victoria_metrics.flush()
    series = wait_until(lambda: victoria_metrics.query(metric), timeout=10, interval=0.2)
    assert series, f"{metric} was not stored"
    return {s["metric"].get("tenant") for s in series}


def test_write_is_labelled_with_token_tenant(single_envoy, idp, victoria_metrics):
    body = b'demo_written{tenant="team-b"} 5\n'
    response = call(single_envoy.url, "POST", "/api/v1/import/prometheus", token=idp.mint(), data=body)
    assert response.status_code == 204, response.text
    assert stored_tenants(victoria_metrics, "demo_written") == {"team-a"}


def test_write_with_smuggled_extra_label_keeps_token_tenant(single_envoy, idp, victoria_metrics):
    target = "/api/v1/import/prometheus?extra_label=tenant=team-b"
    body = b"demo_written_smuggled 6\n"
    response = call_raw(single_envoy.url, "POST", target, token=idp.mint(), body=body)
    assert response.status_code in (204, 400), response.text
    if response.status_code == 204:
        assert stored_tenants(victoria_metrics, "demo_written_smuggled") == {"team-a"}


def test_signing_keys_are_cached_between_requests(single_envoy, idp):
    token = idp.mint()
    call(single_envoy.url, "GET", "/api/v1/query?query=demo_up", token=token)
    before = idp.jwks_fetches()
    for _ in range(10):
        assert call(single_envoy.url, "GET", "/api/v1/query?query=demo_up", token=token).status_code == 200
    assert idp.jwks_fetches() - before <= 1
