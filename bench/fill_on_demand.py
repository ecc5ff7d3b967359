#!/usr/bin/env python3
"""Fills the daemon's on-demand cache: POST /v1/products/token with COUNT distinct customerId
values (each one upstream token request, made by the daemon), from THREADS keep-alive clients.
Then reads the daemon's VmRSS and its /status onDemandEntries. Prints one JSON object; exits 1 if
any request failed.

usage: fill_on_demand.py --port PORT --pid PID [--count 10000] [--threads 16]
"""
import argparse
import http.client
import json
import sys
import threading
import time

from proc_memory import memory_kib
from tokend_http import get_json


def worker(port, ids, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = failed = 0
    for i in ids:
        body = json.dumps({"userIdentityToken": "bench-identity-token",
                           "product": "synergy-stats", "customerId": f"bench-{i}"})
        try:
            conn.request("POST", "/v1/products/token", body=body,
                         headers={"Content-Type": "application/json"})
            res = conn.getresponse()
            res.read()
            ok += res.status == 200
            failed += res.status != 200
        except (OSError, http.client.HTTPException):
            failed += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    results.append((ok, failed))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=16)
    args = ap.parse_args()

    results = []
    threads = [threading.Thread(target=worker,
                                args=(args.port, range(t, args.count, args.threads), results))
               for t in range(args.threads)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    time.sleep(0.5)
    status = get_json(args.port, "/status")["data"]
    result = {
        "requests": args.count,
        "ok": sum(r[0] for r in results),
        "failed": sum(r[1] for r in results),
        "seconds": round(seconds, 3),
        "on_demand_entries": status.get("onDemandEntries"),
        **memory_kib(args.pid),
    }
    print(json.dumps(result))
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
