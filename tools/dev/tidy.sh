#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over the daemon, CLI and BPF-shared C.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?build dir}
mapfile -t files < <(cd "$top" && git ls-files 'src/*.c' 'tools/*.c')
[ ${#files[@]} -gt 0 ] || exit 0
cd "$top" && clang-tidy -p "$build" --quiet "${files[@]}" 2>&1 | grep -v "warnings generated" ; exit "${PIPESTATUS[0]}"
