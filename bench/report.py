"""The bench's figures: the summary JSON and the Markdown report."""

import statistics
import time

# Product targets: (name, measured ratio key, comparison, bound).
TARGETS = (
    ("d >= 0.95 f (warm path vs wasm floor)", "warm_vs_wasm_floor", ">=", 0.95),
    ("d >= 0.85 b (warm path vs cached jwt_authn)", "warm_vs_jwt_authn_cached", ">=", 0.85),
    ("d p99 <= 1.3 b p99", "warm_p99_vs_jwt_authn_cached", "<=", 1.3),
    ("e_host >= 0.8 c (cold, host verifier)", "cold_host_vs_jwt_authn_uncached", ">=", 0.8),
    ("e_portable >= 0.5 c (cold, portable verifier)", "cold_portable_vs_jwt_authn_uncached", ">=", 0.5),
)


def ratio(numerator, denominator):
    if numerator is None or denominator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def rps(medians, key):
    return medians[key]["rps"] if key in medians else None


def cpu_rate(medians, key):
    """Requests per second of Envoy CPU time."""
    return 1e6 / medians[key]["cpu_us_per_request"] if key in medians else None


def p99(medians, key):
    return medians[key]["p99_us"] if key in medians else None


def extra_us(medians, slower, faster):
    """Per-request time of `slower` minus that of `faster`, from wall-clock
    throughput: with one worker saturated, 1/throughput is its time per request."""
    if slower not in medians or faster not in medians:
        return None
    return round(1e6 / medians[slower]["rps"] - 1e6 / medians[faster]["rps"], 1)


def extra_cpu_us(medians, slower, faster):
    """Envoy CPU time per request of `slower` minus that of `faster`."""
    if slower not in medians or faster not in medians:
        return None
    return round(medians[slower]["cpu_us_per_request"] - medians[faster]["cpu_us_per_request"], 1)


def target_results(figures):
    results = {}
    for name, key, comparison, bound in TARGETS:
        value = figures.get(key)
        if value is None:
            results[name] = None
        else:
            results[name] = value >= bound if comparison == ">=" else value <= bound
    return results


def ratios(medians, rate):
    """The target ratios, throughput measured by `rate`."""
    return {
        "warm_vs_wasm_floor": ratio(rate(medians, "d_RS256"), rate(medians, "f")),
        # The floor as the SDK builds it, with every callback exported.
        "warm_vs_sdk_floor": ratio(rate(medians, "d_RS256"), rate(medians, "f_sdk")),
        "floor_vs_sdk_floor": ratio(rate(medians, "f"), rate(medians, "f_sdk")),
        "warm_vs_jwt_authn_cached": ratio(rate(medians, "d_RS256"), rate(medians, "b_RS256")),
        # The floor making tenantgate's warm host calls with only the work
        # they need, and the floor itself, against cached jwt_authn.
        "warm_host_calls_vs_wasm_floor": ratio(rate(medians, "f_calls"), rate(medians, "f")),
        "warm_host_calls_vs_jwt_authn_cached": ratio(rate(medians, "f_calls"), rate(medians, "b_RS256")),
        "floor_vs_jwt_authn_cached": ratio(rate(medians, "f"), rate(medians, "b_RS256")),
        "cold_host_vs_jwt_authn_uncached": ratio(rate(medians, "e_RS256_host"), rate(medians, "c_RS256")),
        "cold_portable_vs_jwt_authn_uncached": ratio(rate(medians, "e_RS256_portable"), rate(medians, "c_RS256")),
        # Every token of its own tenant: no grant is shared.
        "cold_host_own_tenants_vs_jwt_authn_uncached": ratio(
            rate(medians, "e_RS256_host_tenants"), rate(medians, "c_RS256")
        ),
        # Tokens as identity providers issue them, with claims no one reads.
        "cold_host_idp_claims_vs_jwt_authn_uncached": ratio(
            rate(medians, "e_RS256_host_idp"), rate(medians, "c_RS256_idp")
        ),
        "cold_host_es256_vs_jwt_authn_uncached": ratio(rate(medians, "e_ES256_host"), rate(medians, "c_ES256")),
        "cold_portable_es256_vs_jwt_authn_uncached": ratio(rate(medians, "e_ES256_portable"), rate(medians, "c_ES256")),
        "floor_vs_no_auth": ratio(rate(medians, "f"), rate(medians, "a")),
        "warm_vs_no_auth": ratio(rate(medians, "d_RS256"), rate(medians, "a")),
    }


