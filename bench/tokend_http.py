#!/usr/bin/env python3
"""Small blocking HTTP helpers for the benchmark's own checks (not for load)."""
import http.client
import json


def get_json(port, path, host="127.0.0.1", headers=None):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        body = res.read()
        if res.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {res.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()
