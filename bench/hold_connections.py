#!/usr/bin/env python3
"""Opens N keep-alive client connections to the daemon, sends one GET /healthz on each and reads
the reply (a connection that never sends a request is closed by the daemon after 10 s), then,
with all N still open and idle, reads the daemon's VmRSS and its /status openConnections.
Prints one JSON object; exits 1 if the connections could not all be opened and answered.

usage: hold_connections.py --port PORT --pid PID [--count 1000]
"""
import argparse
import json
import resource
import socket
import sys
import time

from proc_memory import memory_kib
from tokend_http import get_json


def read_reply(sock):
    """Reads one HTTP reply with a Content-Length body; returns its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before a reply")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed inside a reply")
        body += chunk
    return int(head.split(b" ", 2)[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=1000)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    socks = []
    started = time.monotonic()
    try:
        for _ in range(args.count):
            s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            s.sendall(request)
            socks.append(s)
        statuses = [read_reply(s) for s in socks]
    except OSError as e:
        print(f"hold_connections: after {len(socks)} connections: {e}", file=sys.stderr)
        return 1
    time.sleep(0.5)  # let the daemon settle every session into its idle wait
    status = get_json(args.port, "/status")["data"]
    result = {
        "connections": len(socks),
        "replies_ok": sum(1 for st in statuses if st == 200),
        "open_seconds": round(time.monotonic() - started, 3),
        # /status itself comes over one more connection.
        "daemon_open_connections": status.get("openConnections"),
        **memory_kib(args.pid),
    }
    for s in socks:
        s.close()
    print(json.dumps(result))
    return 0 if result["replies_ok"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
