#!/usr/bin/env bash
# Every cmocka unit test (ctest label `unit`) under valgrind memcheck: no
# errors, no leaks.
set -uo pipefail
build=${1:?build dir}
rc=0 n=0
mapfile -t names < <(ctest --test-dir "$build" -N -L unit | sed -n 's/.*Test *#[0-9]*: unit\.//p')
for name in "${names[@]}"; do
  t=$(find "$build/tests" -type f -name "$name" -perm -u+x | head -1)
  [ -n "$t" ] || { echo "valgrind: missing $name"; rc=1; continue; }
  n=$((n + 1))
  if ! valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
       --error-exitcode=99 "$t" >/tmp/valgrind.$$.log 2>&1; then
    echo "valgrind: FAIL $name"; tail -40 /tmp/valgrind.$$.log; rc=1
  else
    echo "valgrind: ok   $name"
  fi
done
rm -f /tmp/valgrind.$$.log
echo "valgrind: $n test programs checked"
[ "$n" -gt 0 ] || rc=1
exit $rc
