#!/usr/bin/env python3
"""The table of accepted and refused tokens.

Every case is a complete request (method, path, headers) with the answer the
gateway must give. Tokens are minted here with PyJWT and `cryptography`, an
implementation independent of the gateway's own verifier. The same cases run
natively against the filter's decision code (tests/token_table.rs reads the
committed tests/data/token-table/table.json) and in a real Envoy
(tests/e2e/test_token_table.py mints a fresh table at test time).

  token_table.py write     regenerate tests/data/token-table/table.json
  token_table.py keys      create the table's keys if they are missing

The keys under tests/data/token-table/ are test keys, used for nothing else.
"""

import argparse
import base64
import copy
import json
import sys
import time
import warnings
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import mint_token

ROOT = Path(__file__).resolve().parents[1]
TABLE_DIR = ROOT / "tests" / "data" / "token-table"
TABLE_FILE = TABLE_DIR / "table.json"

JWKS_ISSUER = "https://jwks.example"
PEM_ISSUER = "https://pem.example"
HMAC_ISSUER = "https://hmac.example"
AUDIENCE = "metrics"
PATH = "/api/v1/query?query=up"
MAX_TOKEN_BYTES = 8192
# A text secret of 48 bytes: long enough for HS256 and HS384, not HS512.
TEXT_SECRET = "table-secret-0123456789-abcdefghijklmnopqrstuvwx"
SKEW = 60
FAR_FUTURE = 4102444800  # 2100-01-01


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- keys -------------------------------------------------------------------

KEY_FILES = {
    "rsa": "rsa-private.pem",
    "p256": "p256-private.pem",
    "p384": "p384-private.pem",
    "ed25519": "ed25519-private.pem",
    "hmac": "hmac-secret.bin",
}


def ensure_keys(directory=TABLE_DIR):
    directory.mkdir(parents=True, exist_ok=True)
    pkcs8 = dict(encoding=serialization.Encoding.PEM,
                 format=serialization.PrivateFormat.PKCS8,
                 encryption_algorithm=serialization.NoEncryption())
    makers = {
        "rsa": lambda: rsa.generate_private_key(65537, 2048).private_bytes(**pkcs8),
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()).private_bytes(**pkcs8),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()).private_bytes(**pkcs8),
        "ed25519": lambda: ed25519.Ed25519PrivateKey.generate().private_bytes(**pkcs8),
        "hmac": lambda: __import__("os").urandom(64),
    }
    for name, file_name in KEY_FILES.items():
        path = directory / file_name
        if not path.exists():
            path.write_bytes(makers[name]())


class Keys:
    """The table's keys, and fresh attacker keys the gateway never trusts."""

    def __init__(self, directory=TABLE_DIR):
        def private(name):
            return serialization.load_pem_private_key((directory / KEY_FILES[name]).read_bytes(), None)

        self.rsa = private("rsa")
        self.p256 = private("p256")
        self.p384 = private("p384")
        self.ed25519 = private("ed25519")
        self.hmac = (directory / KEY_FILES["hmac"]).read_bytes()
        self.attacker_rsa = rsa.generate_private_key(65537, 2048)


def public_pem(key, form=serialization.PublicFormat.SubjectPublicKeyInfo):
    return key.public_key().public_bytes(serialization.Encoding.PEM, form).decode()


def private_pem(key, form):
    return key.private_bytes(serialization.Encoding.PEM, form,
                             serialization.NoEncryption()).decode()


def jwk_of(key, kid, alg=None):
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": b64url(numbers.n.to_bytes(256, "big")),
               "e": b64url(numbers.e.to_bytes(3, "big"))}
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        size = (key.curve.key_size + 7) // 8
        jwk = {"kty": "EC", "crv": {256: "P-256", 384: "P-384"}[key.curve.key_size],
               "x": b64url(numbers.x.to_bytes(size, "big")),
               "y": b64url(numbers.y.to_bytes(size, "big"))}
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    else:
        jwk = {"kty": "oct", "k": b64url(key)}
    jwk["kid"] = kid
    if alg:
        jwk["alg"] = alg
    return jwk


