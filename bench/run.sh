#!/usr/bin/env bash
# The performance benchmark of PRODUCT.md §8: synergy-tokend against nginx, same client (wrk), same
# settings, same run, on loopback. Installs what it needs (wrk, nginx, the build deps), builds a
# Release binary in build/bench, starts the mock Auth API (TLS), the daemon (10 profiles) and nginx
# (1 worker), then measures:
#   a) GET /v1/tokens/{name} keep-alive: daemon vs nginx `return 200` with a body of the same size;
#   b) /v1/info/scopes/authorized: daemon vs nginx proxy_pass (upstream keepalive) vs the mock itself;
#   a, b) also the CPU time each request costs the daemon, nginx and the mock;
#   c) upstream token requests made during a) and b) (should be none);
#   d) the daemon's resident memory: idle with 10 profiles (just started, and settled once its
#      upstream connections have timed out), with 1,000 open client connections, with 10,000
#      on-demand entries;
#   e) what identifying callers costs: a profile without and with an access rule, kept alive and
#      with a new connection per request (bench/identify_report.py).
# Prints a table (PASS/FAIL per §8 target) and writes build/bench/results.json. Exits non-zero only
# for a broken run (something did not start, a load run got errors), never for a missed target.
#
# Settings (environment):
#   BENCH_THREADS=2 BENCH_CONNECTIONS=64 BENCH_DURATION=10s   wrk -t/-c/-d, the same for every target
#   BENCH_ROUNDS=5      each target is run this many times, interleaved; the best round is reported
#                       (and the median of the CPU time per request)
#   BENCH_WARMUP=2s     one unmeasured wrk run per target first (opens upstream connections)
#   BENCH_QUICK=1       CI smoke test: -d2s, 1 round, 1 s warm-up
#   BENCH_HOLD_CONNECTIONS=1000 BENCH_ON_DEMAND_ENTRIES=10000
#   BENCH_UPSTREAM_CONNECTIONS=$BENCH_CONNECTIONS   the daemon's upstream.max_connections and
#                       nginx's upstream keepalive pool
#   BENCH_PERF=1        also record `perf` profiles of the daemon during its measured runs (into
#                       build/bench/raw/perf.*.data; figures of such a run are not comparable)
#   BENCH_SKIP_BUILD=1  use the binaries already in build/bench
set -euo pipefail
cd "$(dirname "$0")/.."

quick=${BENCH_QUICK:-0}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-64}
if [ "$quick" = 1 ]; then
    duration=${BENCH_DURATION:-2s}; rounds=${BENCH_ROUNDS:-1}; warmup=${BENCH_WARMUP:-1s}
else
    duration=${BENCH_DURATION:-10s}; rounds=${BENCH_ROUNDS:-5}; warmup=${BENCH_WARMUP:-2s}
fi
hold_connections=${BENCH_HOLD_CONNECTIONS:-1000}
on_demand_entries=${BENCH_ON_DEMAND_ENTRIES:-10000}
# Both proxies may hold as many upstream connections as there are clients: nginx opens one per
# request in flight and keeps `keepalive` of them; the daemon gets the same number as its
# upstream.max_connections (default 8, which would make its clients queue for the pool).
upstream_max_connections=${BENCH_UPSTREAM_CONNECTIONS:-$connections}
build=build/bench
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
raw=$build/raw # every measurement as it came, and the logs, for a second look

say() { echo "bench: $*" >&2; }
die() { echo "bench: BROKEN RUN: $*" >&2; exit 1; }

# --- tools and binaries -------------------------------------------------------------------------
extra=()
command -v wrk >/dev/null || extra+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || extra+=(nginx)
command -v python3 >/dev/null || extra+=(python3)
scripts/install-deps.sh "${extra[@]}"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc)" --target synergy-tokend synergy-auth-mock
fi
tokend=$build/synergy-tokend
mock=$build/tests/synergy-auth-mock
[ -x "$tokend" ] && [ -x "$mock" ] || die "no binaries in $build"

