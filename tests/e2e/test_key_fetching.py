"""How the filter fetches keys while the identity provider changes or misbehaves.

Every Envoy test here gets an IdP of its own (fresh_idp), because each one
rotates keys, removes them or breaks the provider on purpose. Intervals are
small so that refreshes, retries and refetches happen within seconds.
"""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import demo_keys
import jwt
import pytest
import requests

import harness
from client import call, error_of, tenants_in_result

QUERY = "/api/v1/query?query=demo_requests_total"
KEY_WAIT_TIMEOUT_S = 1.5
FETCH_TIMEOUT_MS = 500
FAILED_FETCH_LOG = "provider demo: fetching keys failed"


def key_test_config(idp, fetch_timeout_ms=FETCH_TIMEOUT_MS, **provider_settings):
    """The default plugin configuration with short key timings, trusting `idp`."""
    config = harness.plugin_config_trusting(idp.issuer)
    config["key_wait_timeout_ms"] = int(KEY_WAIT_TIMEOUT_S * 1000)
    provider = config["providers"][0]
    provider["discovery"] = dict(provider["discovery"], timeout_ms=fetch_timeout_ms)
    provider.update({"cache_duration_s": 2, "kid_refetch_interval_s": 1, **provider_settings})
    return config


@pytest.fixture
def gateway(start_envoy, victoria_metrics, fresh_idp):
    """Starts an Envoy whose demo provider is fresh_idp; stops it after the test."""
    started = []

    def start(concurrency=2, fetch_timeout_ms=FETCH_TIMEOUT_MS, **provider_settings):
        config = key_test_config(fresh_idp, fetch_timeout_ms, **provider_settings)
        envoy = start_envoy(config, victoria_metrics.port, idp_port=fresh_idp.port, concurrency=concurrency)
        started.append(envoy)
        return envoy

    yield start
    for envoy in started:
        envoy.stop()


def query(envoy, token):
    return call(envoy.url, "GET", QUERY, token=token)


def assert_team_a_answer(response):
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    assert tenants_in_result(response.json()) == {"team-a"}


def assert_invalid_token(response):
    assert response.status_code == 401, f"{response.status_code} {response.text}"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def assert_unavailable(response):
    assert response.status_code == 503, f"{response.status_code} {response.text}"
    assert error_of(response)["errorType"] == "unavailable"


def timed_query(envoy, token):
    started = time.monotonic()
    response = query(envoy, token)
    return response, time.monotonic() - started


def load_keys(envoy, idp):
    """Wait until the gateway has the IdP's keys, on every worker."""
    assert_team_a_answer(query(envoy, idp.mint()))
    # Other workers pick the shared key set up on their next tick.
    time.sleep(0.5)


def poll_status(envoy, token, wanted, timeout):
    """Query until the answer has status `wanted`; returns (status, seconds taken)."""
    started = time.monotonic()
    status = harness.wait_until(lambda: query(envoy, token).status_code == wanted, timeout, interval=0.2)
    return status, time.monotonic() - started


def unpublished_key_token(idp, kid):
    """Good claims signed by a key the IdP never publishes, under `kid`."""
    pem = demo_keys.private_key_pem(demo_keys.generate_private_key("RS256")).decode()
    return idp.mint(kid=kid, private_key_pem=pem)


def concurrently(count, request):
    """Run `request()` from `count` threads released at once; returns the answers."""
    start_line = threading.Barrier(count)

    def released_request():
        start_line.wait()
        return request()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: released_request(), range(count)))


def fetch_counts(idp):
    """JWKS and discovery fetches so far, from one snapshot of the stats."""
    stats = idp.stats()
    return stats.get("/jwks.json", 0), stats.get("/.well-known/openid-configuration", 0)


# --- The test controls of the demo IdP itself ------------------------------


def published_kids(idp):
    return [key["kid"] for key in requests.get(f"{idp.issuer}/jwks.json", timeout=5).json()["keys"]]


def test_controls_are_off_unless_asked_for(idp):
    response = requests.post(f"{idp.issuer}/control/rotate", json={}, timeout=5)
    assert response.status_code == 404
    assert published_kids(idp) == ["demo-rs256", "demo-es256"]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_rotated_key_is_published_and_signs_tokens(fresh_idp, alg):
    kid, pem = fresh_idp.rotate(alg)
    assert kid == f"demo-{alg.lower()}-1"
    assert published_kids(fresh_idp) == ["demo-rs256", "demo-es256", kid]
    token = fresh_idp.mint(alg=alg, kid=kid, private_key_pem=pem)
    jwk = jwt.PyJWKSet.from_dict(requests.get(f"{fresh_idp.issuer}/jwks.json", timeout=5).json())[kid]
    claims = jwt.decode(token, jwk.key, algorithms=[alg], audience="tenantgate", issuer=fresh_idp.issuer)
    assert claims["vm_access"] == {"extra_labels": {"tenant": "team-a"}}


