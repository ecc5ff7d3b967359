#!/usr/bin/env bash
# Installs the build dependencies, builds synergy-tokend and the bundled mock Auth API, runs the
# daemon against the mock (over TLS, with the mock's own CA), and shows tokens being served over
# TCP and over the Unix socket. The commands are printed so that they paste as they are. Run in
# a terminal, it then keeps the daemon and the mock running until Ctrl-C, with the status page's
# address and commands to try; without a terminal it stops both when done.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/demo -j "$(nproc)" --target synergy-tokend synergy-auth-mock

work=$(mktemp -d /tmp/synergy-tokend-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

build/demo/tests/synergy-auth-mock --cert-dir "$work" >"$work/mock.out" 2>"$work/mock.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready ' "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/^ready api=[^:]*:\([0-9]*\) .*/\1/p' "$work/mock.out")
[ -n "$api" ] || { echo "the mock Auth API did not start:" >&2; cat "$work/mock.log" >&2; exit 1; }

echo "demo-identity-token" >"$work/identity-token"
cat >"$work/config.json" <<JSON
{
  "upstream": { "base_url": "https://localhost:$api/v1", "ca_file": "$work/ca.pem" },
  "identity": { "user_identity_token_file": "$work/identity-token" },
  "listen": { "tcp": ["127.0.0.1:8731"], "unix": "$work/tokend.sock" },
  "tokens": [
    { "name": "stats", "product": "synergy-stats", "customer_id": "345", "default": true },
    { "name": "datacore", "product": "datacore", "customer_id": 12, "scopes": ["read:organization"] }
  ]
}
JSON

build/demo/synergy-tokend check-config --config "$work/config.json"
build/demo/synergy-tokend run --config "$work/config.json" 2>"$work/tokend.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:8731/readyz >/dev/null && break; sleep 0.1; done

# A command as it would be typed: arguments holding anything but safe characters in single quotes.
quoted() {
    local out="" arg
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            out+=" $arg"
        else
            out+=" '${arg//\'/\'\\\'\'}'"
        fi
    done
    echo "${out# }"
}
show() { echo; echo "\$ $(quoted "$@")"; "$@"; echo; }
show curl -s http://127.0.0.1:8731/v1/tokens
show curl -s -H 'X-Tokend-Request: 1' http://127.0.0.1:8731/v1/tokens/stats
show curl -s -H 'X-Tokend-Request: 1' -H 'Accept: text/plain' --unix-socket "$work/tokend.sock" http://localhost/v1/tokens/datacore
show curl -s http://127.0.0.1:8731/readyz
echo "--- daemon log ---"
cat "$work/tokend.log"

if [ -t 0 ] && [ -t 1 ]; then
    echo
    echo "The daemon and the mock Auth API keep running until Ctrl-C."
    echo "Status page: http://127.0.0.1:8731/"
    echo "Try:"
    echo "  $(quoted curl -s http://127.0.0.1:8731/v1/tokens)"
    echo "  $(quoted curl -s -H 'X-Tokend-Request: 1' http://127.0.0.1:8731/v1/tokens/stats)"
    echo "  $(quoted curl -s -H 'X-Tokend-Request: 1' -H 'Accept: text/plain' --unix-socket "$work/tokend.sock" http://localhost/v1/tokens/datacore)"
    echo "  $(quoted build/demo/synergy-tokend status --endpoint http://127.0.0.1:8731)"
    echo "  $(quoted build/demo/synergy-tokend token stats --watch --endpoint "unix:$work/tokend.sock")"
    echo "  $(quoted curl -s http://127.0.0.1:8731/metrics)"
    echo "  $(quoted tail -f "$work/tokend.log")"
    # Until Ctrl-C (the EXIT trap stops both), or until one of them ends by itself.
    trap 'echo; echo "stopping"; exit 0' INT TERM
    wait -n "${pids[@]}" || true
    echo "a process of the demo ended by itself; see $work" >&2
fi
