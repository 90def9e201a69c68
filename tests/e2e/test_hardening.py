"""Requests built to slip past the filter: each is refused, and the filter
keeps serving afterwards."""

import http.client
import json
from urllib.parse import urlencode, urlsplit

import h2c
from client import FORM, call, error_of, tenants_in_result

FILTERS_ONLY_TEAM_A = {"vm_access": {"extra_filters": ['{tenant="team-a"}']}}
WIDENING_FORM = urlencode({"query": "demo_up", "extra_filters": '{tenant="team-b"}'}).encode()


def port_of(envoy):
    return urlsplit(envoy.url).port


def test_form_body_ending_in_trailers_is_still_checked(single_envoy, idp):
    token = idp.mint(FILTERS_ONLY_TEAM_A)
    headers = [("authorization", f"Bearer {token}"), ("content-type", FORM)]
    status, body = h2c.request(
        port_of(single_envoy), "POST", "/api/v1/query", headers, [WIDENING_FORM], trailers=[("x-end", "1")]
    )
    assert status == 400, body
    assert json.loads(body)["errorType"] == "bad_data"


def test_clean_form_body_ending_in_trailers_goes_through(single_envoy, idp):
    token = idp.mint(FILTERS_ONLY_TEAM_A)
    headers = [("authorization", f"Bearer {token}"), ("content-type", FORM)]
    form = urlencode({"query": "demo_up"}).encode()
    status, body = h2c.request(port_of(single_envoy), "POST", "/api/v1/query", headers, [form], trailers=[("x-end", "1")])
    assert status == 200, body
    assert tenants_in_result(json.loads(body)) == {"team-a"}


def test_content_type_disguised_with_unicode_is_refused(single_envoy, idp):
    token = idp.mint(FILTERS_ONLY_TEAM_A)
    for disguised in ["applİcation/x-www-form-urlencoded", "multİpart/form-data; boundary=x"]:
        connection = http.client.HTTPConnection("127.0.0.1", port_of(single_envoy), timeout=5)
        connection.putrequest("POST", "/api/v1/query")
        connection.putheader("Authorization", f"Bearer {token}")
        connection.putheader("Content-Type", disguised.encode("utf-8"))
        connection.putheader("Content-Length", str(len(WIDENING_FORM)))
        connection.endheaders(WIDENING_FORM)
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        assert response.status == 400, (disguised, answer)


def test_header_that_is_not_utf8_does_not_stop_the_filter(single_envoy, idp):
    for name in ["X-Anything", "Authorization", "Content-Type"]:
        connection = http.client.HTTPConnection("127.0.0.1", port_of(single_envoy), timeout=5)
        connection.putrequest("GET", "/api/v1/query?query=demo_up")
        connection.putheader(name, b"\xff\xfe")
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status in (400, 401), name
    # Still serving, and still scoping.
    response = call(single_envoy.url, "GET", "/api/v1/query?query=demo_up", token=idp.mint())
    assert response.status_code == 200, response.text
    assert tenants_in_result(response.json()) == {"team-a"}


def test_empty_label_value_in_the_claim_is_refused(single_envoy, idp):
    token = idp.mint({"vm_access": {"extra_labels": {"tenant": ""}}})
    response = call(
        single_envoy.url, "POST", "/api/v1/import/prometheus", token=token, data=b'probe{tenant="team-b"} 1\n'
    )
    assert response.status_code == 403, response.text
    assert error_of(response)["errorType"] == "forbidden"
