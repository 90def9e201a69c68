"""The deployment examples in deploy/: their plugin configurations pass the
filter's own parser, and their Envoy parts are what Envoy accepts."""

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from harness import REPO_ROOT, wasm_filter_config

DEPLOY_DIR = REPO_ROOT / "deploy"
ISTIO_EXAMPLE = DEPLOY_DIR / "istio-wasmplugin.yaml"
GATEWAY_EXAMPLE = DEPLOY_DIR / "envoy-gateway-extension-policy.yaml"
ENVOY_EXAMPLE = DEPLOY_DIR / "envoy-remote-oidc.yaml"
TLS_SOCKET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"


def documents(path):
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def only_document(path, kind):
    found = [document for document in documents(path) if document["kind"] == kind]
    assert len(found) == 1, f"{path.name}: expected one {kind}, found {len(found)}"
    return found[0]


def istio_plugin_config():
    # Istio serialises pluginConfig to JSON for the plugin.
    return json.dumps(only_document(ISTIO_EXAMPLE, "WasmPlugin")["spec"]["pluginConfig"])


def gateway_plugin_config():
    # Envoy Gateway passes wasm[].config to the plugin as a JSON string.
    (wasm,) = only_document(GATEWAY_EXAMPLE, "EnvoyExtensionPolicy")["spec"]["wasm"]
    return json.dumps(wasm["config"])


def envoy_plugin_config():
    # The StringValue Envoy hands over, byte for byte.
    return wasm_filter_config(yaml.safe_load(ENVOY_EXAMPLE.read_text()))["configuration"]["value"]


PLUGIN_CONFIGS = {
    "istio": istio_plugin_config,
    "envoy-gateway": gateway_plugin_config,
    "envoy": envoy_plugin_config,
}


def provider_fetch_targets(plugin_config):
    """(cluster, URL) of every fetch the plugin makes for its providers."""
    targets = []
    for provider in json.loads(plugin_config)["providers"]:
        if "discovery" in provider:
            discovery = provider["discovery"]
            url = discovery.get("uri", provider["issuer"].rstrip("/") + "/.well-known/openid-configuration")
            targets.append((discovery["cluster"], url))
        else:
            targets.append((provider["remote_jwks"]["cluster"], provider["remote_jwks"]["uri"]))
    return targets


