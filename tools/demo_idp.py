#!/usr/bin/env python3
"""Demo OpenID Connect identity provider for trying tenantgate locally.

Serves only what a token verifier needs: OIDC discovery and the JWK Set.
Tokens are minted offline with mint_token.py from the same keys directory.

  GET /.well-known/openid-configuration   discovery document
  GET /jwks.json                          public signing keys (RS256, ES256)
  GET /stats                              requests served so far, per path
"""

import argparse
import json
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import demo_keys

DEFAULT_LISTEN = "127.0.0.1:9000"


def parse_listen(value):
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def discovery_document(issuer):
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer.rstrip('/')}/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }


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


class IdpHandler(BaseHTTPRequestHandler):
    # Set on the subclass built by make_handler.
    documents = {}
    stats = None
    log_requests = False

    def do_GET(self):
        path = urlsplit(self.path).path
        self.stats.record(path)
        if path == "/stats":
            self._send_json(200, self.stats.snapshot())
        elif path in self.documents:
            self._send_json(200, self.documents[path])
        else:
            self._send_json(404, {"error": "not_found", "path": path})

    def _send_json(self, status, document):
        body = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        if self.log_requests:
            super().log_message(format, *args)


def make_handler(issuer, keys, log_requests):
    documents = {
        "/.well-known/openid-configuration": discovery_document(issuer),
        "/jwks.json": demo_keys.jwks(keys),
    }
    attributes = {
        "documents": documents,
        "stats": RequestStats(),
        "log_requests": log_requests,
    }
    return type("ConfiguredIdpHandler", (IdpHandler,), attributes)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", type=parse_listen, default=parse_listen(DEFAULT_LISTEN),
                        help=f"HOST:PORT to listen on (default {DEFAULT_LISTEN})")
    parser.add_argument("--issuer", help="issuer URL published in discovery (default http://HOST:PORT)")
    parser.add_argument("--keys-dir", default=demo_keys.DEFAULT_KEYS_DIR,
                        help=f"where the signing keys live; created if missing (default {demo_keys.DEFAULT_KEYS_DIR})")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def _exit_on_signal(signum, _frame):
    # Raised in the main thread, this unwinds serve_forever so the socket closes.
    raise SystemExit(0)


def main(argv=None):
    args = parse_args(argv)
    host, port = args.listen
    issuer = args.issuer or f"http://{host}:{port}"
    keys = demo_keys.load_all_keys(args.keys_dir)
    try:
        server = ThreadingHTTPServer((host, port), make_handler(issuer, keys, args.log_requests))
    except OSError as error:
        sys.exit(f"demo IdP: cannot listen on {host}:{port}: {error.strerror}")
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    print(f"demo IdP listening on http://{host}:{port} (issuer {issuer})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