def test_removed_key_is_no_longer_published(fresh_idp):
    fresh_idp.remove("demo-rs256")
    assert published_kids(fresh_idp) == ["demo-es256"]
    response = requests.post(f"{fresh_idp.issuer}/control/remove", json={"kid": "demo-rs256"}, timeout=5)
    assert response.status_code == 404


def jwks_answer(idp):
    return requests.get(f"{idp.issuer}/jwks.json", timeout=5)


def test_behaviour_modes_answer_as_specified(fresh_idp):
    fresh_idp.behave("down")
    assert jwks_answer(fresh_idp).status_code == 503
    fresh_idp.behave("garbage")
    answer = jwks_answer(fresh_idp)
    assert (answer.status_code, answer.headers["Content-Type"], answer.text) == (200, "application/json", '{"keys": [')
    fresh_idp.behave("html")
    answer = jwks_answer(fresh_idp)
    assert (answer.status_code, answer.headers["Content-Type"]) == (200, "text/html")
    fresh_idp.behave("unsupported_keys")
    keys = jwks_answer(fresh_idp).json()["keys"]
    assert keys and all(key["use"] == "enc" or key["kty"] == "oct" for key in keys)
    fresh_idp.behave("duplicate_kid")
    keys = jwks_answer(fresh_idp).json()["keys"]
    duplicated = [key for key in keys if key["kid"] == "demo-rs256"]
    assert len(duplicated) == 2 and duplicated[0]["n"] != duplicated[1]["n"]


def test_behaviour_delay_cache_control_and_scope(fresh_idp):
    fresh_idp.behave("down", delay_s=0.5, cache_control="max-age=2", applies_to="jwks")
    started = time.monotonic()
    answer = jwks_answer(fresh_idp)
    assert time.monotonic() - started >= 0.5
    assert (answer.status_code, answer.headers["Cache-Control"]) == (503, "max-age=2")
    discovery = requests.get(f"{fresh_idp.issuer}/.well-known/openid-configuration", timeout=5)
    assert discovery.status_code == 200 and "Cache-Control" not in discovery.headers
    fresh_idp.behave()
    answer = jwks_answer(fresh_idp)
    assert answer.status_code == 200 and "Cache-Control" not in answer.headers


def test_bad_behaviour_is_refused(fresh_idp):
    for document in ({"mode": "sideways"}, {"delay_s": -1}, {"colour": "red"}, []):
        response = requests.post(f"{fresh_idp.issuer}/control/behaviour", json=document, timeout=5)
        assert response.status_code == 400, document


# --- The filter against a changing identity provider -----------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_rotated_key_is_accepted_on_its_first_request(gateway, fresh_idp, alg):
    # A long lifetime: only the unknown-kid refetch can bring the new key in.
    envoy = gateway(cache_duration_s=600)
    load_keys(envoy, fresh_idp)
    kid, pem = fresh_idp.rotate(alg)
    assert_team_a_answer(query(envoy, fresh_idp.mint(alg=alg, kid=kid, private_key_pem=pem)))


def assert_removed_key_stops_working(envoy, idp):
    """Removes the RS256 key at the provider: its tokens get 401 within 4 s,
    tokens of the ES256 key keep working."""
    load_keys(envoy, idp)
    removed_token, kept_token = idp.mint(alg="RS256"), idp.mint(alg="ES256")
    idp.remove("demo-rs256")
    refused, waited = poll_status(envoy, removed_token, 401, timeout=4)
    assert refused, f"token of the removed key still accepted {waited:.1f} s after removal"
    assert_invalid_token(query(envoy, removed_token))
    assert_team_a_answer(query(envoy, kept_token))


def test_removed_key_stops_working_after_a_refresh(gateway, fresh_idp):
    envoy = gateway(cache_duration_s=2)
    assert_removed_key_stops_working(envoy, fresh_idp)


def test_unreachable_provider_answers_503_then_recovers(gateway, fresh_idp):
    fresh_idp.behave("down")
    envoy = gateway()
    token = fresh_idp.mint()
    response, waited = timed_query(envoy, token)
    assert_unavailable(response)
    assert KEY_WAIT_TIMEOUT_S - 0.2 <= waited < KEY_WAIT_TIMEOUT_S + 1, f"waited {waited:.1f} s"
    assert FAILED_FETCH_LOG in envoy.log_text()
    fresh_idp.behave("normal")
    accepted, waited = poll_status(envoy, token, 200, timeout=5)
    assert accepted, f"still no keys {waited:.1f} s after the provider came back"
    assert_team_a_answer(query(envoy, token))


