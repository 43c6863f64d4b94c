#!/bin/bash
# net_restarts_test — the network driver crashed 20 times (every 400 ms,
# `crash net` typed by the runner; NET_KILLS=N for more, with a transfer
# that grows with it) while the host pushes 16 MiB through
# echo and reads it back: the transfer must complete byte-exact, and init
# must have restarted the driver every time. Then the stack itself is
# crashed once (after the 20th driver restart): httpd's and echo's waiting
# sockets fail with a reset (never hang), they listen again on the new
# stack, and curl gets the page.
set -euo pipefail
boot=$1
client=$2
source "$3"  # guest.sh
dir=${TEST_TMPDIR:-$(mktemp -d)}
kills=${NET_KILLS:-20}           # (--test_env=NET_KILLS=100: the long run)
mib=$(( kills * 8 / 10 > 16 ? kills * 8 / 10 : 16 ))  # a transfer that outlasts the crashes
http=$(free_tcp_port)
echo_port=$(free_tcp_port)
type=$dir/type
guest_start "$boot" "$dir/console.log" --net "tcp:$http:80,tcp:$echo_port:7" \
  --input_every="400:$kills|crash net\n" --type_file="$type"
status=0
"$client" tcp_bulk "$echo_port" "$mib" || status=1
# Every crash typed, and the last restart done, before the last check.
for _ in $(seq $((kills * 5 + 300))); do
  [[ $(grep -c '^init: net restarted after' "$dir/console.log" || true) -ge $kills ]] && break
  sleep 0.1
done
# Now the stack itself (the runner types what this file says).
printf 'crash netstack\n' > "$type"
for _ in $(seq 300); do
  grep -q '^httpd: listening on port 80' <(sed -n '/^httpd: the network stack restarted/,$p' "$dir/console.log") && break
  sleep 0.1
done
grep -q '^init: netstack restarted after' "$dir/console.log" || { echo "net_restarts_test: FAIL: the stack was not restarted" >&2; status=1; }
grep -q '^echo: the network stack restarted; opening the ports again' "$dir/console.log" ||
  { echo "net_restarts_test: FAIL: echo did not hear of the restart" >&2; status=1; }
curl -sS --max-time 20 "http://127.0.0.1:$http/" | grep -q '^keel: up ' || { echo "net_restarts_test: FAIL: no page after the stack's restart" >&2; status=1; }
"$client" http "$http" / --expect "net: received " || status=1
restarts=$(grep -c '^init: net restarted after' "$dir/console.log" || true)
guest_stop
echo "net_restarts_test: the driver was restarted $restarts times"
[[ $restarts -ge $kills ]] || { echo "net_restarts_test: FAIL: $restarts restarts, not $kills" >&2; exit 1; }
[[ $status -eq 0 ]] || { echo "net_restarts_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_restarts_test: PASS"
