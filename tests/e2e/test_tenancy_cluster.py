"""VictoriaMetrics cluster: the tenant goes into the path the backend sees."""

import pytest

from recording_upstream import RecordingUpstream

from client import call, call_raw, error_of
from harness import plugin_config_trusting

TENANT_7_3 = {"vm_access": {"tenant_id": {"account_id": 7, "project_id": 3}}}


@pytest.fixture(scope="module")
def cluster_envoy(start_envoy, idp, upstream):
    config = plugin_config_trusting(idp.issuer)
    config["tenancy"]["backend"] = "vm_cluster"
    envoy = start_envoy(config, upstream.port)
    yield envoy
    envoy.stop()


@pytest.fixture(autouse=True)
def fresh_recording(upstream):
    upstream.clear()


def test_read_goes_to_tenant_select_path(cluster_envoy, upstream, idp):
    response = call(cluster_envoy.url, "GET", "/api/v1/query?query=up", token=idp.mint(TENANT_7_3))
    assert response.status_code == 200, response.text
    assert upstream.only_request().path == "/select/7:3/prometheus/api/v1/query?query=up"


def test_write_goes_to_tenant_insert_path(cluster_envoy, upstream, idp):
    body = b"\x00not-really-snappy"
    response = call(cluster_envoy.url, "POST", "/api/v1/write", token=idp.mint(TENANT_7_3), data=body)
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert (forwarded.method, forwarded.path) == ("POST", "/insert/7:3/prometheus/api/v1/write")
    assert forwarded.body == body


def test_project_defaults_to_zero(cluster_envoy, upstream, idp):
    token = idp.mint({"vm_access": {"tenant_id": {"account_id": 7}}})
    response = call(cluster_envoy.url, "GET", "/api/v1/query?query=up", token=token)
    assert response.status_code == 200, response.text
    assert upstream.only_request().path == "/select/7:0/prometheus/api/v1/query?query=up"


@pytest.mark.parametrize(
    "target",
    [
        "/select/1:0/prometheus/api/v1/query?query=up",
        "/insert/1:0/prometheus/api/v1/write",
        "/select/7:3/prometheus/api/v1/query?query=up",
    ],
)
def test_client_chosen_tenant_path_is_refused(cluster_envoy, upstream, idp, target):
    response = call_raw(cluster_envoy.url, "GET", target, token=idp.mint(TENANT_7_3))
    assert response.status_code in (400, 403), response.text
    error_of(response)
    assert upstream.requests == []


def test_tenant_and_credential_headers_are_not_forwarded(cluster_envoy, upstream, idp):
    smuggled = {"AccountID": "1", "ProjectID": "0", "X-Scope-OrgID": "1:0"}
    response = call(
        cluster_envoy.url, "GET", "/api/v1/query?query=up", token=idp.mint(TENANT_7_3), headers=smuggled
    )
    assert response.status_code == 200, response.text
    forwarded = upstream.only_request()
    assert forwarded.path.startswith("/select/7:3/")
    for name in [*smuggled, "Authorization"]:
        assert forwarded.header(name) is None, f"{name} reached the backend"


def test_token_without_tenant_id_is_forbidden(cluster_envoy, upstream, idp):
    response = call(cluster_envoy.url, "GET", "/api/v1/query?query=up", token=idp.mint())
    assert response.status_code == 403, response.text
    assert error_of(response)["errorType"] == "forbidden"
    assert upstream.requests == []


def test_envoy_routes_on_the_rewritten_path(start_envoy, idp, upstream):
    # vmselect and vminsert behind their own routes: the filter's rewrite must
    # pick the route (Envoy recomputes it after the filter sets :path).
    with RecordingUpstream() as vmselect, RecordingUpstream() as vminsert:
        config = plugin_config_trusting(idp.issuer)
        config["tenancy"] = {"backend": "vm_cluster", "select_prefix": "/vmselect", "insert_prefix": "/vminsert"}
        envoy = start_envoy(
            config,
            upstream.port,
            routes=[("/vmselect/", "vmselect"), ("/vminsert/", "vminsert"), ("/", "victoriametrics")],
            clusters={"vmselect": vmselect.port, "vminsert": vminsert.port},
        )
        try:
            token = idp.mint(TENANT_7_3)
            assert call(envoy.url, "GET", "/api/v1/query?query=up", token=token).status_code == 200
            assert call(envoy.url, "POST", "/api/v1/write", token=token, data=b"x").status_code == 200
            assert [r.path for r in vmselect.requests] == ["/vmselect/7:3/prometheus/api/v1/query?query=up"]
            assert [r.path for r in vminsert.requests] == ["/vminsert/7:3/prometheus/api/v1/write"]
            assert upstream.requests == []
        finally:
            envoy.stop()
