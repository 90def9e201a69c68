#!/usr/bin/env python3
"""Removes from a proxy-wasm module the exports of per-request callbacks the
filter leaves at the SDK's default.

The Rust SDK exports every callback of the ABI, and Envoy calls each one a
module exports on every request: response headers, response body chunks,
the access log, stream done. A callback the module does not export is
answered by the host itself exactly as the SDK's default answers it
(continue; done), without entering the wasm VM. Leaving them out saves
those VM entries on every request and lets wasm-opt drop their code.

    trim_callbacks.py trim IN.wasm OUT.wasm   write IN without those exports
    trim_callbacks.py exports WASM            print the module's exports

Only the export section changes; nothing refers to exports by position.
"""

import sys
from pathlib import Path

# Export -> the SDK trait method behind it. The filter implements none of
# these methods; tests/e2e/test_build.py fails when one is implemented.
UNUSED_CALLBACKS = {
    "proxy_on_response_headers": "on_http_response_headers",
    "proxy_on_response_body": "on_http_response_body",
    "proxy_on_response_trailers": "on_http_response_trailers",
    "proxy_on_log": "on_log",
    "proxy_on_done": "on_done",
}

# What a filter needs for requests at all; a module without them is refused.
REQUEST_CALLBACKS = (
    "proxy_on_context_create",
    "proxy_on_request_headers",
    "proxy_on_request_body",
    "proxy_on_request_trailers",
    "proxy_on_delete",
)

MAGIC_AND_VERSION = b"\0asm\1\0\0\0"
EXPORT_SECTION = 7
# Sections up to the tag section (exception handling); exports up to tags.
LAST_SECTION_ID = 13
LAST_EXPORT_KIND = 4


class ModuleError(Exception):
    pass


def read_leb128(data, offset):
    """An unsigned 32-bit LEB128 integer at `offset`: (value, offset after it)."""
    value = 0
    for position in range(5):
        if offset >= len(data):
            raise ModuleError("truncated integer")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << (7 * position)
        if byte < 0x80:
            if position == 4 and byte > 0x0F:
                raise ModuleError("integer over 32 bits")
            return value, offset
    raise ModuleError("integer over 5 bytes")


def leb128(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def sections(module):
    """(id, body) of every section, in order; at most one export section."""
    if module[:8] != MAGIC_AND_VERSION:
        raise ModuleError("not a wasm module (version 1)")
    offset = 8
    export_sections = 0
    while offset < len(module):
        section_id = module[offset]
        if section_id > LAST_SECTION_ID:
            raise ModuleError(f"unknown section id {section_id}")
        export_sections += section_id == EXPORT_SECTION
        if export_sections > 1:
            raise ModuleError("more than one export section")
        size, start = read_leb128(module, offset + 1)
        if start + size > len(module):
            raise ModuleError("a section runs past the end of the module")
        yield section_id, module[start : start + size]
        offset = start + size


def export_entries(body):
    """(name, raw entry bytes) of each export in an export section."""
    count, offset = read_leb128(body, 0)
    entries = []
    for _ in range(count):
        start = offset
        length, offset = read_leb128(body, offset)
        if offset + length > len(body):
            raise ModuleError("an export name runs past its section")
        try:
            name = body[offset : offset + length].decode()
        except UnicodeDecodeError:
            raise ModuleError("an export name is not UTF-8") from None
        offset += length
        if offset >= len(body) or body[offset] > LAST_EXPORT_KIND:
            raise ModuleError(f"export {name!r} has no valid kind")
        _index, offset = read_leb128(body, offset + 1)
        entries.append((name, body[start:offset]))
    if offset != len(body):
        raise ModuleError("the export section has bytes after its last export")
    return entries


def exports(module):
    return [name for section_id, body in sections(module) if section_id == EXPORT_SECTION for name, _ in export_entries(body)]


def trimmed(module):
    parsed = list(sections(module))
    entries = [entry for section_id, body in parsed if section_id == EXPORT_SECTION for entry in export_entries(body)]
    names = [name for name, _ in entries]
    missing = [name for name in REQUEST_CALLBACKS if name not in names]
    if missing:
        raise ModuleError(f"not a proxy-wasm HTTP filter: no {', '.join(missing)}")
    kept = [raw for name, raw in entries if name not in UNUSED_CALLBACKS]
    out = bytearray(MAGIC_AND_VERSION)
    for section_id, body in parsed:
        if section_id == EXPORT_SECTION:
            body = leb128(len(kept)) + b"".join(kept)
        out += bytes([section_id]) + leb128(len(body)) + body
    return bytes(out)


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "trim":
            Path(argv[3]).write_bytes(trimmed(Path(argv[2]).read_bytes()))
        elif len(argv) == 3 and argv[1] == "exports":
            print("\n".join(exports(Path(argv[2]).read_bytes())))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (OSError, ModuleError) as error:
        print(f"trim_callbacks: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
