"""A broken plugin configuration stops tenantgate and names the culprit."""

import copy

import pytest

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


@pytest.mark.parametrize("field", sorted(BREAKAGES))
def test_broken_configuration_stops_envoy_and_is_named(start_envoy, default_plugin_config, upstream, field):
    config = copy.deepcopy(default_plugin_config)
    BREAKAGES[field](config)
    envoy = start_envoy(config, upstream.port, wait_ready=False)
    try:
        # The plugin refuses its configuration, so Envoy refuses to start:
        # nothing ever listens that could pass a request unchecked.
        assert wait_until(envoy.exited, timeout=20), "Envoy started with a broken configuration"
        assert upstream.requests == [], "a request reached the backend"
        log = envoy.log_text()
        assert f"invalid configuration: {field}" in log, f"log does not name {field!r}:\n{log[-2000:]}"
    finally:
        envoy.stop()
