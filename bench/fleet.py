#!/usr/bin/env python3
"""The fleet benchmark (bench/fleet.sh starts it): N daemons sharing one redis-server and one mock
Auth API that issues short tokens, run once without shared_cache and once with it.

For each run ("alone", then "shared"):
  1. the daemons are started one after another; each one's cold start is the time from its
     process start to its first /readyz 200 (every profile has a servable token), polled every
     millisecond. Alone, that is a fresh upstream fetch per profile; shared, the first daemon
     takes the lease and fetches (and writes the entries), every later one reads the entries
     from Redis;
  2. the fleet runs for FLEET_LIFETIMES token lifetimes while one client asks every daemon for
     every profile in turn (keep-alive, TCP and Unix socket alternately): every answer must be a
     200 with a token that has not expired, else it counts as a failed local request;
  3. upstream token requests (the mock's counter) and Redis commands (INFO commandstats, reset
     after the cold starts) over that run are divided by the lifetimes it lasted.
Prints a table, writes the figures to <out>/fleet.json. Exits 1 on failed local requests, 2 when
something did not start.
"""
import argparse
import base64
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from tokend_http import get_json

HEADERS = {"X-Tokend-Request": "1"}


class BrokenRun(Exception):
    pass


def say(msg):
    print(f"fleet: {msg}", file=sys.stderr, flush=True)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def post_json(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read())


def jwt_exp(token):
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload))["exp"]
    except Exception:
        return None


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], check=True,
                          capture_output=True, text=True, timeout=10).stdout


def commandstats(port):
    """{command: calls} from INFO commandstats."""
    out = {}
    for line in redis_cli(port, "INFO", "commandstats").splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def wait_for(what, check, timeout_s, proc=None):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise BrokenRun(f"{what}: the process exited with {proc.returncode}")
        if check():
            return
        time.sleep(0.05)
    raise BrokenRun(f"{what}: not within {timeout_s} s")


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


