#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into the §8 table (PASS/FAIL per target) and a JSON file.

Exit status: 0 when the run is sound, whatever the targets say; 1 when it is broken (a load run
served nothing or mostly errors, a measurement is missing), so CI fails only on a broken run.

usage: report.py --raw build/bench/raw --out build/bench/results.json
"""
import argparse
import glob
import json
import os
import sys

from wrk_result import parse as parse_wrk

MiB = 1024  # KiB per MiB: /proc reports KiB
MAX_ERROR_RATE = 0.01  # more non-2xx or socket errors than this: the run measured failures


def load(raw, name):
    with open(os.path.join(raw, name), encoding="utf-8") as f:
        return json.load(f)


def wrk_runs(raw, target):
    """{round: parsed wrk output} of the measured (not warm-up) runs of a target."""
    runs = {}
    for path in glob.glob(os.path.join(raw, "wrk", f"{target}.*.txt")):
        round_name = os.path.basename(path)[len(target) + 1:-len(".txt")]
        if round_name == "warmup":
            continue
        with open(path, encoding="utf-8") as f:
            runs[round_name] = parse_wrk(f.read())
    return runs


def counter_delta(raw, runs, target, key):
    total = 0
    for round_name in runs:
        before = load(raw, f"counters/{target}.{round_name}.before.json")
        after = load(raw, f"counters/{target}.{round_name}.after.json")
        total += after[key] - before[key]
    return total


def cpu_per_request(raw, target, runs):
    """{round: {process: {"user_us", "system_us", "total_us"}}}: CPU time per request of the
    server under test ("server"; none for the mock called directly) and of the mock ("mock")."""
    out = {}
    for round_name, r in runs.items():
        if r["requests"] == 0:
            continue  # a broken round, reported as such by main()
        before = load(raw, f"cpu/{target}.{round_name}.before.json")
        after = load(raw, f"cpu/{target}.{round_name}.after.json")
        per = {}
        for process in after:
            user = (after[process]["user_s"] - before[process]["user_s"]) * 1e6 / r["requests"]
            system = (after[process]["system_s"] - before[process]["system_s"]) * 1e6 / r["requests"]
            per[process] = {"user_us": user, "system_us": system, "total_us": user + system}
        out[round_name] = per
    return out


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    raw = args.raw
    meta = load(raw, "meta.json")
    problems = []

    # --- load runs: the best round of each target (noise only ever makes a run slower) ---------
    targets = ["token_daemon", "token_nginx", "info_daemon", "info_nginx", "info_direct"]
    wrk = {}
    for target in targets:
        runs = wrk_runs(raw, target)
        if not runs:
            problems.append(f"{target}: no measured wrk run")
            continue
        for round_name, r in sorted(runs.items()):
            errors = r["non_2xx"] + r["socket_errors"]
            if r["requests"] == 0 or not r["latency_ms"]:
                problems.append(f"{target} round {round_name}: no requests completed")
            elif errors > MAX_ERROR_RATE * r["requests"]:
                problems.append(f"{target} round {round_name}: {errors} errors "
                                f"in {r['requests']} requests")
        best_round = max(runs, key=lambda k: runs[k]["rps"])
        wrk[target] = {"best_round": best_round, "best": runs[best_round], "rounds": runs,
                       "token_requests": counter_delta(raw, runs, target, "token_requests"),
                       "tls_handshakes": counter_delta(raw, runs, target, "tls_handshakes"),
                       "cpu_per_request": cpu_per_request(raw, target, runs)}
    if problems:
        for p in problems:
            print(f"bench: BROKEN RUN: {p}", file=sys.stderr)
        return 1

    def best(target, field):
        r = wrk[target]["best"]
        return r["rps"] if field == "rps" else r["latency_ms"][field]

    def round_ratios(daemon, nginx):
        """Daemon/nginx requests/s round by round: the two ran back to back, so each ratio saw
        nearly the same machine; their spread shows how far one run's noise reaches."""
        d, n = wrk[daemon]["rounds"], wrk[nginx]["rounds"]
        ratios = [d[r]["rps"] / n[r]["rps"] for r in sorted(d) if r in n and n[r]["rps"]]
        if not ratios:
            return "rounds: none"
        return ("rounds: " + " ".join(f"{x:.2f}x" for x in ratios) +
                (f", median {median(ratios):.2f}x" if len(ratios) > 1 else ""))

    def cpu_us(target, process, part="total_us"):
        """The median over the rounds of one process's CPU time per request, in µs."""
        return median(per[process][part] for per in wrk[target]["cpu_per_request"].values())

    def cpu_note(daemon, nginx):
        return (f"user+system: daemon {cpu_us(daemon, 'server', 'user_us'):.1f}+"
                f"{cpu_us(daemon, 'server', 'system_us'):.1f}, nginx "
                f"{cpu_us(nginx, 'server', 'user_us'):.1f}+{cpu_us(nginx, 'server', 'system_us'):.1f}")

    checks = []  # every row of the table, in order

    def check(section, label, daemon, unit, nginx=None, ratio=None, target=None, passed=None,
              note=None):
        checks.append({"section": section, "label": label, "daemon": daemon, "nginx": nginx,
                       "unit": unit, "ratio": ratio, "target": target, "pass": passed,
                       "note": note})

    # a) token GET
    for field, unit in (("rps", "req/s"), ("p50", "ms"), ("p99", "ms")):
        d, n = best("token_daemon", field), best("token_nginx", field)
        ratio = d / n if n else None
        target = passed = None
        if field == "rps":
            target, passed = ">= 1.0x nginx", ratio is not None and ratio >= 1.0
        elif field == "p99":
            target, passed = "<= 1.5x nginx", ratio is not None and ratio <= 1.5
        check("a", f"GET /v1/tokens/{{name}} {field}", d, unit, n, ratio, target, passed,
              note=round_ratios("token_daemon", "token_nginx") if field == "rps" else None)

    # CPU per request: what each request costs the server; lower is better, no §8 target.
    d, n = cpu_us("token_daemon", "server"), cpu_us("token_nginx", "server")
    check("a", "GET /v1/tokens/{name} CPU per request", d, "us", n, d / n if n else None,
          note=cpu_note("token_daemon", "token_nginx"))

    # b) /v1/info proxy
    for field, unit in (("rps", "req/s"), ("p50", "ms"), ("p99", "ms")):
        d, n = best("info_daemon", field), best("info_nginx", field)
        direct = best("info_direct", field)
        ratio = d / n if n else None
        target = passed = None
        if field == "rps":
            target, passed = ">= 1.0x nginx", ratio is not None and ratio >= 1.0
        note = f"mock direct: {direct:,.2f}" if unit == "ms" else f"mock direct: {direct:,.0f}"
        if field == "rps":
            note += "; " + round_ratios("info_daemon", "info_nginx")
        check("b", f"GET /v1/info/... {field}", d, unit, n, ratio, target, passed, note=note)
    d, n = cpu_us("info_daemon", "server"), cpu_us("info_nginx", "server")
    check("b", "GET /v1/info/... CPU per request", d, "us", n, d / n if n else None,
          note=cpu_note("info_daemon", "info_nginx") +
          f"; the mock: {cpu_us('info_daemon', 'mock'):.1f} behind the daemon, "
          f"{cpu_us('info_nginx', 'mock'):.1f} behind nginx, {cpu_us('info_direct', 'mock'):.1f} direct")
    handshakes = wrk["info_daemon"]["tls_handshakes"]
    check("b", "upstream TLS handshakes after warm-up", handshakes, "", target="0",
          passed=handshakes == 0)
    most_open = load(raw, "counters/info_daemon_only.json")["max_open_connections"]
    limit = meta["upstream_max_connections"]
    check("b", "upstream connections open, most", most_open, "", target=f"<= {limit}",
          passed=most_open <= limit)

    # c) upstream token requests
    at_start = load(raw, "counters/start.json")["token_requests"]
    check("c", "token requests at start", at_start, "", target=f"= {meta['profiles']} (1/profile)",
          passed=at_start == meta["profiles"])
    during_a = wrk["token_daemon"]["token_requests"] + wrk["token_nginx"]["token_requests"]
    check("c", "token requests during a)", during_a, "", target="0", passed=during_a == 0)
    during_b = sum(wrk[t]["token_requests"] for t in ("info_daemon", "info_nginx", "info_direct"))
    check("c", "token requests during b)", during_b, "", target="0", passed=during_b == 0)
    od_before = load(raw, "counters/before_on_demand.json")["token_requests"]
    od_after = load(raw, "counters/after_on_demand.json")["token_requests"]
    entries = meta["on_demand_entries"]
    check("c", f"token requests for {entries:,} on-demand", od_after - od_before, "",
          target=f"= {entries:,}", passed=od_after - od_before == entries)

    # d) memory
    start = load(raw, "memory-start.json")
    idle = load(raw, "memory-idle.json")
    after_load = load(raw, "memory-after-load.json")
    held = load(raw, "memory-connections.json")
    od = load(raw, "memory-on-demand.json")
    if od.get("on_demand_entries") != entries:
        print(f"bench: warning: the daemon reports {od.get('on_demand_entries')} on-demand "
              f"entries, not {entries}", file=sys.stderr)
    for label, m, limit_mib in (
            (f"VmRSS just started, {meta['profiles']} profiles", start, None),
            (f"VmRSS idle, {meta['profiles']} profiles", idle, 10),
            ("VmRSS after the load, idle", after_load, None),
            (f"VmRSS {held['connections']:,} open connections", held, 32),
            (f"VmRSS {entries:,} on-demand entries", od, 64)):
        mib = m["vmrss_kib"] / MiB
        check("d", label, mib, "MiB", target=f"<= {limit_mib} MiB" if limit_mib else None,
              passed=mib <= limit_mib if limit_mib else None,
              note=f"anon {m['rssanon_kib'] / MiB:.1f}, file {m['rssfile_kib'] / MiB:.1f}, "
                   f"peak {m['vmhwm_kib'] / MiB:.1f}")

    # --- print ----------------------------------------------------------------------------------
    w = meta["wrk"]
    print()
    print(f"synergy-tokend benchmark  {meta['date']}  commit {meta['commit']}")
    print(f"machine: {meta['nproc']} CPUs, {meta['cpu']}, load average "
          f"{meta['loadavg_at_end']} (at start {meta['loadavg_at_start']})")
    print(f"client: {meta['wrk_version']} -t{w['threads']} -c{w['connections']} -d{w['duration']} "
          f"--latency, best of {w['rounds']} round(s) (CPU per request: the median); "
          f"nginx {meta['nginx']}, 1 worker"
          + ("; PERF RECORDING ON (figures not comparable)" if meta.get("perf") else ""))
    print()
    header = f"{'':2} {'':38} {'daemon':>10} {'nginx':>10} {'ratio':>6}  {'target':<18} result"
    print(header)
    print("-" * len(header))

    def fmt(v, unit):
        if v is None:
            return ""
        if unit == "req/s":
            return f"{v:,.0f}"
        if unit in ("ms", "MiB", "us"):
            return f"{v:.2f}" if unit == "ms" else f"{v:.1f}"
        return f"{v:,}"

    section = None
    for c in checks:
        label = c["label"] + (f" ({c['unit']})" if c["unit"] else "")
        result = "" if c["pass"] is None else ("PASS" if c["pass"] else "FAIL")
        ratio = f"{c['ratio']:.2f}x" if c["ratio"] is not None else ""
        line = (f"{c['section'] + ')' if c['section'] != section else '':2} {label:38} "
                f"{fmt(c['daemon'], c['unit']):>10} {fmt(c['nginx'], c['unit']):>10} {ratio:>6}  "
                f"{c['target'] or '':<18} {result}")
        if c["note"]:
            line += f"   [{c['note']}]"
        print(line.rstrip())
        section = c["section"]
    failed = [c for c in checks if c["pass"] is False]
    print()
    print(f"{sum(1 for c in checks if c['pass'])} targets met, {len(failed)} missed"
          + (": " + "; ".join(c["label"] for c in failed) if failed else ""))

    result = {"meta": meta, "checks": checks, "wrk": wrk,
              "memory_kib": {"start": start, "idle": idle, "after_load": after_load,
                             "connections": held, "on_demand": od}}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"results: {os.path.abspath(args.out)} (raw measurements and logs: {os.path.abspath(raw)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
