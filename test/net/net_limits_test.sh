#!/bin/bash
# net_limits_test — one client cannot exhaust the network stack for the
# others: system/net_limits.system (echo, and hog, which accepts on port 8
# and reads nothing) through QEMU user networking (restrict=on, forwards on
# 127.0.0.1); net_client opens 40 connections to hog and pushes at each
# until the stack stops taking, then, with all of them open, checks that
# echo carries 8 MiB byte-exact and 100 connections in a row.
set -euo pipefail
boot=$1
client=$2
dir=${TEST_TMPDIR:-$(mktemp -d)}
hold=$dir/hold
log=$dir/console.log
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  exit 1
}
hog=$(free_port)
echo_port=$(free_port)
rm -f "$hold"
"$boot" --hold_file="$hold" --net "tcp:$hog:8,tcp:$echo_port:7" > "$log" 2>&1 &
runner=$!
cleanup() { rm -f "$hold"; wait "$runner" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 600); do
  [[ -e "$hold" ]] && break
  kill -0 "$runner" 2>/dev/null || break
  sleep 0.2
done
[[ -e "$hold" ]] || { cat "$log"; echo "net_limits_test: FAIL: the guest did not come up" >&2; exit 1; }
status=0
"$client" limits "$hog" "$echo_port" 40 || status=1
rm -f "$hold"
rc=0
wait "$runner" || rc=$?
trap - EXIT
cat "$log"
[[ $rc -eq 0 ]] || { echo "net_limits_test: FAIL: the guest's run failed (runner exit $rc)" >&2; exit 1; }
[[ $status -eq 0 ]] || { echo "net_limits_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_limits_test: PASS"