# Ratios also worked out round by round, each from the two scenarios' runs in
# the same round: their spread is how far one run's ratio can be trusted.
PER_ROUND_RATIOS = (
    ("warm_vs_wasm_floor", "d_RS256", "f"),
    ("warm_vs_jwt_authn_cached", "d_RS256", "b_RS256"),
    ("warm_host_calls_vs_wasm_floor", "f_calls", "f"),
)


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def per_round_ratios(runs):
    """{ratio: {"rps": spread, "cpu": spread}} over the rounds; `runs` holds
    each scenario's results in round order."""
    result = {}
    for name, numerator, denominator in PER_ROUND_RATIOS:
        pairs = list(zip(runs.get(numerator, []), runs.get(denominator, [])))
        if not pairs:
            continue
        result[name] = {
            "rps": spread(ratio(n["rps"], d["rps"]) for n, d in pairs),
            # Requests per CPU second: the inverse of CPU time per request.
            "cpu": spread(ratio(d["cpu_us_per_request"], n["cpu_us_per_request"]) for n, d in pairs),
        }
    return result


def summary(medians, forged_results, probe, runs):
    figures = ratios(medians, rps)
    figures["warm_p99_vs_jwt_authn_cached"] = ratio(p99(medians, "d_RS256"), p99(medians, "b_RS256"))
    figures["warm_host_calls_p99_vs_jwt_authn_cached"] = ratio(p99(medians, "f_calls"), p99(medians, "b_RS256"))
    by_cpu = ratios(medians, cpu_rate)
    for key in ("warm_p99_vs_jwt_authn_cached", "warm_host_calls_p99_vs_jwt_authn_cached"):
        by_cpu[key] = figures[key]
    figures.update(
        {
            # Envoy CPU time per request of e minus that of d: one
            # verification plus the cache-miss work around it.
            "portable_rs256_us": extra_cpu_us(medians, "e_RS256_portable", "d_RS256"),
            "portable_es256_us": extra_cpu_us(medians, "e_ES256_portable", "d_ES256"),
            "host_cold_rs256_us": extra_cpu_us(medians, "e_RS256_host", "d_RS256"),
            "host_cold_es256_us": extra_cpu_us(medians, "e_ES256_host", "d_ES256"),
            "host_cold_rs256_own_tenants_us": extra_cpu_us(medians, "e_RS256_host_tenants", "d_RS256"),
            "host_cold_rs256_idp_claims_us": extra_cpu_us(medians, "e_RS256_host_idp", "d_RS256"),
            "jwt_authn_idp_claims_over_plain_us": extra_cpu_us(medians, "c_RS256_idp", "c_RS256"),
            # The same from wall-clock throughput.
            "portable_rs256_us_wall": extra_us(medians, "e_RS256_portable", "d_RS256"),
            "portable_es256_us_wall": extra_us(medians, "e_ES256_portable", "d_ES256"),
            # One verify_signature call timed inside the VM (bench/probe).
            "host_rs256_us": probe.get("host_rs256_us"),
            "host_es256_us": probe.get("host_es256_us"),
            # Envoy CPU time per request of g minus that of f.
            "host_rs256_in_request_us": extra_cpu_us(medians, "g_RS256", "f"),
            "host_es256_in_request_us": extra_cpu_us(medians, "g_ES256", "f"),
            "warm_extra_over_floor_us": extra_cpu_us(medians, "d_RS256", "f"),
            # What the callbacks tenantgate's build leaves out cost the floor.
            "left_out_callbacks_us": extra_cpu_us(medians, "f_sdk", "f"),
            # The warm path split: the host calls with the work they need, and
            # the rest of the filter's own work.
            "warm_host_calls_over_floor_us": extra_cpu_us(medians, "f_calls", "f"),
            "warm_filter_work_us": extra_cpu_us(medians, "d_RS256", "f_calls"),
            "host_probe_passed": probe.get("probe"),
            "no_auth_rps": round(rps(medians, "a") or 0),
            "forged_absorbed_per_s": {name: round(r["absorbed_per_s"]) for name, r in forged_results.items()},
        }
    )
    figures["targets_met"] = target_results(figures)
    by_cpu["targets_met"] = target_results(by_cpu)
    figures["by_envoy_cpu_time"] = by_cpu
    figures["per_round"] = per_round_ratios(runs)
    return figures


