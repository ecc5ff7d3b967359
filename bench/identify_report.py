#!/usr/bin/env python3
"""What identifying callers costs (PRODUCT.md §8, §9), from bench/run.sh's section e) runs.

Compares GET /v1/tokens/{name} of a profile without a rule (p0) with one whose rule admits the
benchmark's user (p1, so the daemon asks the kernel who each connection is): over keep-alive
(the caller is identified once per connection, so this should not move) and with a new
connection per request (wrk -H 'Connection: close': one identification per request).

usage: identify_report.py --raw build/bench/raw
"""
import argparse
import glob
import os
import sys

from wrk_result import parse as parse_wrk


def best(raw, target):
    runs = []
    for path in glob.glob(os.path.join(raw, "wrk", f"{target}.*.txt")):
        if path.endswith(".warmup.txt"):
            continue
        with open(path, encoding="utf-8") as f:
            r = parse_wrk(f.read())
        if r["requests"] == 0 or r["non_2xx"] + r["socket_errors"] > 0.01 * r["requests"]:
            print(f"bench: BROKEN RUN: {path}: {r['requests']} requests, "
                  f"{r['non_2xx']} non-2xx, {r['socket_errors']} socket errors", file=sys.stderr)
            sys.exit(1)
        runs.append(r["rps"])
    if not runs:
        print(f"bench: BROKEN RUN: no measured run of {target}", file=sys.stderr)
        sys.exit(1)
    return max(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    raw = ap.parse_args().raw
    kept_open, kept_rule = best(raw, "token_daemon"), best(raw, "kept_rule")
    new_open, new_rule = best(raw, "conn_open"), best(raw, "conn_rule")
    cost_us = (1.0 / new_rule - 1.0 / new_open) * 1e6 * 2  # two wrk threads, both connecting
    print()
    print("e) caller identification, GET /v1/tokens/{name}        no rule    rule   ratio")
    print(f"   keep-alive (req/s)                              {kept_open:9,.0f} {kept_rule:7,.0f}"
          f"   {kept_rule / kept_open:.2f}x")
    print(f"   a new connection per request (conn/s)           {new_open:9,.0f} {new_rule:7,.0f}"
          f"   {new_rule / new_open:.2f}x   [about {cost_us:.0f} us more per new connection]")


if __name__ == "__main__":
    main()
