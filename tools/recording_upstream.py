#!/usr/bin/env python3
"""A stand-in metrics backend that records every request it receives.

Point tenantgate's upstream at it to see exactly what the backend would get:
the rewritten path (e.g. /select/7:3/prometheus/...), which headers survived
and the body. Every request is answered 200 with an empty Prometheus vector.

Run standalone, it prints one JSON line per request to stdout:
  recording_upstream.py --listen 127.0.0.1:8428

From Python (e.g. pytest):
  with RecordingUpstream() as upstream:
      ...  # send traffic to upstream.port
      upstream.requests[0].path
"""

import argparse
import json
import sys
import threading
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMPTY_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent on the request line, query string included
    headers: tuple  # (name, value) pairs in arrival order
    body: bytes

    def header(self, name):
        """First value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def to_json(self):
        record = asdict(self)
        record["headers"] = [list(pair) for pair in self.headers]
        record["body"] = self.body.decode("utf-8", errors="replace")
        return json.dumps(record)


def _read_chunked(stream):
    body = bytearray()
    while True:
        size = int(stream.readline().split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        body += stream.read(size)
        stream.readline()  # CRLF closing the chunk
    # Discard trailers up to the empty line ending the message.
    while stream.readline() not in (b"\r\n", b"\n", b""):
        pass
    return bytes(body)


class RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real backends offer
    on_request = None  # set on the subclass built by RecordingUpstream

    def _record_and_answer(self):
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=tuple(self.headers.items()),
            body=self._read_body(),
        )
        self.on_request(request)
        self._answer()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _record_and_answer

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return _read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self):
        body = json.dumps(EMPTY_VECTOR).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # requests are reported through on_request instead


class RecordingUpstream:
    """Threaded recording server; `requests` lists what arrived, oldest first."""

    def __init__(self, host="127.0.0.1", port=0, on_request=None):
        self._lock = threading.Lock()
        self._requests = []
        self._listener = on_request
        handler = type("BoundRecordingHandler", (RecordingHandler,), {"on_request": self._record})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    def clear(self):
        with self._lock:
            self._requests.clear()

    def only_request(self):
        """The one request that arrived; anything else fails the caller."""
        requests = self.requests
        assert len(requests) == 1, [r.path for r in requests]
        return requests[0]

    def _record(self, request):
        with self._lock:
            self._requests.append(request)
        if self._listener:
            self._listener(request)

    def serve_forever(self):
        """Serve in the calling thread until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def start(self):
        """Serve in a background thread; pair with stop()."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="recording-upstream", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:8428", help="HOST:PORT (default 127.0.0.1:8428)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    upstream = RecordingUpstream(host, int(port), on_request=lambda request: print(request.to_json(), flush=True))
    print(f"recording upstream listening on http://{host}:{upstream.port}", file=sys.stderr, flush=True)
    try:
        upstream.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
