"""Signing keys of the demo identity provider.

The demo IdP (demo_idp.py) publishes these keys and mint_token.py signs with
them, so both load them from the same directory and create them the same way:
whichever tool runs first generates them.
"""

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

DEFAULT_KEYS_DIR = ".run/demo-idp"


@dataclass(frozen=True)
class KeySpec:
    alg: str
    kid: str
    filename: str


RS256 = KeySpec(alg="RS256", kid="demo-rs256", filename="rs256.pem")
ES256 = KeySpec(alg="ES256", kid="demo-es256", filename="es256.pem")
KEY_SPECS = {spec.alg: spec for spec in (RS256, ES256)}


def generate_private_key(alg):
    """A new private key for `alg`: RSA-2048 for RS256, P-256 for ES256."""
    if alg not in KEY_SPECS:
        raise ValueError(f"unsupported algorithm {alg!r}")
    if alg == RS256.alg:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key):
    """Unencrypted PKCS#8 PEM of a private key."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _write_private_key(path, key):
    pem = private_key_pem(key)
    # Create with 0600 from the start so the key is never readable by others,
    # and publish it with a rename so a concurrent reader never sees half a file.
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(tmp_path, path)


def load_or_create_key(keys_dir, spec):
    """Return the private key for `spec`, generating it on first use."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = keys_dir / spec.filename
    if not path.exists():
        _write_private_key(path, generate_private_key(spec.alg))
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def load_all_keys(keys_dir):
    """Return {alg: private key} for every demo signing algorithm."""
    return {alg: load_or_create_key(keys_dir, spec) for alg, spec in KEY_SPECS.items()}


def _b64url_uint(value, length=None):
    if length is None:
        length = (value.bit_length() + 7) // 8
    raw = value.to_bytes(length, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(spec, private_key):
    """The public half of a demo key as a JWK (RFC 7517/7518)."""
    return public_jwk_for(spec.kid, spec.alg, private_key)


def public_jwk_for(kid, alg, private_key):
    """The public half of any RS256 or ES256 key as a JWK, under `kid`."""
    numbers = private_key.public_key().public_numbers()
    jwk = {"kid": kid, "use": "sig", "alg": alg}
    if alg == RS256.alg:
        jwk.update(kty="RSA", n=_b64url_uint(numbers.n), e=_b64url_uint(numbers.e))
    else:
        # P-256 coordinates are always 32 bytes, leading zeros included.
        jwk.update(
            kty="EC",
            crv="P-256",
            x=_b64url_uint(numbers.x, 32),
            y=_b64url_uint(numbers.y, 32),
        )
    return jwk


def jwks(keys):
    """A JWK Set for {alg: private key} as returned by load_all_keys."""
    return {"keys": [public_jwk(KEY_SPECS[alg], key) for alg, key in keys.items()]}
