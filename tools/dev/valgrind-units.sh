#!/usr/bin/env bash
# Every cmocka unit test (ctest label `unit`), with its ctest command line,
# under valgrind memcheck: no errors, no leaks.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?build dir}
supp=()
for f in "$top"/tests/*/valgrind*.supp; do
  [ -f "$f" ] && supp+=("--suppressions=$f")
done
rc=0 n=0
while IFS=$'\t' read -r name cmd; do
  n=$((n + 1))
  # shellcheck disable=SC2086 # cmd is a ctest command line, word split on purpose
  if ! valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
       "${supp[@]}" --error-exitcode=99 $cmd >/tmp/valgrind.$$.log 2>&1; then
    echo "valgrind: FAIL $name"; tail -40 /tmp/valgrind.$$.log; rc=1
  else
    echo "valgrind: ok   $name"
  fi
done < <(ctest --test-dir "$build" -L unit --show-only=json-v1 | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin)["tests"]:
    print(t["name"] + "\t" + " ".join(t["command"]))')
rm -f /tmp/valgrind.$$.log
echo "valgrind: $n test programs checked"
[ "$n" -gt 0 ] || rc=1
exit $rc
