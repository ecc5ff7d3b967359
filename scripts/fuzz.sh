#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan; CMake preset "fuzz") and runs
# each for FUZZ_SECONDS (default 60) from its corpus in fuzz/corpus/, printing executions and
# coverage.
# Exits non-zero when a target finds a crash (the reproducer is left in build/fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh clang-14 libclang-rt-14-dev libhiredis-dev

seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
# The targets and the core library they test, built by CMake (preset "fuzz").
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

status=0
for target in config token_reply request reply_reader sealed_entry redis_reply; do
    work="$out/corpus-$target"
    rm -rf "$work" && mkdir -p "$work" && cp fuzz/corpus/"$target"/* "$work"/
    echo "== fuzzing $target for ${seconds}s"
    if (cd "$out" && "./${target}_fuzz" -max_total_time="$seconds" -print_final_stats=1 \
            -max_len=8192 "corpus-$target" >"$target.log" 2>&1); then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$target.log")
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$target.log")
        cov=$(grep -o 'cov: [0-9]*' "$out/$target.log" | tail -1)
        echo "$target: ok, ${runs:-?} executions (${speed:-?}/s), ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) inputs"
    else
        echo "$target: FAILED"; tail -40 "$out/$target.log"; status=1
    fi
done
exit $status
