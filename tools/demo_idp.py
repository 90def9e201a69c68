#!/usr/bin/env python3
"""Demo OpenID Connect identity provider for trying tenantgate locally.

Serves only what a token verifier needs: OIDC discovery and the JWK Set.
Tokens are minted offline with mint_token.py from the same keys directory.

  GET /.well-known/openid-configuration   discovery document
  GET /jwks.json                          public signing keys (RS256, ES256)
  GET /stats                              requests served so far, per path

With --test-controls (off by default) tests can also change the keys and how
the provider answers, to see how a verifier copes:

  POST /control/rotate      {"alg": "RS256"|"ES256"} (optional): publish a new
                            key besides the others; answers its kid, alg and
                            private_key_pem
  POST /control/remove      {"kid": "..."}: stop publishing that key
  POST /control/behaviour   {"mode": "normal"|"down"|"garbage"|"html"|
                            "unsupported_keys"|"duplicate_kid",
                            "delay_s": 0, "cache_control": null,
                            "applies_to": "all"|"jwks"}
                            how discovery and JWKS are answered from now on;
                            fields left out take these defaults

Modes: down = 503; garbage = 200 with truncated JSON; html = 200 text/html;
unsupported_keys = a JWKS of encryption and symmetric keys only;
duplicate_kid = a JWKS with two different keys under one kid. delay_s sleeps
before answering; cache_control is sent as Cache-Control on JWKS answers;
applies_to "jwks" leaves discovery answered normally.
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import demo_keys

DEFAULT_LISTEN = "127.0.0.1:9000"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks.json"
MODES = ("normal", "down", "garbage", "html", "unsupported_keys", "duplicate_kid")
SCOPES = ("all", "jwks")
MAX_CONTROL_BODY_BYTES = 64 * 1024


def parse_listen(value):
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def discovery_document(issuer):
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer.rstrip('/')}{JWKS_PATH}",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }


class ControlError(ValueError):
    """A control request that cannot be carried out; answered with 4xx."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def json_answer(status, document, headers=None):
    return Answer(status, json.dumps(document).encode("utf-8"), headers=headers or {})