def test_slow_provider_answers_503_without_hanging(gateway, fresh_idp):
    fresh_idp.behave("normal", delay_s=2)  # slower than the 500 ms fetch timeout
    envoy = gateway()
    for _ in range(2):
        response, waited = timed_query(envoy, fresh_idp.mint())
        assert_unavailable(response)
        assert waited < KEY_WAIT_TIMEOUT_S + 1, f"waited {waited:.1f} s"
    assert FAILED_FETCH_LOG in envoy.log_text()


BROKEN_ANSWERS = {
    "garbage": {"mode": "garbage"},
    "html": {"mode": "html"},
    "garbage-jwks-only": {"mode": "garbage", "applies_to": "jwks"},
    "html-jwks-only": {"mode": "html", "applies_to": "jwks"},
    "unsupported_keys": {"mode": "unsupported_keys"},
    "duplicate_kid": {"mode": "duplicate_kid"},
    "down": {"mode": "down"},
    "slow": {"mode": "normal", "delay_s": 2},
}


@pytest.mark.parametrize("behaviour", BROKEN_ANSWERS.values(), ids=BROKEN_ANSWERS.keys())
def test_last_good_keys_stay_in_use_when_refresh_fails(gateway, fresh_idp, behaviour):
    envoy = gateway(cache_duration_s=2)
    load_keys(envoy, fresh_idp)
    tokens = [fresh_idp.mint(alg="RS256"), fresh_idp.mint(alg="ES256")]
    fresh_idp.behave(**behaviour)
    # Twice the key lifetime: refreshes fail and the keys outlive their lifetime.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        for token in tokens:
            assert_team_a_answer(query(envoy, token))
        time.sleep(0.2)
    assert FAILED_FETCH_LOG in envoy.log_text()


def test_concurrent_unknown_kids_cause_one_fetch(gateway, fresh_idp):
    interval_s = 5
    envoy = gateway(concurrency=4, cache_duration_s=600, kid_refetch_interval_s=interval_s)
    load_keys(envoy, fresh_idp)

    jwks_before, discovery_before = fetch_counts(fresh_idp)
    unknown = unpublished_key_token(fresh_idp, kid="demo-never-published")
    refetch_started = time.monotonic()
    answers = concurrently(100, lambda: query(envoy, unknown))
    assert [a.status_code for a in answers] == [401] * 100
    jwks_after, discovery_after = fetch_counts(fresh_idp)
    assert jwks_after - jwks_before == 1, f"{jwks_after - jwks_before} JWKS fetches for 100 unknown-kid requests"
    assert discovery_after - discovery_before <= 1

    # The next unknown-kid refetch is allowed once the interval has passed.
    time.sleep(max(0, refetch_started + interval_s + 0.5 - time.monotonic()))
    kid, pem = fresh_idp.rotate()
    rotated = fresh_idp.mint(kid=kid, private_key_pem=pem)
    jwks_before, discovery_before = fetch_counts(fresh_idp)
    answers = concurrently(100, lambda: query(envoy, rotated))
    assert [a.status_code for a in answers] == [200] * 100
    jwks_after, discovery_after = fetch_counts(fresh_idp)
    assert jwks_after - jwks_before == 1, f"{jwks_after - jwks_before} JWKS fetches for 100 new-kid requests"
    assert discovery_after - discovery_before <= 1


def test_cache_control_max_age_shortens_the_key_lifetime(gateway, fresh_idp):
    fresh_idp.behave("normal", cache_control="max-age=2")
    envoy = gateway(cache_duration_s=600)
    assert_removed_key_stops_working(envoy, fresh_idp)


def test_clients_that_leave_while_keys_load_do_not_disturb_the_gateway(gateway, fresh_idp):
    """Requests held for a refetch whose clients hang up before the keys
    come: the gateway forgets them and answers everyone else once the keys
    are in."""
    # The provider answers 0.45 s after it is asked: the leaving clients are
    # held that long, and a busy machine still has a second of the fetch
    # timeout to spare.
    envoy = gateway(fetch_timeout_ms=1500)
    load_keys(envoy, fresh_idp)
    requests.post(f"{envoy.admin_url}/logging?wasm=debug", timeout=5).raise_for_status()
    kid, pem = fresh_idp.rotate()
    fresh_idp.behave("normal", delay_s=0.45)
    token = fresh_idp.mint(kid=kid, private_key_pem=pem)
    request = f"GET {QUERY} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    leaving_clients = 3
    for _ in range(leaving_clients):
        with socket.create_connection(("127.0.0.1", envoy.port), timeout=5) as leaving:
            leaving.sendall(request)
            leaving.settimeout(0.03)
            with pytest.raises(TimeoutError):  # held: the new kid's keys are on their way
                leaving.recv(1)
    assert_team_a_answer(query(envoy, token))
    log = envoy.log_text()
    assert log.count("the client left while the request waited for keys") == leaving_clients
    assert "panicked" not in log