@pytest.fixture(scope="module")
def check_config():
    """Runs tenantgate-check-config, the filter's own configuration parser."""
    build = subprocess.run(
        ["cargo", "build", "--quiet", "--bin", "tenantgate-check-config"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"cargo build --bin tenantgate-check-config failed:\n{build.stderr}"
    binary = REPO_ROOT / "target" / "debug" / "tenantgate-check-config"

    def run(path):
        return subprocess.run([str(binary), str(path)], capture_output=True, text=True, timeout=30)

    return run


@pytest.fixture
def envoy_validate(tmp_path):
    """Runs `envoy --mode validate` on a bootstrap document."""
    envoy = Path(sys.executable).with_name("envoy")
    if not envoy.is_file():
        pytest.fail(f"Envoy not found at {envoy}: run `make deps-python`", pytrace=False)

    def run(bootstrap, name="bootstrap.yaml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(bootstrap))
        return subprocess.run(
            [str(envoy), "--mode", "validate", "-c", str(path), "--log-level", "error"],
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def assert_tls_cluster_for(cluster, host):
    """`cluster` connects to `host`:443 over TLS with SNI and checks the name."""
    (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = endpoint["endpoint"]["address"]["socket_address"]
    assert (address["address"], address["port_value"]) == (host, 443)
    socket = cluster["transport_socket"]
    assert socket["name"] == "envoy.transport_sockets.tls"
    tls = socket["typed_config"]
    assert tls["@type"] == TLS_SOCKET_TYPE
    assert tls["sni"] == host
    validation = tls["common_tls_context"]["validation_context"]
    assert validation["trusted_ca"]["filename"]
    assert {"san_type": "DNS", "matcher": {"exact": host}} in validation["match_typed_subject_alt_names"]


@pytest.mark.parametrize("example", sorted(PLUGIN_CONFIGS))
def test_plugin_configuration_passes_the_filters_parser(check_config, tmp_path, example):
    path = tmp_path / f"{example}.json"
    path.write_text(PLUGIN_CONFIGS[example]())
    result = check_config(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{path}: ok"


def test_parser_check_is_not_vacuous(check_config, tmp_path):
    broken = json.loads(istio_plugin_config())
    broken["tenancy"]["backend"] = "nope"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = check_config(path)
    assert result.returncode != 0
    assert f"{path}: invalid configuration: tenancy.backend" in result.stdout


@pytest.mark.parametrize("example", sorted(PLUGIN_CONFIGS))
def test_providers_are_fetched_over_https(example):
    for _cluster, url in provider_fetch_targets(PLUGIN_CONFIGS[example]()):
        assert urlsplit(url).scheme == "https", url


def test_istio_plugin_runs_first_and_fails_closed():
    spec = only_document(ISTIO_EXAMPLE, "WasmPlugin")["spec"]
    assert spec["phase"] == "AUTHN"
    assert spec["failStrategy"] == "FAIL_CLOSE"
    assert spec["selector"]["matchLabels"]
    assert spec["url"].startswith("oci://")
    assert spec["sha256"]
    assert isinstance(spec["pluginConfig"], dict)


def test_istio_provider_cluster_is_the_service_entry_with_tls_origination():
    service_entry = only_document(ISTIO_EXAMPLE, "ServiceEntry")["spec"]
    destination_rule = only_document(ISTIO_EXAMPLE, "DestinationRule")["spec"]
    tls_by_port = {s["port"]["number"]: s["tls"] for s in destination_rule["trafficPolicy"]["portLevelSettings"]}
    for cluster, url in provider_fetch_targets(istio_plugin_config()):
        host = urlsplit(url).hostname
        assert host in service_entry["hosts"]
        # Istio names a ServiceEntry's clusters outbound|<port>|<subset>|<host>.
        ports = {f"outbound|{port['number']}||{host}": port for port in service_entry["ports"]}
        assert cluster in ports, f"{cluster} is none of the ServiceEntry's clusters {sorted(ports)}"
        port = ports[cluster]
        assert port["targetPort"] == 443
        assert destination_rule["host"] == host
        tls = tls_by_port[port["number"]]
        assert (tls["mode"], tls["sni"]) == ("SIMPLE", host)


def test_gateway_policy_pulls_the_image_and_fails_closed():
    (wasm,) = only_document(GATEWAY_EXAMPLE, "EnvoyExtensionPolicy")["spec"]["wasm"]
    assert wasm["code"]["type"] == "Image"
    assert wasm["code"]["image"]["url"]
    assert wasm["code"]["sha256"]
    assert wasm["failOpen"] is False


def patched_cluster(patch_policy, name):
    added = [
        patch["operation"]["value"]
        for patch in patch_policy["spec"]["jsonPatches"]
        if patch["operation"]["op"] == "add" and patch["operation"]["path"] == "" and patch["name"] == name
    ]
    assert len(added) == 1, f"EnvoyPatchPolicy adds no cluster named {name!r}"
    return added[0]


def test_gateway_provider_cluster_is_added_with_tls():
    patch_policy = only_document(GATEWAY_EXAMPLE, "EnvoyPatchPolicy")
    for cluster_name, url in provider_fetch_targets(gateway_plugin_config()):
        cluster = patched_cluster(patch_policy, cluster_name)
        assert cluster["name"] == cluster_name
        assert_tls_cluster_for(cluster, urlsplit(url).hostname)


def test_gateway_provider_cluster_is_valid_for_envoy(envoy_validate):
    patch_policy = only_document(GATEWAY_EXAMPLE, "EnvoyPatchPolicy")
    clusters = [patched_cluster(patch_policy, name) for name, _url in provider_fetch_targets(gateway_plugin_config())]
    result = envoy_validate({"static_resources": {"clusters": clusters}}, "gateway-clusters.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_envoy_provider_cluster_speaks_tls_with_sni():
    bootstrap = yaml.safe_load(ENVOY_EXAMPLE.read_text())
    clusters = {cluster["name"]: cluster for cluster in bootstrap["static_resources"]["clusters"]}
    for cluster_name, url in provider_fetch_targets(envoy_plugin_config()):
        assert_tls_cluster_for(clusters[cluster_name], urlsplit(url).hostname)


def test_envoy_example_is_a_valid_bootstrap(envoy_validate, wasm_copy):
    # Validation loads the module and configures the plugin, so it needs the
    # real .wasm where the example expects /etc/envoy/tenantgate.wasm.
    bootstrap = yaml.safe_load(ENVOY_EXAMPLE.read_text())
    wasm_filter_config(bootstrap)["vm_config"]["code"]["local"]["filename"] = str(wasm_copy)
    result = envoy_validate(bootstrap, ENVOY_EXAMPLE.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
