#!/usr/bin/env python3
"""The code a warm request runs through, natively: instructions per request,
and how many distinct instructions and 64-byte cache lines of code it
executes on every request.

In Envoy the worker handles the rest of the request (codec, router, the
response) between two requests' header callbacks, and that evicts the
filter's code from the instruction cache; so in Envoy the warm path costs
about what fetching its code costs, more than its instruction count in a hot
loop suggests. The footprint is what the filter controls of that.

    python3 bench/profile/footprint.py [--requests N] [--top K]

Builds bench/profile natively (without LTO, so that each instruction is
counted for its own function), runs it under `valgrind --tool=callgrind
--dump-instr=yes` for N and 3N requests with make bench's configuration and
one demo token (the warm path: a token cache hit), and counts what the 2N
requests more executed: an instruction counts when it ran at least once per
request. The loop itself (the profile's `main`) is left out; the filter's
work is in `request_loop::handle` (the decision, which the profile crate
compiles for its key store, inlined there) and the functions it calls.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROFILE_DIR.parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))
sys.path.insert(0, str(REPO_ROOT / "tools"))

import demo_keys  # noqa: E402
import run  # noqa: E402

CACHE_LINE_BITS = 6
ISSUER = "http://127.0.0.1:9000"
LOOP_FUNCTION = "tenantgate_bench_profile::main"


def write_inputs(folder):
    """make bench's plugin configuration, the demo keys as the fetched key
    set, and one token."""
    minter = run.Minter(folder / "keys", ISSUER)
    (folder / "config.json").write_text(json.dumps(run.tenantgate_config(ISSUER, "demo_idp")))
    (folder / "jwks.json").write_text(json.dumps(minter.jwks()))
    (folder / "tokens.txt").write_text(minter.token("RS256", "warm") + "\n")


def build_profile():
    """Without LTO, so the filter's functions stay out of the loop's and
    each instruction is counted for the function it belongs to; in a target
    folder of its own, so the LTO build stays as it is."""
    target = PROFILE_DIR / "target" / "no-lto"
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--manifest-path", str(PROFILE_DIR / "Cargo.toml")],
        check=True,
        env={**os.environ, "CARGO_PROFILE_RELEASE_LTO": "false", "CARGO_TARGET_DIR": str(target)},
    )
    return target / "release" / "tenantgate-bench-profile"


def callgrind(binary, folder, requests):
    out = folder / f"callgrind.{requests}"
    inputs = [str(folder / name) for name in ("config.json", "jwks.json", "tokens.txt")]
    subprocess.run(
        ["valgrind", "--tool=callgrind", "--dump-instr=yes", f"--callgrind-out-file={out}", str(binary)]
        + inputs
        + [str(requests)],
        check=True,
        capture_output=True,
    )
    return out


def executed(path):
    """Times each instruction address ran, and the function it is in."""
    names, runs, function_of = {}, collections.Counter(), {}
    address, function, after_call = 0, None, False
    for line in Path(path).read_text().splitlines():
        named = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
        if named and named.group(2):
            names[named.group(1)] = named.group(2)
        if line.startswith("fn="):
            function = names.get(named.group(1)) if named else line[3:]
            continue
        if not line or line[0] not in "0123456789+-*":
            # The cost line after `calls=` is the callee's, not this address's.
            after_call = after_call or line.startswith("calls=")
            continue
        fields = line.split()
        if fields[0].startswith("0x"):
            address = int(fields[0], 16)
        elif fields[0][0] in "+-":
            address += int(fields[0])
        if after_call:
            after_call = False
            continue
        if len(fields) >= 3:
            runs[address] += int(fields[2])
            function_of[address] = function
    return runs, function_of


def footprint(fewer, more, extra_requests):
    runs_fewer, _ = executed(fewer)
    runs_more, function_of = executed(more)
    total = sum(runs_more.values()) - sum(runs_fewer.values())
    every_request = [
        address
        for address, count in runs_more.items()
        if count - runs_fewer.get(address, 0) >= extra_requests and function_of[address] != LOOP_FUNCTION
    ]
    by_function = collections.Counter(function_of[address] for address in every_request)
    lines = {address >> CACHE_LINE_BITS for address in every_request}
    loop = sum(
        runs_more[a] - runs_fewer.get(a, 0) for a in runs_more if function_of[a] == LOOP_FUNCTION
    )
    return {
        "instructions_per_request": round((total - loop) / extra_requests),
        "distinct_instructions": len(every_request),
        "cache_lines": len(lines),
        "code_kib": round(len(lines) * (1 << CACHE_LINE_BITS) / 1024, 1),
        "by_function": by_function,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    binary = build_profile()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        write_inputs(folder)
        fewer = callgrind(binary, folder, args.requests)
        more = callgrind(binary, folder, 3 * args.requests)
        result = footprint(fewer, more, 2 * args.requests)
    print(
        f"warm request, natively: {result['instructions_per_request']} instructions; "
        f"{result['distinct_instructions']} distinct instructions run on every request, in "
        f"{result['cache_lines']} cache lines ({result['code_kib']} KiB of code)"
    )
    print("distinct instructions by function:")
    for function, count in result["by_function"].most_common(args.top):
        print(f"  {count:5d}  {function}")
    by_function = result.pop("by_function")
    result["functions"] = len(by_function)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
