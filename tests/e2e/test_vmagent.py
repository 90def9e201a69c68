"""Real vmagent remote-writing through the proxy with a bearer token file."""

import shutil
import time

import pytest
import requests

import harness
from harness import ManagedProcess, free_port, wait_until


class Vmagent(ManagedProcess):
    name = "vmagent"

    def __init__(self, work_dir, remote_write_url, token):
        binary = shutil.which("vmagent")
        if not binary:
            pytest.fail("vmagent not found: install the Debian package victoria-metrics", pytrace=False)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        token_file = work_dir / f"vmagent-token-{self.port}"
        token_file.write_text(token)
        super().__init__(
            [
                binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-remoteWrite.url={remote_write_url}",
                f"-remoteWrite.bearerTokenFile={token_file}",
                f"-remoteWrite.tmpDataPath={work_dir / f'vmagent-data-{self.port}'}",
                "-remoteWrite.flushInterval=200ms",
                "-loggerLevel=INFO",
            ],
            work_dir / f"vmagent-{self.port}.log",
        )
        self.wait_for_url(f"{self.url}/health", timeout=20)

    def push(self, exposition):
        """Samples handed to vmagent, which forwards them by remote write."""
        response = requests.post(f"{self.url}/api/v1/import/prometheus", data=exposition.encode(), timeout=5)
        response.raise_for_status()


def sample(metric, tenant):
    timestamp_ms = int((time.time() - 30) * 1000)
    return f'{metric}{{tenant="{tenant}",job="agent"}} 1 {timestamp_ms}\n'


def stored_tenants(victoria_metrics, metric):
    victoria_metrics.flush()
    return {series["metric"].get("tenant") for series in victoria_metrics.query(metric)}


def test_vmagent_writes_land_in_the_token_tenant(work_dir, single_envoy, idp, victoria_metrics):
    agent = Vmagent(work_dir, f"{single_envoy.url}/api/v1/write", idp.mint())
    try:
        agent.push(sample("vmagent_probe_written", "team-b"))
        landed = wait_until(lambda: stored_tenants(victoria_metrics, "vmagent_probe_written"), timeout=15, interval=0.5)
        assert landed == {"team-a"}, f"stored under {landed}; vmagent log:\n{harness.tail(agent.log_path)}"
    finally:
        agent.stop()


def test_vmagent_with_a_read_only_token_is_refused(work_dir, single_envoy, idp, victoria_metrics):
    read_only = idp.mint({"vm_access": {"extra_labels": {"tenant": "team-a"}, "mode": 1}})
    agent = Vmagent(work_dir, f"{single_envoy.url}/api/v1/write", read_only)
    try:
        agent.push(sample("vmagent_probe_refused", "team-a"))
        refused = wait_until(lambda: "403" in agent.log_text(), timeout=15, interval=0.5)
        assert refused, f"vmagent never saw a 403; log:\n{harness.tail(agent.log_path)}"
        assert stored_tenants(victoria_metrics, "vmagent_probe_refused") == set()
    finally:
        agent.stop()