# --- configuration ----------------------------------------------------------

def plugin_config(keys):
    """A gateway with one provider per kind of key material and every token source."""
    pkcs1 = serialization.PublicFormat.PKCS1
    return {
        "token_sources": [
            {"authorization_bearer": {}},
            {"basic_password": {}},
            {"header": {"name": "X-JWT-Assertion"}},
            {"header": {"name": "X-Auth", "prefix": "Token "}},
            {"query": {"name": "auth_token"}},
            {"cookie": {"name": "grafana_session"}},
        ],
        "max_token_bytes": MAX_TOKEN_BYTES,
        "providers": [
            {
                "name": "jwks",
                "issuer": JWKS_ISSUER,
                "audiences": [AUDIENCE, "grafana"],
                "clock_skew_s": SKEW,
                "local_jwks": {"keys": [
                    jwk_of(keys.rsa, "rsa"),
                    jwk_of(keys.p256, "p256", "ES256"),
                    jwk_of(keys.ed25519, "ed"),
                    jwk_of(keys.hmac, "hs"),
                ]},
            },
            {
                "name": "pem",
                "issuer": PEM_ISSUER,
                "audiences": [AUDIENCE],
                "subjects": ["alice", "bob"],
                "required_claims": ["email"],
                "expected_claims": {"org": "acme"},
                "max_lifetime_s": 86400,
                "pem_keys": [
                    {"kid": "rsa-spki", "pem": public_pem(keys.rsa)},
                    {"kid": "rsa-pkcs1", "alg": "PS256", "pem": public_pem(keys.rsa, pkcs1)},
                    {"kid": "rsa-pkcs1-private",
                     "pem": private_pem(keys.rsa, serialization.PrivateFormat.TraditionalOpenSSL)},
                    {"kid": "p256-pkcs8", "pem": private_pem(keys.p256, serialization.PrivateFormat.PKCS8)},
                    {"kid": "p384-sec1",
                     "pem": private_pem(keys.p384, serialization.PrivateFormat.TraditionalOpenSSL)},
                    {"kid": "ed-spki", "pem": public_pem(keys.ed25519)},
                    {"kid": "ed-pkcs8", "pem": private_pem(keys.ed25519, serialization.PrivateFormat.PKCS8)},
                ],
            },
            {
                "name": "hmac",
                "issuer": HMAC_ISSUER,
                "algorithms": ["HS256", "HS384", "HS512"],
                "require_exp": False,
                "hmac_secrets": [
                    {"kid": "text", "secret": TEXT_SECRET},
                    {"kid": "b64", "alg": "HS512",
                     "secret_base64": base64.b64encode(keys.hmac).decode()},
                ],
            },
        ],
        "tenancy": {"backend": "vm_single"},
    }


# --- minting ----------------------------------------------------------------

def claims_for(issuer, now, **changes):
    claims = {"iss": issuer, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600,
              "email": "alice@example.com", "org": "acme",
              "vm_access": {"extra_labels": {"tenant": "team-a"}}}
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign(alg, key, claims, headers):
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def sign_with_value(alg, key, claims, headers, name, value_text):
    """A token whose claim `name` is `value_text` as written, which may be
    JSON text Python's encoder never writes (`1e400`, a lone surrogate)."""
    text = json.dumps({**claims, name: "\0"}).replace('"\\u0000"', value_text)
    return jwt.api_jws.encode(text.encode(), key, algorithm=alg, headers=headers)


def raw_token(header, claims, signature):
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                     b64url(signature)])


