"""The demo tools and the test backends on their own, without Envoy."""

import json
import signal
import stat
import subprocess
import sys
import time

import demo_keys
import jwt
import mint_token
import pytest
import requests
from recording_upstream import RecordingUpstream

import harness
from harness import TOOLS_DIR


def served_jwks(idp):
    response = requests.get(f"{idp.issuer}/jwks.json", timeout=5)
    assert response.headers["Content-Type"] == "application/json"
    return jwt.PyJWKSet.from_dict(response.json())


def verify_with_served_keys(idp, token):
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = served_jwks(idp)[kid]
    return jwt.decode(token, jwk.key, algorithms=[jwk.algorithm_name], audience="tenantgate", issuer=idp.issuer)


def run_mint_cli(*args):
    return subprocess.run(
        [sys.executable, str(TOOLS_DIR / "mint_token.py"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_discovery_document_points_at_jwks(idp):
    response = requests.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    assert document["issuer"] == idp.issuer
    assert document["jwks_uri"] == f"{idp.issuer}/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]


def test_unknown_path_is_json_404(idp):
    response = requests.get(f"{idp.issuer}/authorize", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_jwks_publishes_both_keys_in_canonical_form(idp):
    keys = {key["kid"]: key for key in requests.get(f"{idp.issuer}/jwks.json", timeout=5).json()["keys"]}
    assert set(keys) == {"demo-rs256", "demo-es256"}
    rsa_key, ec_key = keys["demo-rs256"], keys["demo-es256"]
    assert (rsa_key["kty"], rsa_key["alg"], rsa_key["use"], rsa_key["e"]) == ("RSA", "RS256", "sig", "AQAB")
    assert (ec_key["kty"], ec_key["crv"], ec_key["alg"], ec_key["use"]) == ("EC", "P-256", "ES256", "sig")
    # base64url without padding: 32-byte coordinates are always 43 characters.
    assert len(ec_key["x"]) == len(ec_key["y"]) == 43
    assert not any("=" in value for value in (*rsa_key.values(), *ec_key.values()))


def test_key_files_are_private(idp):
    for spec in demo_keys.KEY_SPECS.values():
        mode = stat.S_IMODE((idp.keys_dir / spec.filename).stat().st_mode)
        assert mode == 0o600, f"{spec.filename} has mode {oct(mode)}"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_minted_token_verifies_against_served_jwks(idp, alg):
    token = idp.mint(alg=alg)
    assert jwt.get_unverified_header(token)["alg"] == alg
    claims = verify_with_served_keys(idp, token)
    assert claims["sub"] == "demo-user"
    assert claims["vm_access"] == {"extra_labels": {"tenant": "team-a"}}
    assert claims["exp"] - claims["iat"] == 3600


def test_stats_count_jwks_fetches(idp):
    before = idp.jwks_fetches()
    served_jwks(idp)
    served_jwks(idp)
    assert idp.jwks_fetches() == before + 2


def test_idp_exits_cleanly_on_sigterm_and_sigint(work_dir):
    for signum in (signal.SIGTERM, signal.SIGINT):
        idp = harness.DemoIdp(work_dir / "idp-signal-keys", work_dir / f"idp-signal-{signum}.log")
        idp.process.send_signal(signum)
        assert idp.process.wait(10) == 0, harness.tail(idp.log_path)


def test_mint_generates_missing_keys_that_the_idp_would_serve(tmp_path):
    keys_dir = tmp_path / "fresh"
    token = mint_token.mint_token(keys_dir=keys_dir, alg="ES256")
    jwk_set = jwt.PyJWKSet.from_dict(demo_keys.jwks(demo_keys.load_all_keys(keys_dir)))
    claims = jwt.decode(token, jwk_set["demo-es256"].key, algorithms=["ES256"], audience="tenantgate")
    assert claims["iss"] == mint_token.DEFAULT_ISSUER


def test_claims_merge_is_shallow_and_null_removes():
    claims = mint_token.build_claims(
        {"vm_access": {"extra_filters": ['{job="api"}']}, "sub": "alice", "aud": None, "team": "x"},
        issuer="https://idp.example",
        now=1000,
    )
    assert claims == {
        "iss": "https://idp.example",
        "sub": "alice",
        "iat": 1000,
        "exp": 4600,
        "vm_access": {"extra_filters": ['{job="api"}']},
        "team": "x",
    }


def test_relative_times_count_from_now():
    claims = mint_token.build_claims({"exp": "-60", "nbf": "+600", "iat": 5}, now=1000)
    assert (claims["exp"], claims["nbf"], claims["iat"]) == (940, 1600, 5)


def test_cli_prints_token_with_claims_and_kid(tmp_path):
    result = run_mint_cli(
        "--keys-dir", str(tmp_path), "--kid", "other-key", "--claims", '{"exp": "-60", "vm_access": null}'
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert jwt.get_unverified_header(token)["kid"] == "other-key"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "vm_access" not in claims
    assert abs(claims["exp"] - (time.time() - 60)) < 30


@pytest.mark.parametrize(
    ("claims", "message"),
    [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object"), ('{"exp": "soon"}', "'exp'")],
)
def test_cli_rejects_bad_claims(tmp_path, claims, message):
    result = run_mint_cli("--keys-dir", str(tmp_path), "--claims", claims)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_recording_upstream_records_requests():
    with RecordingUpstream() as upstream:
        base = f"http://127.0.0.1:{upstream.port}"
        answer = requests.get(f"{base}/select/7:3/prometheus/api/v1/query?query=up", headers={"X-Probe": "1"})
        requests.post(f"{base}/insert", data=b"payload")
        requests.post(f"{base}/chunked", data=iter([b"chunk-1 ", b"chunk-2"]))
        recorded = upstream.requests
    assert answer.json() == {"status": "success", "data": {"resultType": "vector", "result": []}}
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/select/7:3/prometheus/api/v1/query?query=up"),
        ("POST", "/insert"),
        ("POST", "/chunked"),
    ]
    assert recorded[0].header("x-probe") == "1"
    assert recorded[1].body == b"payload"
    assert recorded[2].body == b"chunk-1 chunk-2"
    assert json.loads(recorded[1].to_json())["body"] == "payload"


def test_victoria_metrics_is_seeded_with_two_tenants(victoria_metrics):
    series = victoria_metrics.query("demo_requests_total")
    values = {s["metric"]["tenant"]: s["value"][1] for s in series}
    assert values == {"team-a": "10", "team-b": "20"}
