#!/usr/bin/env bash
# Every cmocka unit test under valgrind memcheck: no errors, no leaks.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?build dir}
rc=0 n=0
for src in "$top"/tests/unit/test_*.c; do
  t="$build/tests/$(basename "$src" .c)"
  [ -x "$t" ] || { echo "valgrind: missing $t"; rc=1; continue; }
  n=$((n + 1))
  if ! valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
       --error-exitcode=99 "$t" >/tmp/valgrind.$$.log 2>&1; then
    echo "valgrind: FAIL $(basename "$t")"; tail -40 /tmp/valgrind.$$.log; rc=1
  else
    echo "valgrind: ok   $(basename "$t")"
  fi
done
rm -f /tmp/valgrind.$$.log
echo "valgrind: $n test programs checked"
exit $rc
