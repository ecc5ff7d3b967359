#!/usr/bin/env bash
# The fleet benchmark of the shared cache (PRODUCT.md §10, issue 16): FLEET_DAEMONS daemons, each
# with its own TCP port and Unix socket, the same identity token and FLEET_PROFILES profiles,
# sharing one redis-server and one mock Auth API that issues FLEET_TOKEN_S-second tokens; run for
# FLEET_LIFETIMES token lifetimes once without shared_cache and once with it (bench/fleet.py says
# exactly what is measured). Prints:
#   - upstream token requests per lifetime (and per profile per lifetime), alone and shared;
#   - the cold start (process start -> every profile servable) with a fresh upstream fetch and
#     with the entries read from Redis: p50, p99, mean over the daemons, and the difference;
#   - Redis commands per daemon per lifetime (INFO commandstats, and the daemons' /metrics);
#   - failed local requests (a client asks every daemon for every profile throughout; must be 0).
# Installs what it needs, builds a Release binary in build/bench (as bench/run.sh does), writes
# the figures to build/bench/fleet/fleet.json. Exits non-zero only when something did not start
# (2) or a local request failed (1).
#
# Settings (environment):
#   FLEET_DAEMONS=50 FLEET_LIFETIMES=4 FLEET_PROFILES=3 FLEET_TOKEN_S=5
#   FLEET_QUICK=1        10 daemons, 2 lifetimes (CI)
#   FLEET_SKIP_BUILD=1   use the binaries already in build/bench
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${FLEET_QUICK:-0}" = 1 ]; then
    daemons=${FLEET_DAEMONS:-10}; lifetimes=${FLEET_LIFETIMES:-2}
else
    daemons=${FLEET_DAEMONS:-50}; lifetimes=${FLEET_LIFETIMES:-4}
fi
build=build/bench

scripts/install-deps.sh libhiredis-dev redis-server python3
if [ "${FLEET_SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc)" --target synergy-tokend synergy-auth-mock
fi
tokend=$build/synergy-tokend
mock=$build/tests/synergy-auth-mock
[ -x "$tokend" ] && [ -x "$mock" ] || { echo "fleet: BROKEN RUN: no binaries in $build" >&2; exit 2; }

work=$(mktemp -d /tmp/synergy-tokend-fleet.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Each daemon holds a few descriptors; the client holds two connections per daemon.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PYTHONDONTWRITEBYTECODE=1 python3 bench/fleet.py --tokend "$tokend" --mock "$mock" --work "$work" --out "$build/fleet" \
    --daemons "$daemons" --lifetimes "$lifetimes" --profiles "${FLEET_PROFILES:-3}" \
    --lifetime-s "${FLEET_TOKEN_S:-5}"
