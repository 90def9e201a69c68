"""Processes the end-to-end tests run: VictoriaMetrics, the demo IdP, Envoy."""

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
import yaml

import mint_token  # from tools/, put on sys.path by conftest.py

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / "tools"
ENVOY_YAML = REPO_ROOT / "envoy.yaml"
WASM_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"

# The ports `make run` uses: a test run must not collide with a running demo.
RESERVED_PORTS = {8080, 8428, 9000, 9901}


def free_port():
    """A loopback port nothing listens on right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def wait_until(predicate, timeout, interval=0.1):
    """Poll `predicate` until it returns a truthy value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def http_status(url):
    try:
        return requests.get(url, timeout=1).status_code
    except requests.RequestException:
        return None


def stop_process(process, grace=5):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path, lines=80):
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def start_logged_process(argv, log_path):
    with open(log_path, "wb") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


class ManagedProcess:
    """A child process whose combined output goes to a log file."""

    name = "process"

    def __init__(self, argv, log_path):
        self.log_path = Path(log_path)
        self.process = start_logged_process(argv, self.log_path)

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def exited(self):
        return self.process.poll() is not None

    def fail_with_log(self, reason):
        pytest.fail(f"{self.name} {reason}; log {self.log_path}:\n{tail(self.log_path)}", pytrace=False)

    def wait_for_url(self, url, timeout):
        """Wait for `url` to answer 200; stop the process and fail otherwise."""
        wait_until(lambda: self.exited() or http_status(url) == 200, timeout)
        if self.exited():
            self.fail_with_log(f"exited with status {self.process.returncode}")
        if http_status(url) != 200:
            self.stop()
            self.fail_with_log(f"not ready at {url} after {timeout}s")

    def stop(self):
        stop_process(self.process)


class VictoriaMetrics(ManagedProcess):
    name = "VictoriaMetrics"

    def __init__(self, data_dir, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = os.environ.get("VICTORIA_METRICS") or shutil.which("victoria-metrics")
        if not binary:
            pytest.fail("victoria-metrics not found: install it or set VICTORIA_METRICS", pytrace=False)
        super().__init__(
            [
                binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={data_dir}",
                "-search.latencyOffset=1s",
                # Tests write and then read at once; cached responses would hide new data.
                "-search.disableCache",
                "-loggerLevel=WARN",
            ],
            log_path,
        )
        self.wait_for_url(f"{self.url}/health", timeout=20)

    def import_prometheus(self, text):
        response = requests.post(f"{self.url}/api/v1/import/prometheus", data=text.encode(), timeout=5)
        response.raise_for_status()
        self.flush()

    def flush(self):
        """Make buffered samples searchable now instead of within ~10 s."""
        requests.get(f"{self.url}/internal/force_flush", timeout=5).raise_for_status()

    def query(self, expr):
        """Instant query straight to VictoriaMetrics, bypassing the proxy."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def wait_for_series(self, expr, count, timeout=15):
        found = wait_until(lambda: len(self.query(expr)) >= count, timeout, interval=0.25)
        if not found:
            pytest.fail(f"VictoriaMetrics: {expr} did not return {count} series within {timeout}s", pytrace=False)


class RotatedKey(NamedTuple):
    """A signing key the demo IdP started publishing; unpacks as (kid, pem)."""

    kid: str
    private_key_pem: str


class DemoIdp(ManagedProcess):
    """The demo IdP; with test_controls its keys and answers can be changed."""

    name = "demo IdP"

    def __init__(self, keys_dir, log_path, test_controls=False):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.keys_dir = Path(keys_dir)
        argv = [
            sys.executable,
            str(TOOLS_DIR / "demo_idp.py"),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--keys-dir",
            str(self.keys_dir),
        ]
        super().__init__(argv + (["--test-controls"] if test_controls else []), log_path)
        self.wait_for_url(f"{self.issuer}/.well-known/openid-configuration", timeout=20)

    def stats(self):
        return requests.get(f"{self.issuer}/stats", timeout=5).json()

    def jwks_fetches(self):
        return self.stats().get("/jwks.json", 0)

    def discovery_fetches(self):
        return self.stats().get("/.well-known/openid-configuration", 0)

    def mint(self, claims=None, alg="RS256", kid=None, private_key_pem=None):
        """A token issued by this IdP, signed with its demo key for `alg`
        or with `private_key_pem` (e.g. from rotate()) under `kid`."""
        return mint_token.mint_token(
            claims, alg=alg, keys_dir=self.keys_dir, issuer=self.issuer, kid=kid, private_key_pem=private_key_pem
        )

    def rotate(self, alg="RS256"):
        """Publish a new key next to the current ones; returns RotatedKey(kid, private_key_pem)."""
        answer = self._control("rotate", {"alg": alg})
        return RotatedKey(answer["kid"], answer["private_key_pem"])

    def remove(self, kid):
        """Stop publishing the key `kid`."""
        self._control("remove", {"kid": kid})

    def behave(self, mode="normal", delay_s=0, cache_control=None, applies_to="all"):
        """Set how discovery and JWKS are answered from now on (see demo_idp.py)."""
        self._control(
            "behaviour", {"mode": mode, "delay_s": delay_s, "cache_control": cache_control, "applies_to": applies_to}
        )

    def _control(self, action, document):
        response = requests.post(f"{self.issuer}/control/{action}", json=document, timeout=10)
        assert response.status_code == 200, f"demo IdP /control/{action}: {response.status_code} {response.text}"
        return response.json()


def wasm_path():
    return Path(os.environ.get("TENANTGATE_WASM", REPO_ROOT / "dist" / "tenantgate.wasm")).resolve()


def load_envoy_yaml():
    return yaml.safe_load(ENVOY_YAML.read_text())


def _single(items, what):
    assert len(items) == 1, f"envoy.yaml: expected exactly one {what}, found {len(items)}"
    return items[0]


def _cluster(config, name):
    clusters = [c for c in config["static_resources"]["clusters"] if c["name"] == name]
    return _single(clusters, f"cluster named {name!r}")


def _socket_address(holder):
    return holder["address"]["socket_address"]


def _set_cluster_port(config, name, port):
    cluster = _cluster(config, name)
    endpoint = _single(cluster["load_assignment"]["endpoints"][0]["lb_endpoints"], f"endpoint of {name}")
    _socket_address(endpoint["endpoint"])["port_value"] = port


def wasm_filter_config(config):
    """The `config` block of the tenantgate Wasm HTTP filter in an envoy.yaml."""
    listener = _single(config["static_resources"]["listeners"], "listener")
    wasm_filters = [
        http_filter["typed_config"]["config"]
        for network_filter in listener["filter_chains"][0]["filters"]
        for http_filter in network_filter.get("typed_config", {}).get("http_filters", [])
        if http_filter.get("typed_config", {}).get("@type") == WASM_FILTER_TYPE
    ]
    return _single(wasm_filters, "Wasm HTTP filter")


def plugin_config_trusting(issuer):
    """envoy.yaml's plugin configuration with its providers pointed at `issuer`."""
    config = json.loads(wasm_filter_config(load_envoy_yaml())["configuration"]["value"])
    for provider in config["providers"]:
        provider["issuer"] = issuer
    return config


def _static_cluster(name, port):
    address = {"socket_address": {"address": "127.0.0.1", "port_value": port}}
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}]},
    }


