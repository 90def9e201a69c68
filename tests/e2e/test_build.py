"""What `make build` ships: the callbacks left out of the module are ones the
filter does not implement, and the module still answers every request
callback it does implement (the other tests run this module in Envoy)."""

import re
import subprocess
import sys

import pytest
import trim_callbacks

from harness import REPO_ROOT, TOOLS_DIR

# Each shipped module, and what cargo built it from.
SHIPPED = {
    "tenantgate.wasm": (REPO_ROOT / "dist/tenantgate.wasm", REPO_ROOT / "target/wasm32-wasip1/release/tenantgate.wasm"),
    "tenantgate-nosimd.wasm": (
        REPO_ROOT / "dist/tenantgate-nosimd.wasm",
        REPO_ROOT / "target/nosimd/wasm32-wasip1/release/tenantgate.wasm",
    ),
}
CARGO_OUTPUT = SHIPPED["tenantgate.wasm"][1]
# The filters trimmed by the build: tenantgate and the bench's own.
TRIMMED_SOURCES = [REPO_ROOT / "src", REPO_ROOT / "request/src", REPO_ROOT / "policy/src", REPO_ROOT / "bench/floor/src", REPO_ROOT / "bench/probe/src"]


def exports_of(path):
    return trim_callbacks.exports(path.read_bytes())


def run_trim(source, out):
    return subprocess.run(
        [sys.executable, str(TOOLS_DIR / "trim_callbacks.py"), "trim", str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def sections_but_exports(path):
    return [section for section in trim_callbacks.sections(path.read_bytes()) if section[0] != trim_callbacks.EXPORT_SECTION]


@pytest.mark.parametrize("shipped, built", SHIPPED.values(), ids=SHIPPED.keys())
def test_shipped_module_lacks_exactly_the_unused_callbacks(shipped, built):
    exports = exports_of(shipped)
    assert set(trim_callbacks.REQUEST_CALLBACKS) <= set(exports)
    assert {"proxy_on_http_call_response", "proxy_on_tick", "proxy_on_configure"} <= set(exports)
    assert set(exports) == set(exports_of(built)) - set(trim_callbacks.UNUSED_CALLBACKS)


def test_filters_implement_none_of_the_callbacks_left_out():
    """A method of these names in a trimmed filter would never be called."""
    pattern = re.compile(r"\bfn (" + "|".join(trim_callbacks.UNUSED_CALLBACKS.values()) + r")\s*\(")
    sources = [path for folder in TRIMMED_SOURCES for path in sorted(folder.rglob("*.rs"))]
    assert len(sources) > 40
    found = [
        f"{path.relative_to(REPO_ROOT)}: fn {match.group(1)}"
        for path in sources
        for match in pattern.finditer(path.read_text())
    ]
    assert not found, "implemented, but left out of the build by tools/trim_callbacks.py: " + ", ".join(found)


def test_trimming_removes_only_the_unused_callbacks(tmp_path):
    before = exports_of(CARGO_OUTPUT)
    assert set(trim_callbacks.UNUSED_CALLBACKS) <= set(before), "the SDK no longer exports what is trimmed"
    out = tmp_path / "trimmed.wasm"
    run = run_trim(CARGO_OUTPUT, out)
    assert run.returncode == 0, run.stderr
    assert exports_of(out) == [name for name in before if name not in trim_callbacks.UNUSED_CALLBACKS]
    # Every other section is carried over byte for byte.
    assert sections_but_exports(out) == sections_but_exports(CARGO_OUTPUT)


HEADER = b"\0asm\1\0\0\0"
NOT_FILTERS = {
    "not-wasm": (b"not wasm at all", "not a wasm module"),
    "truncated-section": (HEADER + b"\7\5\1", "runs past the end"),
    "unknown-section": (HEADER + b"\x20\0", "unknown section id 32"),
    "overlong-size": (HEADER + b"\7\x80\x80\x80\x80\x80\0", "over 5 bytes"),
    "size-over-32-bits": (HEADER + b"\7\x80\x80\x80\x80\x10", "over 32 bits"),
    "bytes-after-exports": (HEADER + b"\7\2\0\0", "bytes after its last export"),
    "truncated-name": (HEADER + b"\7\4\1\5ab", "runs past its section"),
    "name-not-utf8": (HEADER + b"\7\5\1\1\xff\0\0", "not UTF-8"),
    "unknown-kind": (HEADER + b"\7\5\1\1a\x09\0", "no valid kind"),
    "two-export-sections": (HEADER + b"\7\1\0\7\1\0", "more than one export section"),
    "no-request-callbacks": (HEADER + b"\7\1\0", "not a proxy-wasm HTTP filter"),
}


@pytest.mark.parametrize("content, message", NOT_FILTERS.values(), ids=NOT_FILTERS.keys())
def test_trimming_refuses_what_is_not_a_filter_module(tmp_path, content, message):
    source = tmp_path / "in.wasm"
    source.write_bytes(content)
    out = tmp_path / "out.wasm"
    run = run_trim(source, out)
    assert run.returncode == 1
    assert message in run.stderr
    assert not out.exists()
