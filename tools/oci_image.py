#!/usr/bin/env python3
"""Package tenantgate's .wasm as an OCI image, and push it with skopeo.

The image is in the Wasm "compat" format that Istio's WasmPlugin and Envoy
Gateway's EnvoyExtensionPolicy pull: one gzipped tar layer
(application/vnd.oci.image.layer.v1.tar+gzip) holding `plugin.wasm`.

  oci_image.py build dist/tenantgate.wasm --out dist/oci --tag 0.1.0
  oci_image.py push --layout dist/oci --tag 0.1.0 docker://registry.example.com/tenantgate:0.1.0 \\
      [-- SKOPEO_COPY_FLAGS...]

`build` writes an OCI image layout (oci-layout, index.json, blobs/sha256/...)
with no Docker daemon or other tool. Everything in the image is derived from
the .wasm bytes alone, so the same .wasm always gives the same manifest digest;
the tag is recorded in index.json only. Both commands print the manifest
digest: its hex part is what WasmPlugin `sha256` and EnvoyExtensionPolicy
`code.sha256` expect.

Only the Python standard library is used, so this runs without the test venv.
"""

import argparse
import hashlib
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import NamedTuple

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
LAYOUT_FILE = "oci-layout"
LAYOUT_VERSION = "1.0.0"

# The file name the compat format requires inside the layer.
PLUGIN_FILENAME = "plugin.wasm"
WASM_MAGIC = b"\0asm"
# A Docker / OCI distribution tag.
TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class Blob(NamedTuple):
    media_type: str
    data: bytes

    @property
    def digest(self):
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self):
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


class Image(NamedTuple):
    config: Blob
    layer: Blob
    manifest: Blob

    def blobs(self):
        return [self.config, self.layer, self.manifest]


class UsageError(Exception):
    """A refusal with a message for the user, not a traceback."""


def canonical_json(document):
    # Sorted keys and no whitespace: the same document always hashes the same.
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def deterministic_tar(files):
    """A tar of `files` (name -> bytes) that depends on names and contents only."""
    buffer = io.BytesIO()
    # USTAR never writes pax extended headers (they would carry atime/ctime).
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name in sorted(files):
            data = files[name]
            member = tarfile.TarInfo(name)
            member.size = len(data)
            member.mode = 0o644
            member.mtime = 0
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def deterministic_gzip(data):
    """gzip with a fixed header: mtime 0, no file name, OS "unknown".

    The header is written here rather than by the gzip module, whose OS byte and
    defaults have changed between Python versions. The deflate stream comes from
    zlib, whose output for a given level has been stable across its releases.
    """
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflater.compress(data) + deflater.flush()
    # magic, CM=deflate, FLG=0 (no name/comment/extra), MTIME=0, XFL=2 (best), OS=255
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + body + trailer


def image_config(layer_tar):
    # No `created`: a timestamp would make every build a different image.
    return canonical_json(
        {
            "architecture": "wasm",
            "os": "wasip1",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        }
    )


def image_manifest(config, layer):
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        }
    )


def image_index(manifest, tag):
    entry = dict(manifest.descriptor(), annotations={REF_NAME_ANNOTATION: tag})
    return canonical_json({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [entry]})


def check_wasm(wasm):
    if not wasm.startswith(WASM_MAGIC):
        raise UsageError("not a WebAssembly module (no \\0asm header)")


def check_tag(tag):
    if not TAG_PATTERN.fullmatch(tag):
        raise UsageError(f"invalid tag {tag!r}: use letters, digits, '_', '.', '-' (at most 128)")


def build_image(wasm):
    check_wasm(wasm)
    layer_tar = deterministic_tar({PLUGIN_FILENAME: wasm})
    config = Blob(CONFIG_MEDIA_TYPE, image_config(layer_tar))
    layer = Blob(LAYER_MEDIA_TYPE, deterministic_gzip(layer_tar))
    manifest = Blob(MANIFEST_MEDIA_TYPE, image_manifest(config, layer))
    return Image(config, layer, manifest)


def blob_path(layout, digest):
    algorithm, hex_digest = digest.split(":", 1)
    return layout / "blobs" / algorithm / hex_digest