# --- processes ----------------------------------------------------------------------------------
work=$(mktemp -d /tmp/synergy-tokend-bench.XXXXXX)
rm -rf "$raw"
mkdir -p "$raw/wrk" "$raw/counters" "$raw/cpu" "$work/nginx/tmp"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -f "$work/nginx/error.log" ] && cp "$work/nginx/error.log" "$raw/nginx-error.log"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The daemon holds the 1,000 client connections: it needs the descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null || true

free_ports() {
    python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])' "$1"
}
read -r daemon_port nginx_port < <(free_ports 2)

"$mock" --cert-dir "$work/certs" >"$work/mock.out" 2>"$raw/mock.log" &
mock_pid=$!
pids+=("$mock_pid")
for _ in $(seq 100); do grep -q '^ready ' "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
api_port=$(sed -n 's/^ready api=[^ ]*:\([0-9]*\) .*/\1/p' "$work/mock.out")
control_port=$(sed -n 's/^ready .* control=[^ ]*:\([0-9]*\) .*/\1/p' "$work/mock.out")
[ -n "$api_port" ] && [ -n "$control_port" ] || die "the mock Auth API did not start (see $raw/mock.log)"
ca=$work/certs/ca.pem

echo "bench-identity-token" >"$work/identity-token"
{
    echo '{'
    echo "  \"upstream\": { \"base_url\": \"https://localhost:$api_port/v1\", \"ca_file\": \"$ca\","
    echo "                \"max_connections\": $upstream_max_connections },"
    echo "  \"identity\": { \"user_identity_token_file\": \"$work/identity-token\" },"
    echo "  \"listen\": { \"tcp\": [\"127.0.0.1:$daemon_port\"], \"unix\": \"\" },"
    echo "  \"on_demand\": { \"enabled\": true, \"max_entries\": $on_demand_entries },"
    echo '  "log": { "level": "warn" },'
    echo '  "tokens": ['
    for i in $(seq 0 9); do
        sep=,; [ "$i" = 9 ] && sep=
        # p1 has an access rule admitting this user: section e) measures what identifying costs.
        echo "    { \"name\": \"p$i\", \"product\": \"synergy-stats\", \"customer_id\": \"$((100 + i))\"$([ "$i" = 0 ] && echo ', "default": true')$([ "$i" = 1 ] && echo ", \"allow\": {\"users\": [$(id -u)]}") }$sep"
    done
    echo '  ]'
    echo '}'
} >"$work/config.json"
cp "$work/config.json" "$raw/daemon-config.json"

"$tokend" run --config "$work/config.json" 2>"$raw/daemon.log" &
daemon_pid=$!
pids+=("$daemon_pid")
daemon=http://127.0.0.1:$daemon_port
for _ in $(seq 100); do curl -sf "$daemon/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$daemon/readyz" >/dev/null || die "the daemon did not become ready (see $raw/daemon.log)"

counters() { curl -sf "http://127.0.0.1:$control_port/control/counters" >"$raw/counters/$1.json"; }

# d1) idle, 10 profiles fetched, nothing served yet: first just after the start, with the upstream
# connections of the first fetches still pooled; then settled, once upstream.idle_timeout_s (30 s by
# default) has closed them and the daemon's periodic heap trim (every 10 s) has run.
sleep 1
python3 bench/proc_memory.py "$daemon_pid" >"$raw/memory-start.json"
upstream_open() {
    curl -sf "$daemon/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["upstream"]["openConnections"])'
}
say "d) memory idle: waiting for the upstream connections of the first fetches to time out"
for _ in $(seq 40); do [ "$(upstream_open)" = 0 ] && break; sleep 1; done
[ "$(upstream_open)" = 0 ] || die "the daemon's upstream connections did not close after upstream.idle_timeout_s"
sleep 11
python3 bench/proc_memory.py "$daemon_pid" >"$raw/memory-idle.json"
curl -sf "$daemon/status" >"$raw/status-idle.json"
counters start

