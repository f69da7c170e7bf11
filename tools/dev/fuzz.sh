#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) and run each for a bounded time.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-60}
build=$top/build-fuzz
CC=clang cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DAF_FUZZ=ON >/dev/null || exit 1
cmake --build "$build" -j"$(nproc)" --target fuzzers >/dev/null || exit 1
rc=0
for f in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  corpus=$(mktemp -d)
  echo "fuzz: $(basename "$f") for ${secs}s"
  "$f" -max_total_time="$secs" -print_final_stats=1 "$corpus" 2>&1 | tail -12 || rc=1
  rm -rf "$corpus"
done
exit $rc