class RequestStats:
    """Thread-safe count of requests per path (query string excluded)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()

    def record(self, path):
        with self._lock:
            self._counts[path] += 1

    def snapshot(self):
        with self._lock:
            return dict(self._counts)


@dataclass(frozen=True)
class PublishedKey:
    kid: str
    alg: str
    private_key: object

    def public_jwk(self):
        return demo_keys.public_jwk_for(self.kid, self.alg, self.private_key)


class KeyRing:
    """The keys the JWKS publishes, in publication order; thread-safe."""

    def __init__(self, initial_keys):
        self._lock = threading.Lock()
        self._keys = list(initial_keys)
        self._rotations = 0

    def published(self):
        with self._lock:
            return list(self._keys)

    def rotate(self, alg):
        """Publish a newly generated key and return it."""
        private_key = demo_keys.generate_private_key(alg)
        with self._lock:
            self._rotations += 1
            key = PublishedKey(f"demo-{alg.lower()}-{self._rotations}", alg, private_key)
            self._keys.append(key)
        return key

    def remove(self, kid):
        with self._lock:
            remaining = [key for key in self._keys if key.kid != kid]
            if len(remaining) == len(self._keys):
                raise ControlError(f"no published key has kid {kid!r}", status=404)
            self._keys = remaining

    def jwks(self):
        return {"keys": [key.public_jwk() for key in self.published()]}


def _expect(condition, message):
    if not condition:
        raise ControlError(message)


@dataclass(frozen=True)
class Behaviour:
    """How discovery and JWKS requests are answered."""

    mode: str = "normal"
    delay_s: float = 0
    cache_control: str | None = None
    applies_to: str = "all"

    @classmethod
    def from_document(cls, document):
        _expect(isinstance(document, dict), "expected a JSON object")
        unknown = set(document) - {"mode", "delay_s", "cache_control", "applies_to"}
        _expect(not unknown, f"unknown fields: {sorted(unknown)}")
        behaviour = cls(**{name: value for name, value in document.items() if value is not None})
        _expect(behaviour.mode in MODES, f"mode must be one of {list(MODES)}")
        _expect(behaviour.applies_to in SCOPES, f"applies_to must be one of {list(SCOPES)}")
        delay_ok = isinstance(behaviour.delay_s, (int, float)) and not isinstance(behaviour.delay_s, bool)
        _expect(delay_ok and 0 <= behaviour.delay_s <= 60, "delay_s must be a number of seconds from 0 to 60")
        _expect(behaviour.cache_control is None or isinstance(behaviour.cache_control, str),
                "cache_control must be a string or null")
        return behaviour

    def applies_to_path(self, path):
        return self.applies_to == "all" or path == JWKS_PATH


def unsupported_jwks(published):
    """Keys a verifier must not use for signatures: enc keys and a symmetric key."""
    keys = []
    for key in published:
        jwk = key.public_jwk()
        jwk.pop("alg")  # nothing but `use` marks them unusable
        jwk["use"] = "enc"
        keys.append(jwk)
    secret = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")
    keys.append({"kty": "oct", "kid": "demo-oct", "use": "sig", "alg": "HS256", "k": secret})
    return {"keys": keys}


class IdpState:
    """Everything the request handlers share: documents, keys, behaviour, stats."""

    def __init__(self, issuer, keys, test_controls=False):
        self.issuer = issuer
        self.key_ring = KeyRing(PublishedKey(demo_keys.KEY_SPECS[alg].kid, alg, key) for alg, key in keys.items())
        self.stats = RequestStats()
        self.test_controls = test_controls
        # Replaced as a whole, never mutated: readers see one behaviour or the next.
        self.behaviour = Behaviour()
        self._impostor_lock = threading.Lock()
        self._impostor_key = None

    def answer(self, path):
        """The answer to GET `path`, shaped by the current behaviour."""
        behaviour = self.behaviour
        if not behaviour.applies_to_path(path):
            behaviour = Behaviour()
        if behaviour.delay_s:
            time.sleep(behaviour.delay_s)
        answer = self._answer_in_mode(path, behaviour.mode)
        if path == JWKS_PATH and behaviour.cache_control is not None:
            answer.headers["Cache-Control"] = behaviour.cache_control
        return answer

    def _answer_in_mode(self, path, mode):
        if mode == "down":
            return json_answer(503, {"error": "temporarily_unavailable", "error_description": "identity provider down"})
        if mode == "garbage":
            return Answer(200, b'{"keys": [')
        if mode == "html":
            return Answer(200, b"<html>oops</html>", content_type="text/html")
        if path == DISCOVERY_PATH:
            return json_answer(200, discovery_document(self.issuer))
        if mode == "unsupported_keys":
            return json_answer(200, unsupported_jwks(self.key_ring.published()))
        if mode == "duplicate_kid":
            return json_answer(200, self._duplicate_kid_jwks())
        return json_answer(200, self.key_ring.jwks())

    def _duplicate_kid_jwks(self):
        """The published keys plus a different key under the first key's kid."""
        jwks = self.key_ring.jwks()
        if jwks["keys"]:
            kid = jwks["keys"][0]["kid"]
            jwks["keys"].append(demo_keys.public_jwk_for(kid, "RS256", self._impostor()))
        return jwks

    def _impostor(self):
        # Generated once: RSA key generation is slow enough to matter per request.
        with self._impostor_lock:
            if self._impostor_key is None:
                self._impostor_key = demo_keys.generate_private_key("RS256")
            return self._impostor_key

    def control(self, path, document):
        """Carry out a POST /control/... request; returns the JSON answer."""
        if path == "/control/rotate":
            return self._rotate(document)
        if path == "/control/remove":
            return self._remove(document)
        if path == "/control/behaviour":
            return self._set_behaviour(document)
        raise ControlError(f"no control at {path}", status=404)

    def _rotate(self, document):
        alg = document.get("alg", "RS256") if isinstance(document, dict) else None
        _expect(alg in demo_keys.KEY_SPECS, f"alg must be one of {sorted(demo_keys.KEY_SPECS)}")
        key = self.key_ring.rotate(alg)
        log(f"published new key {key.kid} ({alg})")
        pem = demo_keys.private_key_pem(key.private_key).decode("ascii")
        return {"kid": key.kid, "alg": alg, "private_key_pem": pem}

    def _remove(self, document):
        kid = document.get("kid") if isinstance(document, dict) else None
        _expect(isinstance(kid, str), 'expected {"kid": "..."}')
        self.key_ring.remove(kid)
        log(f"stopped publishing key {kid}")
        return {"removed": kid}

    def _set_behaviour(self, document):
        self.behaviour = Behaviour.from_document(document)
        log(f"behaviour now {self.behaviour}")
        return {"behaviour": asdict(self.behaviour)}


