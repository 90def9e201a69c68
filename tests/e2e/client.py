"""HTTP helpers for talking to tenantgate and reading metrics API answers."""

import http.client
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

FORM = "application/x-www-form-urlencoded"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def call(base_url, method, path, token=None, headers=None, **kwargs):
    """A request through `requests`; `path` may carry a query string."""
    all_headers = {**(bearer(token) if token else {}), **(headers or {})}
    return requests.request(method, f"{base_url}{path}", headers=all_headers, timeout=5, **kwargs)


@dataclass
class RawResponse:
    status_code: int
    headers: http.client.HTTPMessage  # case-insensitive like requests' headers
    text: str

    def json(self):
        return json.loads(self.text)


def call_raw(base_url, method, target, token=None, headers=None, body=None):
    """Send `target` byte for byte: requests would re-encode `[`, `{`, `%5F`...

    Bypass attempts depend on exactly how a key is spelled on the wire.
    """
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    try:
        all_headers = {**(bearer(token) if token else {}), **(headers or {})}
        connection.request(method, target, body=body, headers=all_headers)
        response = connection.getresponse()
        return RawResponse(response.status, response.headers, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def tenants_in_result(body):
    """Tenant label values in a query, query_range or series answer."""
    data = body["data"]
    if isinstance(data, dict):  # query and query_range
        return {series["metric"].get("tenant") for series in data["result"]}
    return {series.get("tenant") for series in data}  # series


def tenants_in_export(text):
    return {line["metric"].get("tenant") for line in json_lines(text)}


def tenants_in_federate(text):
    """Tenant label values in Prometheus text exposition."""
    tenants = set()
    for line in text.splitlines():
        if line.startswith("#") or "tenant=\"" not in line:
            continue
        tenants.add(line.split('tenant="', 1)[1].split('"', 1)[0])
    return tenants


def error_of(response):
    """The Prometheus-style error body every refusal carries."""
    body = response.json()
    assert body["status"] == "error", body
    assert isinstance(body["error"], str) and body["error"], body
    return body
