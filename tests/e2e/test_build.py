"""What `make build` ships: the callbacks left out of the module are ones the
filter does not implement, and the module still answers every request
callback it does implement (the other tests run this module in Envoy)."""

import re
import subprocess
import sys

import pytest
import trim_callbacks

from harness import REPO_ROOT, TOOLS_DIR

SHIPPED = [REPO_ROOT / "dist/tenantgate.wasm", REPO_ROOT / "dist/tenantgate-nosimd.wasm"]
CARGO_OUTPUT = REPO_ROOT / "target/wasm32-wasip1/release/tenantgate.wasm"


def exports_of(path):
    return trim_callbacks.exports(path.read_bytes())


@pytest.mark.parametrize("wasm", SHIPPED, ids=lambda path: path.name)
def test_shipped_module_exports_the_request_callbacks_only(wasm):
    exports = exports_of(wasm)
    assert set(trim_callbacks.REQUEST_CALLBACKS) <= set(exports)
    assert {"proxy_on_http_call_response", "proxy_on_tick", "proxy_on_configure"} <= set(exports)
    assert not set(trim_callbacks.UNUSED_CALLBACKS) & set(exports)


def test_filter_implements_none_of_the_callbacks_left_out():
    """A method of these names in the filter would never be called."""
    pattern = re.compile(r"\bfn (" + "|".join(trim_callbacks.UNUSED_CALLBACKS.values()) + r")\s*\(")
    found = [
        f"{path.relative_to(REPO_ROOT)}: fn {match.group(1)}"
        for path in sorted((REPO_ROOT / "src").rglob("*.rs"))
        for match in pattern.finditer(path.read_text())
    ]
    assert not found, "implemented, but left out of the build by tools/trim_callbacks.py: " + ", ".join(found)


def test_trimming_removes_only_the_unused_callbacks(tmp_path):
    before = exports_of(CARGO_OUTPUT)
    assert set(trim_callbacks.UNUSED_CALLBACKS) <= set(before), "the SDK no longer exports what is trimmed"
    out = tmp_path / "trimmed.wasm"
    run = subprocess.run(
        [sys.executable, str(TOOLS_DIR / "trim_callbacks.py"), "trim", str(CARGO_OUTPUT), str(out)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert exports_of(out) == [name for name in before if name not in trim_callbacks.UNUSED_CALLBACKS]
    # Every other section is carried over byte for byte.
    others = lambda module: [s for s in trim_callbacks.sections(module) if s[0] != trim_callbacks.EXPORT_SECTION]  # noqa: E731
    assert others(out.read_bytes()) == others(CARGO_OUTPUT.read_bytes())


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not wasm at all", "not a wasm module"),
        (b"\0asm\1\0\0\0\7\5\1", "runs past the end"),
        (b"\0asm\1\0\0\0\7\1\0", "not a proxy-wasm HTTP filter"),
    ],
    ids=["not-wasm", "truncated-section", "no-request-callbacks"],
)
def test_trimming_refuses_what_is_not_a_filter_module(tmp_path, content, message):
    source = tmp_path / "in.wasm"
    source.write_bytes(content)
    out = tmp_path / "out.wasm"
    run = subprocess.run(
        [sys.executable, str(TOOLS_DIR / "trim_callbacks.py"), "trim", str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 1
    assert message in run.stderr
    assert not out.exists()
