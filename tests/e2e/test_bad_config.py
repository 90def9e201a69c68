"""A broken plugin configuration stops tenantgate and names the culprit."""

import copy

import pytest
import requests
from recording_upstream import RecordingUpstream

from client import call
from harness import wait_until


def without_providers(config):
    del config["providers"]


def unknown_backend(config):
    config["tenancy"]["backend"] = "nope"


def audiences_not_a_list(config):
    config["providers"][0]["audiences"] = "x"


# breakage -> the configuration field the log must name
BREAKAGES = {
    "tenancy.backend": unknown_backend,
    "providers": without_providers,
    "providers[0].audiences": audiences_not_a_list,
}


@pytest.fixture(scope="module")
def upstream():
    with RecordingUpstream() as recording:
        yield recording


def proxied_status(envoy, token):
    """Status of a valid request through the listener, None if refused outright."""
    try:
        return call(envoy.url, "GET", "/api/v1/query?query=up", token=token).status_code
    except requests.ConnectionError:
        return None


@pytest.mark.parametrize("field", sorted(BREAKAGES))
def test_broken_configuration_is_refused_and_named(start_envoy, default_plugin_config, idp, upstream, field):
    config = copy.deepcopy(default_plugin_config)
    BREAKAGES[field](config)
    envoy = start_envoy(config, upstream.port, wait_ready=False)
    try:
        if envoy.wait_ready():
            status = proxied_status(envoy, idp.mint())
            assert status is None or status >= 500, f"proxy answered {status} with a broken configuration"
        assert upstream.requests == [], "a request reached the backend"
        assert wait_until(lambda: field in envoy.log_text(), timeout=5), f"log does not name {field!r}"
    finally:
        envoy.stop()