# The reply nginx imitates: the same body, byte for byte, and the same content headers.
curl -sf -D "$raw/token-reply-daemon.head" -o "$work/token-body.json" \
    -H 'X-Tokend-Request: 1' "$daemon/v1/tokens/p0" || die "GET /v1/tokens/p0 failed"
token=$(curl -sf -H 'X-Tokend-Request: 1' -H 'Accept: text/plain' "$daemon/v1/tokens/p0")
body=$(cat "$work/token-body.json")
case "$body" in *"'"* | *'$'* | *'\'*) die "the token reply has characters nginx would not return as is" ;; esac

cat >"$work/nginx/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    # No periodic close of busy keep-alive connections (the daemon has none either).
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;

    upstream auth_mock {
        server 127.0.0.1:$api_port;
        # An idle pool as large as the daemon's: no connection is closed and re-handshaken
        # under load.
        keepalive $upstream_max_connections;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location /v1/tokens/ {
            default_type application/json;
            add_header Cache-Control no-store;
            return 200 '$body';
        }
        location /v1/info/ {
            proxy_pass https://auth_mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost:$api_port;
            proxy_set_header Authorization "Bearer $token";
            proxy_ssl_trusted_certificate $ca;
            proxy_ssl_verify on;
            proxy_ssl_server_name on;
            proxy_ssl_name localhost;
            proxy_ssl_session_reuse on;
        }
    }
}
NGINX
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
    2>"$raw/nginx.stderr" &
nginx_pid=$!
pids+=("$nginx_pid")
ngx=http://127.0.0.1:$nginx_port
for _ in $(seq 50); do curl -sf -o /dev/null "$ngx/v1/tokens/p0" && break; sleep 0.1; done
curl -sf -D "$raw/token-reply-nginx.head" -o "$work/nginx-body.json" "$ngx/v1/tokens/p0" \
    || die "nginx did not start (see $raw/nginx.stderr)"
# The one worker serves the requests; the master only watches it.
nginx_worker=$(python3 bench/proc_cpu.py --children-of "$nginx_pid" | head -1)
[ -n "$nginx_worker" ] || die "no nginx worker process"
cmp -s "$work/token-body.json" "$work/nginx-body.json" || die "nginx does not return the daemon's body"

# --- load ---------------------------------------------------------------------------------------
# cpu_times NAME: the CPU time used so far by the server under test and by the mock. Divided by
# the requests of a run, it is the CPU each request costs: a figure the machine's noise moves far
# less than requests/s, which also depends on what else got the CPUs.
cpu_times() {
    local server=
    case $1 in
    *_daemon.*) server="server=$daemon_pid" ;;
    *_nginx.*) server="server=$nginx_worker" ;;
    esac
    python3 bench/proc_cpu.py $server "mock=$mock_pid" >"$raw/cpu/$1.json"
}

# run_wrk NAME ROUND URL [wrk args]: one measured run; counters of the mock and CPU times before
# and after.
run_wrk() {
    local name=$1 round=$2 url=$3
    shift 3
    local perf_pid=
    counters "$name.$round.before"
    cpu_times "$name.$round.before"
    if [ "${BENCH_PERF:-0}" = 1 ] && [ "$round" != warmup ] && [[ $name == *_daemon ]]; then
        perf record -q -F 499 -e cpu-clock --call-graph dwarf -p "$daemon_pid" -o "$raw/perf.$name.$round.data" \
            2>/dev/null &
        perf_pid=$!
    fi
    wrk -t"$threads" -c"$connections" -d"$([ "$round" = warmup ] && echo "$warmup" || echo "$duration")" \
        --latency "$@" "$url" >"$raw/wrk/$name.$round.txt" 2>&1 || die "wrk failed on $name"
    cpu_times "$name.$round.after"
    if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    counters "$name.$round.after"
}

token_url=/v1/tokens/p0
info_url=/v1/info/scopes/authorized
tokend_header=(-H 'X-Tokend-Request: 1')