def log(message):
    print(f"demo IdP: {message}", file=sys.stderr, flush=True)


class IdpHandler(BaseHTTPRequestHandler):
    # Set on the subclass built by make_handler.
    state = None
    log_requests = False

    def do_GET(self):
        path = urlsplit(self.path).path
        self.state.stats.record(path)
        if path == "/stats":
            self._send(json_answer(200, self.state.stats.snapshot()))
        elif path in (DISCOVERY_PATH, JWKS_PATH):
            self._send(self.state.answer(path))
        else:
            self._send_not_found(path)

    def do_POST(self):
        path = urlsplit(self.path).path
        self.state.stats.record(path)
        if not self.state.test_controls or not path.startswith("/control/"):
            self._send_not_found(path)
            return
        try:
            self._send(json_answer(200, self.state.control(path, self._read_json())))
        except ControlError as error:
            self._send(json_answer(error.status, {"error": "bad_request", "error_description": str(error)}))

    def _read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        _expect(0 <= length <= MAX_CONTROL_BODY_BYTES, "body too large")
        body = self.rfile.read(length)
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except ValueError as error:
            raise ControlError(f"body is not JSON: {error}") from None

    def _send_not_found(self, path):
        self._send(json_answer(404, {"error": "not_found", "path": path}))

    def _send(self, answer):
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a slow answer is what tests ask for)

    def log_message(self, format, *args):
        if self.log_requests:
            super().log_message(format, *args)


def make_handler(state, log_requests):
    attributes = {"state": state, "log_requests": log_requests}
    return type("ConfiguredIdpHandler", (IdpHandler,), attributes)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", type=parse_listen, default=parse_listen(DEFAULT_LISTEN),
                        help=f"HOST:PORT to listen on (default {DEFAULT_LISTEN})")
    parser.add_argument("--issuer", help="issuer URL published in discovery (default http://HOST:PORT)")
    parser.add_argument("--keys-dir", default=demo_keys.DEFAULT_KEYS_DIR,
                        help=f"where the signing keys live; created if missing (default {demo_keys.DEFAULT_KEYS_DIR})")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    parser.add_argument("--test-controls", action="store_true",
                        help="serve POST /control/... to rotate keys and misbehave (tests only)")
    return parser.parse_args(argv)


def _exit_on_signal(signum, _frame):
    # Raised in the main thread, this unwinds serve_forever so the socket closes.
    raise SystemExit(0)


def main(argv=None):
    args = parse_args(argv)
    host, port = args.listen
    issuer = args.issuer or f"http://{host}:{port}"
    state = IdpState(issuer, demo_keys.load_all_keys(args.keys_dir), test_controls=args.test_controls)
    try:
        server = ThreadingHTTPServer((host, port), make_handler(state, args.log_requests))
    except OSError as error:
        sys.exit(f"demo IdP: cannot listen on {host}:{port}: {error.strerror}")
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    controls = " with test controls" if args.test_controls else ""
    print(f"demo IdP listening on http://{host}:{port} (issuer {issuer}){controls}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
