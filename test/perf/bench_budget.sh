#!/bin/bash
# The bench's exact instruction counts against test/perf/budget.txt: any row
# over its budget fails, naming the row, the count and the budget. Rows
# under budget pass with a note to lower it (the budget is a ratchet).
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! ./bench >"$log" 2>&1; then
  cat "$log"
  echo "bench_budget: FAIL: the bench did not run to the end"
  exit 1
fi
rows=$(tr -d '\r' <"$log" | grep -E '^[a-z0-9_]+ [0-9]+ instructions [0-9]+ cycles$')
echo "$rows"
fail=0
while read -r name budget; do
  case "$name" in '#'* | '') continue ;; esac
  n=$(awk -v r="$name" '$1 == r { print $2; exit }' <<<"$rows")
  if [ -z "$n" ]; then
    echo "bench_budget: FAIL: no row $name in the bench output"
    fail=1
  elif [ "$n" -gt "$budget" ]; then
    echo "bench_budget: FAIL: $name takes $n instructions, over its budget of $budget (+$((n - budget))):" \
      "find the cost with 'bazel run //:profile -- <scenario>'; if it is worth it, raise test/perf/budget.txt" \
      "in the same commit and say why"
    fail=1
  elif [ "$n" -lt "$budget" ]; then
    echo "bench_budget: note: $name takes $n, under its budget of $budget: lower the budget to keep the gain"
  fi
done <test/perf/budget.txt
[ "$fail" = 0 ] && echo "bench_budget: PASS: every row within test/perf/budget.txt"
exit "$fail"