say "a) GET $token_url: daemon vs nginx, wrk -t$threads -c$connections -d$duration, $rounds round(s)"
run_wrk token_daemon warmup "$daemon$token_url" "${tokend_header[@]}"
run_wrk token_nginx warmup "$ngx$token_url" "${tokend_header[@]}"
for r in $(seq "$rounds"); do
    run_wrk token_daemon "$r" "$daemon$token_url" "${tokend_header[@]}"
    run_wrk token_nginx "$r" "$ngx$token_url" "${tokend_header[@]}"
done

say "b) $info_url: daemon vs nginx proxy_pass vs the mock itself"
# The daemon first: before anything else connects to the mock, so the mock's
# max_open_connections is the daemon's own.
run_wrk info_daemon warmup "$daemon$info_url" "${tokend_header[@]}"
counters info_daemon_only
curl -sf -o /dev/null "$ngx$info_url" || die "nginx cannot proxy to the mock (see $raw/nginx-error.log)"
run_wrk info_nginx warmup "$ngx$info_url" "${tokend_header[@]}"
run_wrk info_direct warmup "https://127.0.0.1:$api_port$info_url" -H "Authorization: Bearer $token"
for r in $(seq "$rounds"); do
    run_wrk info_daemon "$r" "$daemon$info_url" "${tokend_header[@]}"
    run_wrk info_nginx "$r" "$ngx$info_url" "${tokend_header[@]}"
    run_wrk info_direct "$r" "https://127.0.0.1:$api_port$info_url" -H "Authorization: Bearer $token"
done
say "e) caller identification: p0 (no rule) and p1 (a rule), kept alive and a connection per request"
run_wrk conn_open warmup "$daemon/v1/tokens/p0" "${tokend_header[@]}" -H 'Connection: close'
for r in $(seq "$rounds"); do
    run_wrk kept_rule "$r" "$daemon/v1/tokens/p1" "${tokend_header[@]}"
    run_wrk conn_open "$r" "$daemon/v1/tokens/p0" "${tokend_header[@]}" -H 'Connection: close'
    run_wrk conn_rule "$r" "$daemon/v1/tokens/p1" "${tokend_header[@]}" -H 'Connection: close'
done
curl -sf "$daemon/status" >"$raw/status-after-load.json"
python3 bench/proc_memory.py "$daemon_pid" >"$raw/memory-after-load.json"

say "d) memory with $hold_connections open client connections"
python3 bench/hold_connections.py --port "$daemon_port" --pid "$daemon_pid" \
    --count "$hold_connections" >"$raw/memory-connections.json" \
    || die "could not hold $hold_connections connections open"

say "d) memory with $on_demand_entries on-demand entries"
counters before_on_demand
python3 bench/fill_on_demand.py --port "$daemon_port" --pid "$daemon_pid" \
    --count "$on_demand_entries" >"$raw/memory-on-demand.json" \
    || die "on-demand token requests failed"
counters after_on_demand

# --- report -------------------------------------------------------------------------------------
cat >"$raw/meta.json" <<JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "nproc": $(nproc),
  "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
  "loadavg_at_start": "$load_at_start",
  "loadavg_at_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- lib daemon 2>/dev/null || echo +dirty)",
  "wrk": { "threads": $threads, "connections": $connections, "duration": "$duration", "rounds": $rounds, "warmup": "$warmup" },
  "quick": $([ "$quick" = 1 ] && echo true || echo false),
  "perf": $([ "${BENCH_PERF:-0}" = 1 ] && echo true || echo false),
  "profiles": 10,
  "upstream_max_connections": $upstream_max_connections,
  "hold_connections": $hold_connections,
  "on_demand_entries": $on_demand_entries,
  "nginx": "$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')",
  "wrk_version": "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
}
JSON
python3 bench/report.py --raw "$raw" --out "$build/results.json"
python3 bench/identify_report.py --raw "$raw"
