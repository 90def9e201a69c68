"""Fixtures: real VictoriaMetrics, the demo IdP and Envoy running tenantgate.

Fixture API used by the tests:
  victoria_metrics        VictoriaMetrics single-node seeded with two tenants
  idp                     demo IdP; idp.mint(claims, alg, kid, private_key_pem) signs tokens
  fresh_idp               a demo IdP of the test's own, with test controls:
                          rotate(alg) -> (kid, private_key_pem), remove(kid),
                          behave(mode, delay_s, cache_control, applies_to),
                          jwks_fetches(), discovery_fetches()
  default_plugin_config   envoy.yaml's plugin configuration, issuer = idp
  start_envoy(plugin_config, upstream_port, wait_ready=True, idp_port=None, concurrency=2) -> Envoy
                          idp_port: the IdP its demo_idp cluster reaches (default: idp)
  single_envoy            one shared Envoy in front of victoria_metrics
"""

import shutil
import sys
import time
from pathlib import Path

import pytest

# The tools are plain scripts, not a package; the tests import them directly.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import harness  # noqa: E402
from recording_upstream import RecordingUpstream  # noqa: E402

# demo_build_info gives team-b a label name ("region") team-a must never see;
# demo_canary is what tests try to delete through the proxy.
SEED_SERIES = [
    ('demo_requests_total{tenant="team-a",job="api"}', 10),
    ('demo_requests_total{tenant="team-b",job="api"}', 20),
    ('demo_up{tenant="team-a"}', 1),
    ('demo_up{tenant="team-b"}', 1),
    ('demo_build_info{tenant="team-b",region="eu"}', 1),
    ('demo_canary{tenant="team-a"}', 1),
]
# Samples a minute old: range queries only show points on their step grid,
# which a sample taken "now" would not reach until the next step passes.
SEED_AGE_SECONDS = 60


def seed_exposition():
    timestamp_ms = int((time.time() - SEED_AGE_SECONDS) * 1000)
    return "".join(f"{series} {value} {timestamp_ms}\n" for series, value in SEED_SERIES)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tenantgate-e2e")


@pytest.fixture(scope="session")
def victoria_metrics(work_dir):
    vm = harness.VictoriaMetrics(work_dir / "vm-data", work_dir / "victoria-metrics.log")
    try:
        vm.import_prometheus(seed_exposition())
        vm.wait_for_series('{__name__=~"demo_.*"}', count=len(SEED_SERIES))
        yield vm
    finally:
        vm.stop()


@pytest.fixture(scope="session")
def idp(work_dir):
    provider = harness.DemoIdp(work_dir / "idp-keys", work_dir / "demo-idp.log")
    yield provider
    provider.stop()


@pytest.fixture
def fresh_idp(work_dir, tmp_path):
    """Key state is changed by the test, so no other test may share this IdP."""
    # The keys on disk never change (rotated keys live in memory): share them.
    provider = harness.DemoIdp(work_dir / "fresh-idp-keys", tmp_path / "demo-idp.log", test_controls=True)
    yield provider
    provider.stop()


@pytest.fixture
def default_plugin_config(idp):
    return harness.plugin_config_trusting(idp.issuer)


@pytest.fixture(scope="session")
def start_envoy(work_dir, idp):
    launcher = harness.EnvoyLauncher(work_dir, idp.port)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="session")
def single_envoy(start_envoy, victoria_metrics, idp):
    return start_envoy(harness.plugin_config_trusting(idp.issuer), victoria_metrics.port)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the log of every Envoy alive during the failing phase
    and of the test's own IdP."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    launcher = funcargs.get("start_envoy")
    for envoy in launcher.started if launcher else []:
        if envoy.stopped_at is None or envoy.stopped_at >= call.start:
            report.sections.append((f"Envoy log {envoy.log_path}", harness.tail(envoy.log_path)))
    own_idp = funcargs.get("fresh_idp")
    if own_idp is not None:
        report.sections.append((f"demo IdP log {own_idp.log_path}", harness.tail(own_idp.log_path)))


@pytest.fixture(scope="module")
def upstream():
    """A backend that records what reaches it, shared by one test module."""
    with RecordingUpstream() as recording:
        yield recording


@pytest.fixture
def wasm_copy(tmp_path):
    """dist/tenantgate.wasm, copied so a concurrent rebuild cannot change it mid-test."""
    source = harness.wasm_path()
    if not source.is_file():
        pytest.fail(f"{source} not found: run `make build` first", pytrace=False)
    return Path(shutil.copy(source, tmp_path / "tenantgate.wasm"))
