#!/usr/bin/env bash
# Installs the build dependencies, builds with warnings as errors, and runs the whole test suite
# (unit + integration against the mock Auth API). SANITIZE=1 builds and runs it under
# ASan+UBSan instead (preset "asan").
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd provides systemd-analyze for the package check; iproute2 the veth pair between network
# namespaces of the foreign_peer suite; chromium (headless) renders the status page, with
# fonts-dejavu-core so that its screenshot has legible text on a machine without fonts; lintian,
# man-db, file and binutils (objcopy, for the -dbgsym package) check the package; libhiredis-dev
# the Redis protocol of the shared cache, redis-server the Redis its suite runs against.
scripts/install-deps.sh systemd iproute2 chromium fonts-dejavu-core lintian man-db file binutils \
    libhiredis-dev redis-server

preset=dev
[ "${SANITIZE:-0}" = "1" ] && preset=asan
jobs=$(nproc)

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
# The suites side by side, three at a time: most of their time is spent waiting, not computing.
ctest --preset "$preset" --timeout 1200 -j 3