def clear_old_layout(out):
    """Remove a previous layout at `out`; refuse to delete anything else."""
    if not out.exists():
        return
    if out.is_dir() and (out / LAYOUT_FILE).is_file():
        shutil.rmtree(out)
    elif out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    else:
        raise UsageError(f"{out} exists and is not an OCI image layout; not overwriting it")


def write_layout(image, tag, out):
    """Write `image` as the only image of a fresh OCI image layout at `out`."""
    check_tag(tag)
    clear_old_layout(out)
    # Written next to `out` and renamed: an interrupted build leaves no half layout.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for blob in image.blobs():
            path = blob_path(staging, blob.digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob.data)
        (staging / "index.json").write_bytes(image_index(image.manifest, tag))
        (staging / LAYOUT_FILE).write_bytes(canonical_json({"imageLayoutVersion": LAYOUT_VERSION}))
        staging.chmod(0o755)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def tagged_manifest_digest(layout, tag):
    """The digest of the manifest that index.json names `tag`."""
    try:
        index = json.loads((layout / "index.json").read_text())
    except FileNotFoundError:
        raise UsageError(f"{layout} has no index.json: build the layout first (make oci)") from None
    for entry in index.get("manifests", []):
        if entry.get("annotations", {}).get(REF_NAME_ANNOTATION) == tag:
            return entry["digest"]
    raise UsageError(f"{layout} has no image tagged {tag!r}")


def skopeo_copy(source, destination, skopeo_flags, digest_file):
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise UsageError("skopeo not found: install the Debian package skopeo")
    # --preserve-digests: fail rather than let skopeo convert or recompress the
    # image, which would change the digest users pin.
    argv = [skopeo, "copy", "--preserve-digests", "--digestfile", str(digest_file), *skopeo_flags, source, destination]
    if subprocess.run(argv, stdin=subprocess.DEVNULL).returncode != 0:
        raise UsageError(f"skopeo copy to {destination} failed")


def push(layout, tag, destination, skopeo_flags):
    """Push the layout's `tag` to `destination`; return the registry's manifest digest."""
    local_digest = tagged_manifest_digest(layout, tag)
    with tempfile.TemporaryDirectory() as scratch:
        digest_file = Path(scratch) / "digest"
        skopeo_copy(f"oci:{layout}:{tag}", destination, skopeo_flags, digest_file)
        pushed_digest = digest_file.read_text().strip()
    if pushed_digest != local_digest:
        raise UsageError(f"the registry stored manifest {pushed_digest}, not the built {local_digest}")
    return pushed_digest


def print_digest(digest):
    print(f"manifest digest: {digest}")
    print(f"WasmPlugin sha256 / EnvoyExtensionPolicy code.sha256: {digest.split(':', 1)[1]}")


def run_build(args):
    wasm = args.wasm.read_bytes()
    image = build_image(wasm)
    write_layout(image, args.tag, args.out)
    print(f"wrote {args.out} ({PLUGIN_FILENAME}: {len(wasm)} bytes, tag {args.tag})")
    print_digest(image.manifest.digest)


def run_push(args):
    # Some Python versions keep the "--" that separates the skopeo flags.
    flags = args.skopeo_flags[1:] if args.skopeo_flags[:1] == ["--"] else args.skopeo_flags
    digest = push(args.layout, args.tag, args.destination, flags)
    print(f"pushed {args.destination}")
    print_digest(digest)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="write an OCI image layout holding the .wasm")
    build.add_argument("wasm", type=Path, help="the release .wasm (dist/tenantgate.wasm)")
    build.add_argument("--out", type=Path, default=Path("dist/oci"), help="layout directory (default: dist/oci)")
    build.add_argument("--tag", default="latest", help="tag recorded in index.json (default: latest)")
    build.set_defaults(run=run_build)

    push_command = commands.add_parser("push", help="push a layout's image with skopeo")
    push_command.add_argument("destination", help="e.g. docker://registry.example.com/tenantgate:0.1.0")
    push_command.add_argument("--layout", type=Path, default=Path("dist/oci"), help="default: dist/oci")
    push_command.add_argument("--tag", default="latest", help="tag of the image in the layout (default: latest)")
    push_command.add_argument("skopeo_flags", nargs=argparse.REMAINDER, help="after --: extra `skopeo copy` flags")
    push_command.set_defaults(run=run_push)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        args.run(args)
    except (UsageError, OSError) as error:
        print(f"oci_image.py {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
