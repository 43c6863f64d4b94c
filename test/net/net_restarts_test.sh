#!/bin/bash
# net_restarts_test — the network driver crashed 20 times (every 400 ms,
# `crash net any` typed by the runner: a memory fault and an illegal
# instruction in turn; then one wild DMA descriptor; NET_KILLS=N for more, with a transfer
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
# Types TEXT at the guest's console: the runner types the type file's
# contents whenever it sees the file, so it is written whole and renamed
# into place (a file seen between its creation and its write would be
# typed empty, and the command lost).
type_text() { printf '%s\n' "$1" > "$type.tmp" && mv "$type.tmp" "$type"; }
guest_start "$boot" "$dir/console.log" --net "tcp:$http:80,tcp:$echo_port:7" \
  --input_every="400:$kills|crash net any\n" --type_file="$type"
status=0
"$client" tcp_bulk "$echo_port" "$mib" || status=1
# Every crash typed, and the last restart done, before the last check.
for _ in $(seq $((kills * 5 + 300))); do
  [[ $(grep -c '^init: net restarted after' "$dir/console.log" || true) -ge $kills ]] && break
  sleep 0.1
done
# A wild DMA descriptor: it bites at the driver's next one (traffic, a page
# fetched, brings it); the device asks for a reset, the driver exits with
# code 3 and is restarted.
type_text 'crash net dma'
for _ in $(seq 300); do
  grep -q '^init: net restarted after it exited (code 3)' "$dir/console.log" && break
  curl -s --max-time 1 "http://127.0.0.1:$http/" > /dev/null || true
  sleep 0.1
done
grep -q '^net: the device reports an error and needs a reset' "$dir/console.log" ||
  { echo "net_restarts_test: FAIL: the wild descriptor was not reported" >&2; status=1; }
# Now the stack itself.
type_text 'crash netstack'
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
# `crash net any`: a memory fault and an illegal instruction in turn; then the wild descriptor.
for kind in 'a memory fault' 'an illegal instruction' 'it exited [(]code 3[)]'; do
  n=$(grep -cE "^init: net (restarted|failed again).* after $kind" "$dir/console.log" || true)
  echo "net_restarts_test: restarted after $kind: $n times"
  [[ $n -gt 0 ]] || { echo "net_restarts_test: FAIL: no restart after $kind" >&2; status=1; }
done
guest_stop
echo "net_restarts_test: the driver was restarted $restarts times"
[[ $restarts -ge $((kills + 1)) ]] || { echo "net_restarts_test: FAIL: $restarts restarts, not $kills" >&2; exit 1; }
[[ $status -eq 0 ]] || { echo "net_restarts_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_restarts_test: PASS"