def _route_to_clusters(config, routes, clusters):
    """Replaces the single route with `routes` (prefix -> cluster) and adds `clusters` (name -> port)."""
    listener = _single(config["static_resources"]["listeners"], "listener")
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    manager["route_config"]["virtual_hosts"][0]["routes"] = [
        {"match": {"prefix": prefix}, "route": {"cluster": cluster}} for prefix, cluster in routes
    ]
    config["static_resources"]["clusters"] += [_static_cluster(name, port) for name, port in clusters.items()]


def patched_envoy_config(plugin_config, ports, wasm, routes=None, clusters=None):
    """The repository's envoy.yaml moved onto test ports with `plugin_config`."""
    config = copy.deepcopy(load_envoy_yaml())
    if routes:
        _route_to_clusters(config, routes, clusters or {})
    _socket_address(config["admin"])["port_value"] = ports["admin"]
    _socket_address(_single(config["static_resources"]["listeners"], "listener"))["port_value"] = ports["listener"]
    _set_cluster_port(config, "victoriametrics", ports["upstream"])
    _set_cluster_port(config, "demo_idp", ports["idp"])
    filter_config = wasm_filter_config(config)
    filter_config["vm_config"]["code"]["local"]["filename"] = str(wasm)
    filter_config["configuration"]["value"] = json.dumps(plugin_config)
    return config


class Envoy(ManagedProcess):
    name = "Envoy"

    def __init__(self, config_path, log_path, ports, concurrency=2):
        self.port = ports["listener"]
        self.admin_port = ports["admin"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.started_at = time.time()
        self.stopped_at = None
        envoy = Path(sys.executable).with_name("envoy")
        super().__init__(
            [
                str(envoy),
                "-c",
                str(config_path),
                "--concurrency",
                str(concurrency),
                "--disable-hot-restart",
                "--log-level",
                "warn",
                # The filter's info lines (keys loaded) explain a failing test.
                "--component-log-level",
                "wasm:info",
            ],
            log_path,
        )

    def wait_ready(self, timeout=20):
        """True once /ready answers 200; False if Envoy exits or time runs out first."""
        ready = wait_until(lambda: self.exited() or http_status(f"{self.admin_url}/ready") == 200, timeout)
        return bool(ready) and not self.exited()

    def stop(self):
        super().stop()
        if self.stopped_at is None:
            self.stopped_at = time.time()


class EnvoyLauncher:
    """Starts Envoys with the repository's envoy.yaml patched for a test."""

    def __init__(self, work_dir, idp_port):
        self.work_dir = Path(work_dir)
        self.idp_port = idp_port
        self.started = []

    def __call__(
        self, plugin_config, upstream_port, wait_ready=True, idp_port=None, concurrency=2, routes=None, clusters=None
    ):
        """Start an Envoy; `idp_port` points its demo_idp cluster at another IdP;
        `routes` ((prefix, cluster) pairs) and `clusters` (name -> port) replace its routing."""
        wasm = wasm_path()
        if not wasm.is_file():
            pytest.fail(
                f"tenantgate wasm not found at {wasm}: run `make build` first, or set TENANTGATE_WASM",
                pytrace=False,
            )
        index = len(self.started) + 1
        ports = {
            "admin": free_port(),
            "listener": free_port(),
            "upstream": upstream_port,
            "idp": idp_port or self.idp_port,
        }
        config_path = self.work_dir / f"envoy-{index}.yaml"
        config_path.write_text(yaml.safe_dump(patched_envoy_config(plugin_config, ports, wasm, routes, clusters)))
        envoy = Envoy(config_path, self.work_dir / f"envoy-{index}.log", ports, concurrency=concurrency)
        self.started.append(envoy)
        if wait_ready and not envoy.wait_ready():
            reason = f"exited with status {envoy.process.returncode}" if envoy.exited() else "never became ready"
            envoy.stop()
            envoy.fail_with_log(f"{reason} (config {config_path})")
        return envoy

    def stop_all(self):
        for envoy in self.started:
            envoy.stop()
