"""multipart/form-data bodies against real VictoriaMetrics: ordinary ones
pass and are scoped, every spelling of an enforcement field is refused."""

import pytest
import requests

from client import call, call_raw, error_of, tenants_in_result

# Filters only: a body extra_filters would add an OR branch.
FILTER_GRANT = {"vm_access": {"extra_filters": ['{tenant="team-a"}']}}
TEAM_B = '{tenant="team-b"}'


def multipart(parts, boundary="tgB0undary", newline="\r\n", preamble=""):
    """A body from (header lines, value) parts, byte for byte."""
    body = preamble
    for headers, value in parts:
        body += f"--{boundary}{newline}" + "".join(f"{h}{newline}" for h in headers) + newline + value + newline
    return (body + f"--{boundary}--{newline}").encode()


def field(name, value, quoted=True):
    disposition = f'form-data; name="{name}"' if quoted else f"form-data; name={name}"
    return ([f"Content-Disposition: {disposition}"], value)


def post(envoy, token, body, boundary="tgB0undary"):
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return call_raw(envoy.url, "POST", "/api/v1/query", token=token, headers=headers, body=body)


def test_victoria_metrics_itself_reads_enforcement_from_multipart_bodies(victoria_metrics):
    """The control: without the gateway, a multipart extra_filters widens a query."""
    body = multipart([field("query", "demo_requests_total"), field("extra_filters", TEAM_B)])
    response = requests.post(
        f"{victoria_metrics.url}/api/v1/query",
        params={"extra_filters": '{tenant="team-a"}'},
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=tgB0undary"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert tenants_in_result(response.json()) == {"team-a", "team-b"}


def test_ordinary_multipart_queries_pass_scoped(single_envoy, idp):
    token = idp.mint(FILTER_GRANT)
    # As `requests` (and curl -F) write them.
    response = call(single_envoy.url, "POST", "/api/v1/query", token=token, files={"query": (None, "demo_requests_total")})
    assert response.status_code == 200, response.text
    assert tenants_in_result(response.json()) == {"team-a"}
    body = multipart([field("query", "demo_requests_total"), field("time", "")])
    response = post(single_envoy, token, body)
    assert response.status_code == 200, response.text
    assert tenants_in_result(response.json()) == {"team-a"}


BYPASSES = {
    "extra_filters": multipart([field("query", "demo_requests_total"), field("extra_filters", TEAM_B)]),
    "extra_filters[]": multipart([field("query", "demo_requests_total"), field("extra_filters[]", TEAM_B)]),
    "extra_label": multipart([field("query", "demo_requests_total"), field("extra_label", "tenant=team-b")]),
    "unquoted name": multipart([field("query", "demo_requests_total"), field("extra_filters", TEAM_B, quoted=False)]),
    "header case": multipart(
        [field("query", "demo_requests_total"), (["content-disposition: FORM-DATA; NAME=\"extra_filters\""], TEAM_B)]
    ),
    "RFC 2231 name": multipart(
        [field("query", "demo_requests_total"), (["Content-Disposition: form-data; name*=utf-8''extra%5Ffilters"], TEAM_B)]
    ),
    "LF line ends": multipart([field("query", "demo_requests_total"), field("extra_filters", TEAM_B)], newline="\n"),
    "preamble": multipart([field("query", "demo_requests_total"), field("extra_filters", TEAM_B)], preamble="x\r\n"),
    "two dispositions": multipart(
        [
            field("query", "demo_requests_total"),
            (['Content-Disposition: form-data; name="time"', 'Content-Disposition: form-data; name="extra_filters"'], TEAM_B),
        ]
    ),
    "folded header": multipart(
        [field("query", "demo_requests_total"), (["Content-Disposition: form-data;", ' name="extra_filters"'], TEAM_B)]
    ),
    "padding after boundary": multipart([field("query", "demo_requests_total"), field("extra_filters", TEAM_B)]).replace(
        b"--tgB0undary\r\nContent-Disposition: form-data; name=\"extra",
        b"--tgB0undary \r\nContent-Disposition: form-data; name=\"extra",
    ),
}


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_multipart_bypass_attempts_are_refused(single_envoy, idp, name):
    response = post(single_envoy, idp.mint(FILTER_GRANT), BYPASSES[name])
    assert response.status_code == 400, response.text
    assert error_of(response)["errorType"] == "bad_data"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=a; boundary=tgB0undary", "multipart/form-data", 'multipart/form-data; boundary="a\\b"'],
)
def test_ambiguous_boundaries_are_refused(single_envoy, idp, content_type):
    body = BYPASSES["extra_filters"]
    response = call_raw(
        single_envoy.url, "POST", "/api/v1/query", token=idp.mint(FILTER_GRANT), headers={"Content-Type": content_type}, body=body
    )
    assert response.status_code == 400, response.text


def test_other_multipart_types_are_refused(single_envoy, idp):
    response = call_raw(
        single_envoy.url,
        "POST",
        "/api/v1/query",
        token=idp.mint(FILTER_GRANT),
        headers={"Content-Type": "multipart/mixed; boundary=tgB0undary"},
        body=BYPASSES["extra_filters"],
    )
    assert response.status_code == 415, response.text


def test_a_body_over_the_limit_is_refused(start_envoy, idp, victoria_metrics, default_plugin_config):
    config = {**default_plugin_config, "max_body_bytes": 512}
    envoy = start_envoy(config, victoria_metrics.port)
    try:
        body = multipart([field("query", "demo_requests_total"), field("pad", "x" * 1024)])
        assert post(envoy, idp.mint(FILTER_GRANT), body).status_code == 413
    finally:
        envoy.stop()
