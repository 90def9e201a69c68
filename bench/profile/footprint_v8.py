#!/usr/bin/env python3
"""The code a warm request runs through in V8: how many distinct machine
instructions of the code V8's optimising compiler (TurboFan) made of the
filter's wasm run on every request, and in how many 64-byte cache lines.

This is the code Envoy's worker has to fetch again on every request, when
the rest of the request's handling has evicted it from the instruction
cache (see footprint.py for the same count natively). It is larger than
the native one: V8's code for the same work is longer, and cold branches sit
between the hot ones.

    python3 bench/profile/footprint_v8.py [--requests N] [--top K] [--wasm PROFILE.wasm]

Builds bench/profile for wasm32-wasip1 (or takes --wasm), and runs its
request loop in Node's V8 (run-in-v8.mjs: N / 10 warm-up requests, then N)
under `valgrind --tool=callgrind --dump-instr=yes`, with V8 logging where it
puts each function's code (`--log-code`). An instruction counts when it is
in a function's TurboFan code and ran at least N times: at least once per
measured request. Node's V8 is older than Envoy's, so the figures are for
comparing builds, not Envoy's own.
"""

import argparse
import bisect
import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import footprint  # noqa: E402

PROFILE_DIR = footprint.PROFILE_DIR
CACHE_LINE_BITS = footprint.CACHE_LINE_BITS


def build_profile_wasm():
    subprocess.run(
        [
            "cargo", "build", "--quiet", "--release", "--lib",
            "--target", "wasm32-wasip1",
            "--manifest-path", str(PROFILE_DIR / "Cargo.toml"),
        ],
        check=True,
    )
    return PROFILE_DIR / "target" / "wasm32-wasip1" / "release" / "tenantgate_bench_profile.wasm"


def run_in_v8(wasm, folder, requests):
    """Runs the loop under callgrind; returns the callgrind file and V8's log."""
    counts, log = folder / "callgrind.out", folder / "v8.log"
    command = [
        "valgrind", "--tool=callgrind", "--dump-instr=yes",
        f"--callgrind-out-file={counts}",
        "node", "--log-code", f"--logfile={log}", "--no-logfile-per-isolate", "--no-warnings",
        str(PROFILE_DIR / "run-in-v8.mjs"), str(wasm), str(folder), str(requests),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=folder)
    # The loop reports 0 ns and says so on stderr when a request was not
    # forwarded: then it measured a refusal, not the warm path.
    timed = re.search(r"(\d+) ns per request", done.stdout)
    if not timed or int(timed.group(1)) == 0:
        raise SystemExit(f"the warm path did not run: {done.stdout}{done.stderr}")
    return counts, log


def turbofan_code(log):
    """(start, size, function) of each function V8 compiled with TurboFan:
    its code-creation events are the ones marked `*`."""
    regions = {}
    for line in log.read_text(errors="replace").splitlines():
        fields = line.split(",")
        if fields[0] != "code-creation" or len(fields) < 9 or fields[8] != "*":
            continue
        try:
            start, size = int(fields[4], 16), int(fields[5])
        except ValueError:
            continue
        regions[start] = (start, size, fields[6])
    return sorted(regions.values())


def footprint_v8(runs, regions, requests):
    starts = [start for start, _, _ in regions]

    def function_at(address):
        index = bisect.bisect_right(starts, address) - 1
        if index >= 0 and address < regions[index][0] + regions[index][1]:
            return regions[index][2]
        return None

    instructions, lines = collections.Counter(), collections.defaultdict(set)
    for address, count in runs.items():
        function = function_at(address) if count >= requests else None
        if function is not None:
            instructions[function] += 1
            lines[function].add(address >> CACHE_LINE_BITS)
    every_line = set().union(*lines.values()) if lines else set()
    return {
        "distinct_instructions": sum(instructions.values()),
        "cache_lines": len(every_line),
        "code_kib": round(len(every_line) * (1 << CACHE_LINE_BITS) / 1024, 1),
        "by_function": {name: (len(lines[name]), instructions[name]) for name in instructions},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--wasm", type=Path, help="a bench/profile .wasm built elsewhere")
    args = parser.parse_args()
    wasm = args.wasm.resolve() if args.wasm else build_profile_wasm()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        footprint.write_inputs(folder)
        counts, log = run_in_v8(wasm, folder, args.requests)
        runs, _ = footprint.executed(counts)
        result = footprint_v8(runs, turbofan_code(log), args.requests)
    print(
        f"warm request in V8: {result['distinct_instructions']} distinct instructions of TurboFan code "
        f"run on every request, in {result['cache_lines']} cache lines ({result['code_kib']} KiB of code)"
    )
    print("cache lines and distinct instructions by function:")
    by_function = result.pop("by_function")
    ranked = sorted(by_function.items(), key=lambda item: item[1], reverse=True)[: args.top]
    names = demangled([name for name, _ in ranked])
    for name, (_, (lines, instructions)) in zip(names, ranked):
        print(f"  {lines:4d} {instructions:6d}  {name}")
    result["functions"] = len(by_function)
    print(json.dumps(result))


def demangled(names):
    """Rust's symbol names as source paths, by binutils' `c++filt` (legacy
    and v0 manglings alike)."""
    done = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


if __name__ == "__main__":
    main()