class Fleet:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.procs = []

    def start(self, argv, name, **kw):
        log = open(os.path.join(self.args.out, name + ".log"), "w")
        proc = subprocess.Popen(argv, stderr=log, stdout=kw.get("stdout", log))
        self.procs.append(proc)
        return proc

    def stop(self, procs):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        self.stop(self.procs)

    # ---- the shared processes ----
    def start_redis(self):
        (self.redis_port,) = free_ports(1)
        proc = self.start(["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                           "--save", "", "--appendonly", "no", "--dir", self.work],
                          "redis-server")

        def ping():
            try:
                return redis_cli(self.redis_port, "PING").strip() == "PONG"
            except subprocess.CalledProcessError:
                return False
        wait_for("redis-server", ping, 10, proc)

    def start_mock(self):
        ready = os.path.join(self.work, "mock.out")
        out = open(ready, "w")
        proc = self.start([self.args.mock, "--cert-dir", os.path.join(self.work, "certs")],
                          "mock", stdout=out)

        def up():
            with open(ready) as f:
                m = re.search(r"^ready api=\S*:(\d+) control=\S*:(\d+) ", f.read(), re.M)
            if m:
                self.api_port, self.control_port = int(m.group(1)), int(m.group(2))
            return m is not None
        wait_for("the mock Auth API", up, 10, proc)
        self.ca = os.path.join(self.work, "certs", "ca.pem")
        post_json(self.control_port, "/control/settings",
                  json.dumps({"lifetime_s": self.args.lifetime_s}))

    def upstream_token_requests(self):
        return get_json(self.control_port, "/control/counters")["token_requests"]

    # ---- the daemons ----
    def config(self, i, port, shared):
        profiles = [{"name": f"p{j}", "product": f"synergy-p{j}", "customer_id": "345"}
                    for j in range(self.args.profiles)]
        cfg = {
            "upstream": {"base_url": f"https://localhost:{self.api_port}/v1", "ca_file": self.ca,
                         "request_timeout_ms": 2000},
            "identity": {"user_identity_token_file": os.path.join(self.work, "identity-token")},
            "listen": {"tcp": [f"127.0.0.1:{port}"],
                       "unix": os.path.join(self.work, f"d{i}.sock")},
            "tokens": profiles,
            # Tokens of a few seconds: refreshed at 75 % of their lifetime (+-5 % jitter), at
            # the latest 1 s before they expire, and served to the last second.
            "refresh": {"min_remaining_s": 1, "min_serve_remaining_s": 0,
                        "retry_initial_ms": 100, "retry_max_ms": 400},
            "log": {"level": "warn"},
        }
        if shared:
            cfg["shared_cache"] = {"url": f"redis://127.0.0.1:{self.redis_port}",
                                   "timeout_ms": self.args.redis_timeout_ms,
                                   "lease_ms": self.args.lease_ms}
        path = os.path.join(self.work, f"config-{i}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def ready(self, port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/readyz")
            res = conn.getresponse()
            res.read()
            return res.status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def start_daemons(self, mode):
        """Starts the daemons one after another; returns (procs, ports, cold start seconds)."""
        shared = mode == "shared"
        ports = free_ports(self.args.daemons)
        procs, cold = [], []
        for i, port in enumerate(ports):
            cfg = self.config(i, port, shared)
            start = time.monotonic()
            proc = self.start([self.args.tokend, "run", "--config", cfg], f"{mode}-daemon-{i}")
            while not self.ready(port):
                if proc.poll() is not None:
                    raise BrokenRun(f"daemon {i} exited with {proc.returncode} "
                                    f"(see {self.args.out}/{mode}-daemon-{i}.log)")
                if time.monotonic() - start > 30:
                    raise BrokenRun(f"daemon {i} not ready within 30 s")
                time.sleep(0.001)
            cold.append(time.monotonic() - start)
            procs.append(proc)
        return procs, ports, cold

    def serve(self, ports, duration_s):
        """Asks every daemon for every profile in turn until duration_s has passed."""
        conns = {}
        requests = failed = 0
        problems = []
        end = time.monotonic() + duration_s
        rounds = 0
        while time.monotonic() < end:
            for i, port in enumerate(ports):
                unix = (rounds + i) % 2 == 1
                key = (i, unix)
                for j in range(self.args.profiles):
                    requests += 1
                    problem = None
                    try:
                        conn = conns.get(key)
                        if conn is None:
                            conn = (UnixHTTPConnection(os.path.join(self.work, f"d{i}.sock"))
                                    if unix else http.client.HTTPConnection("127.0.0.1", port,
                                                                            timeout=10))
                            conns[key] = conn
                        conn.request("GET", f"/v1/tokens/p{j}", headers=HEADERS)
                        res = conn.getresponse()
                        body = res.read()
                        if res.status != 200:
                            problem = f"HTTP {res.status}: {body[:120]!r}"
                        else:
                            exp = jwt_exp(json.loads(body)["data"]["token"])
                            if exp is None or exp < time.time():
                                problem = f"an expired token (exp {exp})"
                    except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                        problem = f"{type(e).__name__}: {e}"
                        conns.pop(key, None)
                    if problem:
                        failed += 1
                        if len(problems) < 10:
                            problems.append(f"daemon {i} p{j} ({'unix' if unix else 'tcp'}): "
                                            f"{problem}")
            rounds += 1
        for c in conns.values():
            c.close()
        return requests, failed, problems

    def metrics(self, ports, names):
        totals = dict.fromkeys(names, 0.0)
        for port in ports:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            conn.close()
            for line in text.splitlines():
                for n in names:
                    if line.startswith(n + " ") or line.startswith(n + "{"):
                        totals[n] += float(line.rsplit(" ", 1)[1])
        return totals

    def run(self, mode):
        a = self.args
        say(f"{mode}: starting {a.daemons} daemons one after another")
        before_cold = self.upstream_token_requests()
        redis_cli(self.redis_port, "FLUSHALL")
        procs, ports, cold = self.start_daemons(mode)
        cold_requests = self.upstream_token_requests() - before_cold
        duration = a.lifetimes * a.lifetime_s
        say(f"{mode}: {a.daemons} daemons ready; serving for {a.lifetimes} lifetimes "
            f"({duration} s)")
        names = ["synergy_tokend_shared_cache_fallbacks_total",
                 "synergy_tokend_shared_cache_commands_total"]
        metrics_before = self.metrics(ports, names)
        redis_cli(self.redis_port, "CONFIG", "RESETSTAT")
        before = self.upstream_token_requests()
        requests, failed, problems = self.serve(ports, duration)
        upstream = self.upstream_token_requests() - before
        # As Redis counts them: the commands the script of EVAL runs (GET, DEL) included.
        stats = {k: v for k, v in commandstats(self.redis_port).items()
                 if not k.startswith(("info", "config"))}
        metrics_after = self.metrics(ports, names)
        daemon_metrics = {n: metrics_after[n] - metrics_before[n] for n in names}
        self.stop(procs)
        return {
            "mode": mode, "daemons": a.daemons, "profiles": a.profiles,
            "cold_start_s": cold, "cold_upstream_requests": cold_requests,
            "lifetimes": a.lifetimes, "lifetime_s": a.lifetime_s,
            "local_requests": requests, "failed_local_requests": failed, "problems": problems,
            "upstream_requests": upstream, "redis_commands": stats,
            "daemon_metrics": daemon_metrics,
        }


def ms(s):
    return f"{s * 1000:.1f}"


def report(alone, shared, args):
    n, p, lt = args.daemons, args.profiles, args.lifetimes
    print()
    print(f"fleet: {n} daemons x {p} profiles, one mock Auth API issuing {args.lifetime_s} s "
          f"tokens, one redis-server; {lt} lifetimes ({lt * args.lifetime_s} s) per run")
    print()
    print(f"{'':44}{'alone':>14}{'shared':>14}")

    def row(label, a, s):
        print(f"{label:44}{a:>14}{s:>14}")
    row("upstream token requests, cold start", alone["cold_upstream_requests"],
        shared["cold_upstream_requests"])
    row(f"upstream token requests in {lt} lifetimes", alone["upstream_requests"],
        shared["upstream_requests"])
    row("  per lifetime", f"{alone['upstream_requests'] / lt:.1f}",
        f"{shared['upstream_requests'] / lt:.1f}")
    row("  per profile per lifetime", f"{alone['upstream_requests'] / lt / p:.2f}",
        f"{shared['upstream_requests'] / lt / p:.2f}")
    m = shared["daemon_metrics"]
    row("Redis commands per daemon per lifetime", "-",
        f"{m['synergy_tokend_shared_cache_commands_total'] / n / lt:.2f}")
    by = ", ".join(f"{k.upper()} {v / n / lt:.2f}"
                   for k, v in sorted(shared["redis_commands"].items()))
    print(f"  as Redis counts them (INFO commandstats; EVAL's script's own GET and DEL included):")
    print(f"    {by}")
    row("shared cache fallbacks during the run", "-",
        f"{int(m['synergy_tokend_shared_cache_fallbacks_total'])}")
    row("local requests", alone["local_requests"], shared["local_requests"])
    row("failed local requests", alone["failed_local_requests"],
        shared["failed_local_requests"])
    print()
    print("cold start: process start -> first /readyz 200 (all profiles servable), ms")
    fresh = alone["cold_start_s"]
    first = shared["cold_start_s"][:1]
    from_redis = shared["cold_start_s"][1:]
    print(f"{'':44}{'p50':>10}{'p99':>10}{'mean':>10}{'n':>6}")
    for label, v in (("fresh upstream fetch (alone)", fresh),
                     ("first shared daemon (lease, fetch, SET)", first),
                     ("entry from Redis (shared, the others)", from_redis)):
        if v:
            print(f"{label:44}{ms(percentile(v, 50)):>10}{ms(percentile(v, 99)):>10}"
                  f"{ms(statistics.mean(v)):>10}{len(v):>6}")
    if fresh and from_redis:
        extra = percentile(from_redis, 50) - percentile(fresh, 50)
        print(f"extra latency of a cold token from Redis (p50, from Redis - fresh): "
              f"{ms(extra)} ms")
    for r in (alone, shared):
        for problem in r["problems"]:
            print(f"FAILED ({r['mode']}): {problem}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokend", required=True)
    ap.add_argument("--mock", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--daemons", type=int, default=50)
    ap.add_argument("--profiles", type=int, default=3)
    ap.add_argument("--lifetimes", type=int, default=4)
    ap.add_argument("--lifetime-s", type=int, default=5)
    ap.add_argument("--redis-timeout-ms", type=int, default=200)
    ap.add_argument("--lease-ms", type=int, default=2000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.work, "identity-token"), "w") as f:
        f.write("fleet-identity-token\n")
    fleet = Fleet(args)
    try:
        fleet.start_redis()
        fleet.start_mock()
        alone = fleet.run("alone")
        shared = fleet.run("shared")
    except (BrokenRun, RuntimeError, OSError, subprocess.SubprocessError) as e:
        say(f"BROKEN RUN: {e}")
        return 2
    finally:
        fleet.stop_all()
    with open(os.path.join(args.out, "fleet.json"), "w") as f:
        json.dump({"alone": alone, "shared": shared}, f, indent=1)
    report(alone, shared, args)
    failed = alone["failed_local_requests"] + shared["failed_local_requests"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
