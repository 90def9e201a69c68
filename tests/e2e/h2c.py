"""A minimal cleartext HTTP/2 client: one request, optional trailers.

HTTP/2 lets a body end with a trailers frame instead of an end-of-stream data
frame; the tests need exactly that on the wire, which common clients do not
offer. Header blocks use HPACK literals without indexing and no Huffman.
"""

import socket
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, GOAWAY, RST_STREAM = 0x0, 0x1, 0x4, 0x7, 0x3
END_STREAM, END_HEADERS = 0x1, 0x4


def _integer(value, prefix_bits):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([value])
    out = bytearray([limit])
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(name, value):
    name, value = name.encode(), value if isinstance(value, bytes) else value.encode()
    return b"\x00" + _integer(len(name), 7) + name + _integer(len(value), 7) + value


def _frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _read_frames(sock):
    buffer = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return
        if not chunk:
            return
        buffer += chunk
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            kind, flags = buffer[3], buffer[4]
            yield kind, flags, buffer[9 : 9 + length]
            buffer = buffer[9 + length :]


def _status_of(block):
    """The :status of a response header block (Envoy sends it indexed)."""
    first = block[0]
    indexed = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}
    if first in indexed:
        return indexed[first]
    # Literal with an indexed :status name: the value follows as a string.
    length = block[1] & 0x7F
    return int(block[2 : 2 + length])


def request(port, method, path, headers, body_chunks, trailers=None, timeout=5):
    """Returns (status, body bytes) of one request to 127.0.0.1:port."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(PREFACE + _frame(SETTINGS, 0, 0, b""))
        pseudo = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "127.0.0.1")]
        block = b"".join(_literal(n, v) for n, v in pseudo + list(headers))
        ends_here = not body_chunks and not trailers
        sock.sendall(_frame(HEADERS, END_HEADERS | (END_STREAM if ends_here else 0), 1, block))
        for index, chunk in enumerate(body_chunks):
            last = index == len(body_chunks) - 1 and not trailers
            sock.sendall(_frame(DATA, END_STREAM if last else 0, 1, chunk))
        if trailers:
            sock.sendall(_frame(HEADERS, END_HEADERS | END_STREAM, 1, b"".join(_literal(n, v) for n, v in trailers)))
        status, body = None, b""
        for kind, flags, payload in _read_frames(sock):
            if kind == SETTINGS and not flags & 0x1:
                sock.sendall(_frame(SETTINGS, 0x1, 0, b""))
            elif kind == HEADERS and status is None:
                status = _status_of(payload)
            elif kind == DATA:
                body += payload
            if kind in (GOAWAY, RST_STREAM) or (kind in (DATA, HEADERS) and flags & END_STREAM):
                break
        return status, body
    finally:
        sock.close()
