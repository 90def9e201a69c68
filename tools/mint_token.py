#!/usr/bin/env python3
"""Print a JWT signed with a demo IdP key, for trying tenantgate.

The token is signed with PyJWT, an implementation independent of tenantgate's
own verifier. Default claims:

  iss        the --issuer
  aud        "tenantgate"
  sub        "demo-user"
  iat        now
  exp        now + 3600
  vm_access  {"extra_labels": {"tenant": "team-a"}}

--claims is a JSON object merged over the defaults: each top-level key
replaces the default, and a key set to null removes that claim. For exp, nbf
and iat a string "+N" or "-N" means now plus or minus N seconds.

Examples:
  mint_token.py --claims '{"vm_access": {"extra_labels": {"tenant": "team-b"}}}'
  mint_token.py --claims '{"exp": "-60"}'            # expired a minute ago
  mint_token.py --claims '{"nbf": "+600"}' --alg ES256
  mint_token.py --claims '{"vm_access": null}'       # no tenancy claim
"""

import argparse
import json
import re
import time

import jwt

import demo_keys

DEFAULT_ISSUER = "http://127.0.0.1:9000"
DEFAULT_AUDIENCE = "tenantgate"
DEFAULT_LIFETIME_SECONDS = 3600
TIME_CLAIMS = ("exp", "nbf", "iat")
RELATIVE_TIME = re.compile(r"[+-]\d+")


class ClaimsError(ValueError):
    """The requested claims cannot be turned into a token."""


def default_claims(issuer, now):
    return {
        "iss": issuer,
        "aud": DEFAULT_AUDIENCE,
        "sub": "demo-user",
        "iat": now,
        "exp": now + DEFAULT_LIFETIME_SECONDS,
        "vm_access": {"extra_labels": {"tenant": "team-a"}},
    }


def identity_provider_claims(session="0b2c6f1e-5c3b-4c1e-9d0e-2f5a3e7b9c11"):
    """What an identity provider such as Keycloak puts in an access token
    besides the claims a gateway reads: profile, session and other clients'
    roles."""
    return {
        "auth_time": 1700000000, "typ": "Bearer", "azp": "grafana", "nonce": "n-0S6_WzA2Mj",
        "session_state": session, "sid": session, "acr": "1",
        "allowed-origins": ["https://grafana.example.com"],
        "realm_access": {"roles": ["offline_access", "default-roles-acme", "uma_authorization"]},
        "resource_access": {"account": {"roles": ["manage-account", "manage-account-links", "view-profile"]},
                            "grafana": {"roles": ["viewer"]}},
        "scope": "openid email profile", "email_verified": True, "name": "Alice Example",
        "groups": ["/team-a", "/ops"], "preferred_username": "alice", "given_name": "Alice",
        "family_name": "Example", "email": "alice@example.com",
    }


def _resolve_time(name, value, now):
    if not isinstance(value, str):
        return value
    if not RELATIVE_TIME.fullmatch(value):
        raise ClaimsError(f"claim {name!r}: expected a number or \"+N\"/\"-N\" seconds, got {value!r}")
    return now + int(value)


def build_claims(overrides=None, issuer=DEFAULT_ISSUER, now=None):
    """Defaults with `overrides` merged on top (None values delete a claim)."""
    now = int(time.time()) if now is None else now
    claims = default_claims(issuer, now)
    for name, value in (overrides or {}).items():
        if value is None:
            claims.pop(name, None)
        elif name in TIME_CLAIMS:
            claims[name] = _resolve_time(name, value, now)
        else:
            claims[name] = value
    return claims


def mint_token(claims=None, alg="RS256", keys_dir=demo_keys.DEFAULT_KEYS_DIR,
               issuer=DEFAULT_ISSUER, kid=None, now=None, private_key_pem=None):
    """Return a compact JWS over the default claims merged with `claims`.

    Signed with the demo key for `alg` from `keys_dir`, or with
    `private_key_pem` when given (a key the IdP rotated in, or a foreign one).
    """
    if alg not in demo_keys.KEY_SPECS:
        raise ClaimsError(f"unsupported algorithm {alg!r}")
    spec = demo_keys.KEY_SPECS[alg]
    key = private_key_pem or demo_keys.load_or_create_key(keys_dir, spec)
    payload = build_claims(claims, issuer=issuer, now=now)
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid or spec.kid})


def parse_claims_json(text):
    try:
        claims = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClaimsError(f"--claims is not valid JSON: {error}") from None
    if not isinstance(claims, dict):
        raise ClaimsError(f"--claims must be a JSON object such as '{{\"sub\": \"alice\"}}', got {text!r}")
    return claims


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", default="{}", help="JSON object merged over the default claims")
    parser.add_argument("--alg", choices=sorted(demo_keys.KEY_SPECS), default="RS256",
                        help="signing algorithm (default RS256)")
    parser.add_argument("--keys-dir", default=demo_keys.DEFAULT_KEYS_DIR,
                        help=f"demo IdP keys; generated if missing (default {demo_keys.DEFAULT_KEYS_DIR})")
    parser.add_argument("--issuer", default=DEFAULT_ISSUER, help=f"iss claim (default {DEFAULT_ISSUER})")
    parser.add_argument("--kid", help="key id to put in the header instead of the key's own")
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    try:
        claims = parse_claims_json(args.claims)
        token = mint_token(claims, alg=args.alg, keys_dir=args.keys_dir, issuer=args.issuer, kid=args.kid)
    except ClaimsError as error:
        parser.error(str(error))
    print(token)


if __name__ == "__main__":
    main()