def fmt(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}"


def both_ratios(medians, key, other):
    """Ratio of scenario `key` to `other`, as "wall / cpu"."""
    if other is None or other not in medians:
        return "–"
    return f"{fmt(ratio(rps(medians, key), rps(medians, other)))} / {fmt(ratio(cpu_rate(medians, key), cpu_rate(medians, other)))}"


def scenario_table(labels, medians):
    rows = [
        "Ratios are *wall / cpu*: from req/s, and from Envoy CPU time per request (robust to neighbours).",
        "",
        "| scenario | what | req/s | req/s range | Envoy CPU µs/req | CPU share | p50 ms | p99 ms | ×a | ×f | ×b | ×c (same alg) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        m = medians[key]
        alg = next((a for a in ("RS256", "ES256") if a in key), None)
        rows.append(
            f"| {key} | {label} | {m['rps']:.0f} | {m['rps_min']:.0f}–{m['rps_max']:.0f} | "
            f"{m['cpu_us_per_request']:.1f} | {m['cpu_share']:.2f} | "
            f"{m['p50_us'] / 1000:.3f} | {m['p99_us'] / 1000:.3f} | "
            f"{both_ratios(medians, key, 'a')} | {both_ratios(medians, key, 'f')} | "
            f"{both_ratios(medians, key, 'b_RS256')} | {both_ratios(medians, key, f'c_{alg}' if alg else None)} |"
        )
    return rows


def targets_table(figures):
    by_cpu = figures["by_envoy_cpu_time"]
    rows = ["| target | from req/s | met | from Envoy CPU time | met |", "|---|---:|---|---:|---|"]

    def verdict(met):
        return "skipped" if met is None else ("yes" if met else "**no**")

    for name, key, _comparison, _bound in TARGETS:
        rows.append(
            f"| {name} | {fmt(figures.get(key), 3)} | {verdict(figures['targets_met'][name])} | "
            f"{fmt(by_cpu.get(key), 3)} | {verdict(by_cpu['targets_met'][name])} |"
        )
    rows += [
        "",
        "f_calls, the floor making tenantgate's warm host calls with only the work they need, reaches "
        f"{fmt(figures.get('warm_host_calls_vs_wasm_floor'), 3)} / {fmt(by_cpu.get('warm_host_calls_vs_wasm_floor'), 3)} "
        "of f and "
        f"{fmt(figures.get('warm_host_calls_vs_jwt_authn_cached'), 3)} / "
        f"{fmt(by_cpu.get('warm_host_calls_vs_jwt_authn_cached'), 3)} of b (from req/s / from Envoy CPU time), "
        f"with a p99 of {fmt(figures.get('warm_host_calls_p99_vs_jwt_authn_cached'), 3)} times b's. The floor f "
        f"itself reaches {fmt(figures.get('floor_vs_jwt_authn_cached'), 3)} / "
        f"{fmt(by_cpu.get('floor_vs_jwt_authn_cached'), 3)} of b.",
    ]
    rows += per_round_lines(figures.get("per_round", {}))
    return rows


def per_round_lines(per_round):
    rows = []
    for name, numerator, denominator in PER_ROUND_RATIOS:
        by = per_round.get(name)
        if not by or by["rps"] is None or by["cpu"] is None:
            continue
        rows.append(
            f"- {numerator} / {denominator}: from req/s {by['rps']['median']:.3f} "
            f"({by['rps']['min']:.3f}–{by['rps']['max']:.3f}), from Envoy CPU time {by['cpu']['median']:.3f} "
            f"({by['cpu']['min']:.3f}–{by['cpu']['max']:.3f})"
        )
    if rows:
        rows = [
            "",
            "The same ratios round by round, each from the two scenarios' runs in one round: median "
            "(smallest–largest). Where a target lies inside a ratio's range, one run does not decide it.",
            "",
        ] + rows
    return rows


def forged_lines(forged_results):
    rows = []
    for name, result in forged_results.items():
        rows.append(
            f"- {name}: **{result['absorbed_per_s']:.0f} forged tokens/s** absorbed with the warm load's p99 "
            f"within 2x of its median p99 alone ({result['p99_alone_us'] / 1000:.3f} ms)"
        )
        for step in result["steps"]:
            rows.append(
                f"  - target {step['target_rate']}/s: sent {step['forged_rps']:.0f}/s "
                f"({step['forged_refused']} refused), warm {step['good_rps']:.0f} req/s, "
                f"p99 {step['good_p99_us'] / 1000:.3f} ms (x{step['p99_ratio']:.2f}), Envoy CPU share {step['cpu_share']:.2f}"
                + (" (the better of two runs)" if step.get("runs", 1) > 1 else "")
            )
    return rows or ["- not run"]


def warm_path_lines(probe):
    """The host calls of the warm path, timed inside the VM by bench/probe."""
    calls = probe.get("host_calls")
    if not calls:
        return ["- host calls not timed"]
    # tenantgate per warm request of the bench: header map read, clock,
    # `:path` set, Authorization removed (the only tenancy-relevant header
    # the request carries).
    warm_calls = calls["read_header_map_us"] + calls["current_time_us"] + calls["set_path_us"] + calls["remove_header_us"]
    return [
        f"- host calls timed in the VM: header map read (in place) {fmt(calls['read_header_map_us'])} µs, clock "
        f"{fmt(calls['current_time_us'])} µs, `:path` set {fmt(calls['set_path_us'])} µs, header removal "
        f"{fmt(calls['remove_header_us'])} µs; the 4 calls of a warm request: {fmt(warm_calls)} µs; "
        f"the floor's one header read: {fmt(calls.get('read_one_header_us'))} µs",
    ]


def timing_lines(timings):
    """tenantgate's own phases in Envoy (the phase-timing build)."""
    if not timings:
        return ["- not measured (dist/bench/tenantgate-timed.wasm missing, or no reports logged)"]
    rows = [
        "| scenario | Envoy CPU µs/req | read headers | decide | of which host `verify_signature` "
        "| set `:path`, headers | between requests | one clock read |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, t in timings.items():
        rows.append(
            f"| {key} | {fmt(t['cpu_us_per_request'], 1)} | {fmt(t['read_headers_us'])} | {fmt(t['decide_us'])} "
            f"| {fmt(t['host_signature_us'])} | {fmt(t['apply_decision_us'])} | {fmt(t['between_requests_us'], 1)} "
            f"| {fmt(t['clock_read_us'])} |"
        )
    return rows + [
        "",
        "µs per request, from tenantgate built with `--features phase-timing` under the scenario's load, in an "
        "Envoy of its own (one run; the build reads the clock around its phases, so its CPU per request is above "
        "the table's). Each timed part includes about one clock read. \"Between requests\" is the time from the "
        "end of one request's header callback to the start of the next: with the worker saturated, Envoy's own "
        "work per request, including what the filter's work costs it indirectly.",
    ]


def memory_lines(memory):
    rows = []
    for name, figures in memory.items():
        if not figures:
            rows.append(f"- {name}: not measured")
            continue
        admin = figures.get("admin_memory") or {}
        allocated = int(admin.get("allocated", 0)) / 2**20
        heap = int(admin.get("heap_size", 0)) / 2**20
        rows.append(
            f"- {name}: RSS {figures['rss_kib'] / 1024:.1f} MiB; admin /memory allocated {allocated:.1f} MiB, "
            f"heap {heap:.1f} MiB"
        )
    return rows


def markdown(context, labels, medians, forged_results, probe, memory, figures, timings=None):
    lines = [
        "# tenantgate bench",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; Envoy 1.40 `--concurrency 1` pinned to CPU 0, wrk on CPU 1; "
        f"{context['rounds']} rounds × {context['seconds']:g} s per scenario, order rotated, medians; "
        f"{context['connections']} connections; {context['cpus']} CPUs, load average "
        f"{context['load_before'][0]:.2f} before, {context['load_after'][0]:.2f} after.",
        f"Cold scenarios cycle {context['fresh_tokens']} tokens per algorithm through a token cache of "
        f"{context['cold_token_cache_size']} entries.",
        "",
    ]
    if context["backend_note"]:
        lines += [f"Note: {context['backend_note']}.", ""]
    lines += scenario_table(labels, medians)
    lines += ["", "## Targets", ""] + targets_table(figures)
    lines += [
        "",
        "## Per-verification cost",
        "",
        f"- portable verifier in tenantgate, Envoy CPU µs per request of e minus d: RS256 "
        f"{fmt(figures['portable_rs256_us'], 1)} µs, ES256 {fmt(figures['portable_es256_us'], 1)} µs "
        f"(cache-miss work included; from req/s instead: {fmt(figures['portable_rs256_us_wall'], 1)} / "
        f"{fmt(figures['portable_es256_us_wall'], 1)} µs)",
        f"- host verifier in tenantgate, same derivation: RS256 {fmt(figures['host_cold_rs256_us'], 1)} µs, "
        f"ES256 {fmt(figures['host_cold_es256_us'], 1)} µs; RS256 with every token of its own tenant "
        f"(no grant shared): {fmt(figures['host_cold_rs256_own_tenants_us'], 1)} µs; RS256 tokens with an "
        f"identity provider's usual claims: {fmt(figures['host_cold_rs256_idp_claims_us'], 1)} µs (jwt_authn: "
        f"{fmt(figures['jwt_authn_idp_claims_over_plain_us'], 1)} µs more than for the plain tokens)",
        f"- Envoy `verify_signature`, timed in the VM over 2000 calls (bench/probe): RS256 "
        f"{fmt(figures['host_rs256_us'])} µs, ES256 {fmt(figures['host_es256_us'])} µs; per request, Envoy CPU "
        f"of g minus f: RS256 {fmt(figures['host_rs256_in_request_us'], 1)} µs, "
        f"ES256 {fmt(figures['host_es256_in_request_us'], 1)} µs",
        f"- host probe (known answers, tampered copies refused): {probe.get('probe')}; "
        f"RSA-PSS signature checked as PKCS#1 by the host: {probe.get('pss_signature_as_rs256')} "
        f"(control PKCS#1 v1.5: {probe.get('pkcs1_control')}); raw r‖s accepted: "
        f"{probe.get('raw_ecdsa_signature_accepted')}; truncated key: {probe.get('truncated_key')}; "
        f"empty key: {probe.get('empty_key')}; hash \"md5\": {probe.get('unknown_hash')}",
        "",
        "## Warm path: where the time goes",
        "",
        f"- Envoy CPU per request of d minus f (tenantgate's warm path over the floor): "
        f"{fmt(figures['warm_extra_over_floor_us'], 1)} µs, of which the host calls and the work they need "
        "(f_calls minus f) "
        f"{fmt(figures['warm_host_calls_over_floor_us'], 1)} µs and tenantgate's own work (d minus f_calls) "
        f"{fmt(figures['warm_filter_work_us'], 1)} µs",
        f"- the callbacks tenantgate's build leaves out, on the floor (f_sdk minus f): "
        f"{fmt(figures['left_out_callbacks_us'], 1)} µs; d against the floor as the SDK builds it: "
        f"{fmt(figures['by_envoy_cpu_time']['warm_vs_sdk_floor'], 3)} (Envoy CPU), "
        f"{fmt(figures['warm_vs_sdk_floor'], 3)} (req/s)",
    ]
    lines += warm_path_lines(probe)
    lines += ["", "## Inside tenantgate, in Envoy", ""] + timing_lines(timings)
    lines += [
        "",
        "## Forged tokens (right kid, wrong signature) beside the warm load",
        "",
    ]
    lines += forged_lines(forged_results)
    lines += ["", "## Memory", ""] + memory_lines(memory)
    sizes = context["wasm_bytes"]
    lines += [
        "",
        "## .wasm sizes",
        "",
        f"- tenantgate {sizes['tenantgate']} bytes; floor {sizes['floor']} bytes (as the SDK builds it: "
        f"{sizes['floor_sdk']} bytes); probe {sizes['probe']} bytes",
        "",
    ]
    return "\n".join(lines)