def hs256_with(secret, header, claims):
    """HMAC by hand: PyJWT refuses a PEM public key as an HMAC secret."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.HMAC(secret, hashes.SHA256())
    mac.update(signing_input.encode())
    return f"{signing_input}.{b64url(mac.finalize())}"


def nested(depth):
    value = "deep"
    for _ in range(depth):
        value = [value]
    return value


def der_to_raw(signature_der, size):
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    r, s = decode_dss_signature(signature_der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


# --- sending ----------------------------------------------------------------

def request(token, source="bearer"):
    headers = []
    path = PATH
    if source == "bearer":
        headers.append(["authorization", f"Bearer {token}"])
    elif source == "bearer-lowercase":
        headers.append(["authorization", f"bearer {token}"])
    elif source == "basic":
        credentials = base64.b64encode(f"team-a:{token}".encode()).decode()
        headers.append(["authorization", f"Basic {credentials}"])
    elif source == "header":
        headers.append(["x-jwt-assertion", token])
    elif source == "header-prefix":
        headers.append(["x-auth", f"token {token}"])
    elif source == "query":
        path = f"{PATH}&auth_token={token}"
    elif source == "cookie":
        headers.append(["cookie", f"theme=dark; grafana_session={token}"])
    elif source == "bearer-and-query":
        headers.append(["authorization", f"Bearer {token}"])
        path = f"{PATH}&auth_token={token}"
    elif source == "none":
        pass
    else:
        raise ValueError(f"unknown source {source}")
    return {"method": "GET", "path": path, "headers": headers}


def accepted():
    return {"status": 200}


def invalid(description):
    return {"status": 401, "error": "invalid_token", "description": description}


# --- the table --------------------------------------------------------------

def cases(keys, now):
    """(name, token or None, source, expectation)."""
    jwks = lambda **changes: claims_for(JWKS_ISSUER, now, **changes)  # noqa: E731
    pem = lambda **changes: claims_for(PEM_ISSUER, now, **changes)  # noqa: E731
    hm = lambda **changes: claims_for(HMAC_ISSUER, now, **changes)  # noqa: E731
    table = []

    def add(name, token, expect, source="bearer"):
        table.append((name, token, source, expect))

    # Every algorithm, from every kind of key material.
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        add(f"jwks {alg}", sign(alg, keys.rsa, jwks(), {"kid": "rsa"}), accepted())
    add("jwks ES256", sign("ES256", keys.p256, jwks(), {"kid": "p256"}), accepted())
    add("jwks EdDSA", sign("EdDSA", keys.ed25519, jwks(), {"kid": "ed"}), accepted())
    add("jwks HS256 oct key", sign("HS256", keys.hmac, jwks(), {"kid": "hs"}), accepted())
    add("jwks HS512 oct key", sign("HS512", keys.hmac, jwks(), {"kid": "hs"}), accepted())
    add("jwks no kid tries fitting keys", sign("ES256", keys.p256, jwks(), {}), accepted())
    add("pem PKIX RSA RS256", sign("RS256", keys.rsa, pem(), {"kid": "rsa-spki"}), accepted())
    add("pem PKCS#1 RSA PS256", sign("PS256", keys.rsa, pem(), {"kid": "rsa-pkcs1"}), accepted())
    add("pem PKCS#1 private RS512", sign("RS512", keys.rsa, pem(), {"kid": "rsa-pkcs1-private"}),
        accepted())
    add("pem PKCS#8 P-256 ES256", sign("ES256", keys.p256, pem(), {"kid": "p256-pkcs8"}), accepted())
    add("pem SEC1 P-384 ES384", sign("ES384", keys.p384, pem(), {"kid": "p384-sec1"}), accepted())
    add("pem PKIX Ed25519", sign("EdDSA", keys.ed25519, pem(), {"kid": "ed-spki"}), accepted())
    add("pem PKCS#8 Ed25519", sign("EdDSA", keys.ed25519, pem(), {"kid": "ed-pkcs8"}), accepted())
    add("hmac HS256 text secret", sign("HS256", TEXT_SECRET, hm(), {"kid": "text"}), accepted())
    add("hmac HS384 text secret", sign("HS384", TEXT_SECRET, hm(), {"kid": "text"}), accepted())
    add("hmac HS512 base64 secret", sign("HS512", keys.hmac, hm(), {"kid": "b64"}), accepted())
    add("hmac without exp when not required", sign("HS256", TEXT_SECRET, hm(exp=None), {"kid": "text"}),
        accepted())

    # Every token source.
    token = sign("RS256", keys.rsa, jwks(), {"kid": "rsa"})
    for source in ("bearer-lowercase", "basic", "header", "header-prefix", "query", "cookie"):
        add(f"source {source}", token, accepted(), source)
    add("two sources at once", token,
        {"status": 400, "error": "invalid_request",
         "description": "request carries more than one token or Authorization header"}, "bearer-and-query")
    add("no token", None, {"status": 401, "error": None,
                           "description": "bearer token required"}, "none")

    # Claims.
    add("aud any of the list", sign("RS256", keys.rsa, jwks(aud=["other", "grafana"]), {"kid": "rsa"}),
        accepted())
    add("expired within skew", sign("RS256", keys.rsa, jwks(exp=now - SKEW // 2), {"kid": "rsa"}),
        accepted())
    add("expired", sign("RS256", keys.rsa, jwks(exp=now - 2 * SKEW), {"kid": "rsa"}),
        invalid("token is expired"))
    add("no exp", sign("RS256", keys.rsa, jwks(exp=None), {"kid": "rsa"}), invalid("token has no exp claim"))
    add("exp not a number", sign("RS256", keys.rsa, jwks(exp=str(now + 600)), {"kid": "rsa"}),
        invalid("token exp claim is not a number"))
    add("nbf in the future", sign("RS256", keys.rsa, jwks(nbf=now + 10 * SKEW), {"kid": "rsa"}),
        invalid("token is not valid yet"))
    add("iat in the future", sign("RS256", keys.rsa, jwks(iat=now + 10 * SKEW), {"kid": "rsa"}),
        invalid("token iat is in the future"))
    add("lifetime too long", sign("RS256", keys.rsa, pem(exp=now + 2 * 86400), {"kid": "rsa-spki"}),
        invalid("token lifetime is longer than allowed"))
    add("unknown issuer", sign("RS256", keys.rsa, jwks(iss="https://evil.example"), {"kid": "rsa"}),
        invalid("token issuer is not trusted"))
    add("wrong audience", sign("RS256", keys.rsa, jwks(aud="billing"), {"kid": "rsa"}),
        invalid("token audience is not accepted"))
    add("subject not accepted", sign("RS256", keys.rsa, pem(sub="mallory"), {"kid": "rsa-spki"}),
        invalid("token subject is not accepted"))
    add("required claim missing", sign("RS256", keys.rsa, pem(email=None), {"kid": "rsa-spki"}),
        invalid("token lacks a required claim"))
    add("expected claim differs", sign("RS256", keys.rsa, pem(org="evil"), {"kid": "rsa-spki"}),
        invalid("token claim does not have the expected value"))
    add("claims nested too deeply", sign("RS256", keys.rsa, jwks(extra=nested(30)), {"kid": "rsa"}),
        invalid("token JSON is nested too deeply"))
    add("claims the configuration does not read",
        sign("RS256", keys.rsa, jwks(**mint_token.identity_provider_claims()), {"kid": "rsa"}), accepted())
    for name, value_text in [("number out of range", "1e400"), ("lone surrogate", '"\\ud800"'),
                             ("bad escape", '"\\x"')]:
        add(f"unread claim with a {name}",
            sign_with_value("RS256", keys.rsa, jwks(), {"kid": "rsa"}, "unread", value_text),
            invalid("token is not a well-formed JWS compact token"))
    add("token too large", sign("RS256", keys.rsa, jwks(padding="x" * MAX_TOKEN_BYTES), {"kid": "rsa"}),
        invalid("token is too large"))

    # Keys and algorithms that must not be confused.
    add("alg none", raw_token({"alg": "none", "kid": "rsa"}, jwks(), b"sig"),
        invalid("token algorithm is not supported"))
    add("HS256 keyed with the RSA public key",
        hs256_with(public_pem(keys.rsa).encode(), {"alg": "HS256", "kid": "rsa"}, jwks()),
        invalid("no key of the issuer fits the token algorithm"))
    add("HS256 with an unknown secret", sign("HS256", b"y" * 64, jwks(), {"kid": "hs"}),
        invalid("token signature is invalid"))
    with warnings.catch_warnings():
        # Deliberately too short: the gateway must refuse it.
        warnings.simplefilter("ignore")
        too_short = sign("HS512", TEXT_SECRET, hm(), {"kid": "text"})
    add("HS512 with a secret too short for it", too_short,
        invalid("no key of the issuer fits the token algorithm"))
    add("RS256 not allowed for this issuer", sign("RS256", keys.rsa, hm(), {"kid": "text"}),
        invalid("token algorithm is not allowed for this issuer"))
    add("ES256 under an RSA kid", sign("ES256", keys.p256, jwks(), {"kid": "rsa"}),
        invalid("no key of the issuer fits the token algorithm"))
    add("PS256 key refuses RS256", sign("RS256", keys.rsa, pem(), {"kid": "rsa-pkcs1"}),
        invalid("no key of the issuer fits the token algorithm"))
    add("unknown kid", sign("RS256", keys.rsa, jwks(), {"kid": "nope"}),
        invalid("token key id is not in the issuer's key set"))
    add("another key under a known kid", sign("RS256", keys.attacker_rsa, jwks(), {"kid": "rsa"}),
        invalid("token signature is invalid"))
    attacker_jwk = jwk_of(keys.attacker_rsa, "rsa")
    add("embedded jwk header is ignored",
        sign("RS256", keys.attacker_rsa, jwks(), {"kid": "rsa", "jwk": attacker_jwk}),
        invalid("token signature is invalid"))
    add("jku and x5u headers are ignored",
        sign("RS256", keys.rsa, jwks(), {"kid": "rsa", "jku": "https://evil.example/jwks",
                                         "x5u": "https://evil.example/cert"}),
        accepted())
    add("crit header", sign("RS256", keys.rsa, jwks(), {"kid": "rsa", "crit": ["exp"], "exp": 1}),
        invalid("token header has unsupported critical extensions"))
    good = sign("ES256", keys.p256, jwks(), {"kid": "p256"})
    head, _, signature = good.rpartition(".")
    tampered_claims = b64url(json.dumps(jwks(vm_access={"extra_labels": {"tenant": "team-b"}})).encode())
    add("tampered claims", f"{head.split('.')[0]}.{tampered_claims}.{signature}",
        invalid("token signature is invalid"))
    der_signature = keys.p256.sign(head.encode(), ec.ECDSA(hashes.SHA256()))
    add("ES256 signature in DER form", f"{head}.{b64url(der_signature)}",
        invalid("token signature is invalid"))
    raw = der_to_raw(der_signature, 32)
    add("ES256 signature in r||s form by hand", f"{head}.{b64url(raw)}", accepted())
    add("two parts", ".".join(good.split(".")[:2]),
        invalid("token is not a well-formed JWS compact token"))
    add("padded signature", good + "=", invalid("token is not a well-formed JWS compact token"))
    return table


def build(now=None, directory=TABLE_DIR):
    now = int(time.time()) if now is None else now
    keys = Keys(directory)
    rows = []
    for name, token, source, expect in cases(keys, now):
        rows.append({"name": name, "request": request(token, source), "expect": expect})
    names = [row["name"] for row in rows]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"duplicate case names: {sorted(duplicates)}")
    return {"now": now, "config": plugin_config(keys), "cases": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["write", "keys"])
    args = parser.parse_args(argv)
    ensure_keys()
    if args.action == "write":
        table = build()
        TABLE_FILE.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {len(table['cases'])} cases to {TABLE_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
