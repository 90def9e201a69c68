"""The OCI image of the filter (tools/oci_image.py, `make oci` / `make push`):
reproducible, in the Wasm "compat" format, and intact through a real registry."""

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from harness import TOOLS_DIR, ManagedProcess, free_port

OCI_IMAGE = TOOLS_DIR / "oci_image.py"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
TAG = "0.0.0-test"
TAR_BLOCK = 512


def required_tool(name, package):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package {package}", pytrace=False)
    return path


def run_tool(*args):
    result = subprocess.run([sys.executable, str(OCI_IMAGE), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"oci_image.py {args[0]} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def printed_digest(output):
    (line,) = [line for line in output.splitlines() if line.startswith("manifest digest: ")]
    return line.removeprefix("manifest digest: ")


def build_layout(wasm, out, tag=TAG):
    """Run `oci_image.py build` as `make oci` does; return the printed manifest digest."""
    return printed_digest(run_tool("build", str(wasm), "--out", str(out), "--tag", tag))


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_blob(layout, digest):
    data = (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
    assert sha256_digest(data) == digest, f"blob {digest} does not match its content"
    return data


def tagged_manifest(layout, tag=TAG):
    """(digest, manifest document) of the image index.json names `tag`."""
    index = json.loads((layout / "index.json").read_text())
    (entry,) = [e for e in index["manifests"] if e["annotations"]["org.opencontainers.image.ref.name"] == tag]
    assert entry["mediaType"] == MANIFEST_MEDIA_TYPE
    return entry["digest"], json.loads(read_blob(layout, entry["digest"]))


def plugin_wasm_of(layer):
    """The bytes of plugin.wasm in a compat layer, as Istio extracts them."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)), mode="r:") as archive:
        return archive.extractfile("plugin.wasm").read()


def layout_files(layout):
    return {str(path.relative_to(layout)): path.read_bytes() for path in sorted(layout.rglob("*")) if path.is_file()}


@pytest.fixture
def wasm(wasm_copy):
    return wasm_copy


@pytest.fixture
def layout(wasm, tmp_path):
    out = tmp_path / "oci"
    build_layout(wasm, out)
    return out


class Registry(ManagedProcess):
    """Debian's docker-registry on a loopback port, storing in a temp dir, no TLS."""

    name = "docker-registry"

    def __init__(self, work_dir):
        binary = required_tool("docker-registry", "docker-registry")
        self.host = f"127.0.0.1:{free_port()}"
        config = work_dir / "registry.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "version": 0.1,
                    "log": {"level": "warn"},
                    "storage": {"filesystem": {"rootdirectory": str(work_dir / "registry-storage")}},
                    "http": {"addr": self.host},
                }
            )
        )
        super().__init__([binary, "serve", str(config)], work_dir / "registry.log")
        self.wait_for_url(f"http://{self.host}/v2/", timeout=10)


@pytest.fixture
def registry(tmp_path):
    required_tool("skopeo", "skopeo")
    server = Registry(tmp_path)
    yield server
    server.stop()


def skopeo(*args):
    result = subprocess.run(["skopeo", *args], capture_output=True, timeout=60)
    assert result.returncode == 0, f"skopeo {args[0]} failed:\n{result.stderr.decode(errors='replace')}"
    return result.stdout


def test_same_wasm_gives_same_image(wasm, tmp_path):
    first = build_layout(wasm, tmp_path / "first")
    second = build_layout(wasm, tmp_path / "second")
    assert first == second
    assert layout_files(tmp_path / "first") == layout_files(tmp_path / "second")


def test_tag_does_not_change_the_manifest_digest(wasm, tmp_path):
    assert build_layout(wasm, tmp_path / "a", tag="1.0.0") == build_layout(wasm, tmp_path / "b", tag="latest")


def test_layout_is_an_oci_image_layout(layout):
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["schemaVersion"] == 2
    assert len(index["manifests"]) == 1


def test_image_is_in_the_compat_format(layout, wasm):
    digest, manifest = tagged_manifest(layout)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == MANIFEST_MEDIA_TYPE
    assert manifest["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == LAYER_MEDIA_TYPE
    layer_bytes = read_blob(layout, layer["digest"])
    assert len(layer_bytes) == layer["size"]
    assert plugin_wasm_of(layer_bytes) == wasm.read_bytes()


def test_config_names_wasm_platform_and_the_layer(layout):
    _digest, manifest = tagged_manifest(layout)
    config = json.loads(read_blob(layout, manifest["config"]["digest"]))
    assert (config["architecture"], config["os"]) == ("wasm", "wasip1")
    assert "created" not in config
    layer_tar = gzip.decompress(read_blob(layout, manifest["layers"][0]["digest"]))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]}


def test_layer_carries_no_build_time_metadata(layout, wasm):
    _digest, manifest = tagged_manifest(layout)
    layer = read_blob(layout, manifest["layers"][0]["digest"])
    # gzip header: FLG 0 (no file name), MTIME 0.
    assert layer[3] == 0
    assert layer[4:8] == bytes(4)
    layer_tar = gzip.decompress(layer)
    with tarfile.open(fileobj=io.BytesIO(layer_tar), mode="r:") as archive:
        (member,) = archive.getmembers()
    assert member.name == "plugin.wasm"
    assert member.isfile()
    assert (member.mode, member.mtime, member.uid, member.gid) == (0o644, 0, 0, 0)
    assert (member.uname, member.gname) == ("", "")
    assert member.pax_headers == {}
    # One header block, then the data: no pax or GNU extension headers before it.
    assert member.offset_data == TAR_BLOCK
    assert layer_tar[257:263] == b"ustar\0"
    assert len(wasm.read_bytes()) == member.size


def test_non_wasm_input_is_refused(tmp_path):
    not_wasm = tmp_path / "plugin.txt"
    not_wasm.write_text("hello")
    result = subprocess.run(
        [sys.executable, str(OCI_IMAGE), "build", str(not_wasm), "--out", str(tmp_path / "oci")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "not a WebAssembly module" in result.stderr
    assert not (tmp_path / "oci").exists()


def test_a_directory_that_is_not_a_layout_is_not_overwritten(wasm, tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    result = subprocess.run(
        [sys.executable, str(OCI_IMAGE), "build", str(wasm), "--out", str(keep)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (keep / "notes.txt").read_text() == "mine"


def test_push_and_pull_through_a_registry(registry, layout, wasm, tmp_path):
    local_digest, _manifest = tagged_manifest(layout)
    remote = f"docker://{registry.host}/tenantgate:{TAG}"

    pushed = run_tool("push", "--layout", str(layout), "--tag", TAG, remote, "--", "--dest-tls-verify=false")
    assert printed_digest(pushed) == local_digest
    assert f"code.sha256: {local_digest.removeprefix('sha256:')}" in pushed

    raw_manifest = skopeo("inspect", "--raw", "--tls-verify=false", remote)
    assert sha256_digest(raw_manifest) == local_digest
    manifest = json.loads(raw_manifest)
    assert manifest["mediaType"] == MANIFEST_MEDIA_TYPE
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == LAYER_MEDIA_TYPE

    pulled = tmp_path / "pulled"
    skopeo("copy", "--quiet", "--src-tls-verify=false", remote, f"oci:{pulled}:{TAG}")
    pulled_digest, pulled_manifest = tagged_manifest(pulled)
    assert pulled_digest == local_digest
    assert plugin_wasm_of(read_blob(pulled, pulled_manifest["layers"][0]["digest"])) == wasm.read_bytes()
