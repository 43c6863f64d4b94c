#!/bin/bash
# net_raw_test — raw Ethernet frames at keel's network driver and stack:
# //:image booted with its network device on a datagram netdev on
# 127.0.0.1 (QEMU at one loopback port, net_client at another; no user
# network, nothing leaves the machine). net_client plays the gateway:
#   10,000 UDP datagrams to the echo task, echoes counted (loss reported);
#   then 20,000 malformed frames — truncated, oversized, random, every
#   header field fuzzed, overlapping fragments — after which the driver and
#   stack must still be up (no fault, no lwIP assertion: the runner fails
#   on either) and the echo must still answer.
set -euo pipefail
boot=$1
client=$2
dir=${TEST_TMPDIR:-$(mktemp -d)}
hold=$dir/hold
log=$dir/console.log
free_udp_port() {  # a port nobody has bound on loopback (bash cannot ask for UDP: try by binding)
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ! ss -Hlun 2>/dev/null | grep -q ":$p "; then echo "$p"; return; fi
  done
  exit 1
}
qemu_port=$(free_udp_port)
my_port=$(free_udp_port)
rm -f "$hold"
"$boot" --hold_file="$hold" --net_dgram "$qemu_port:$my_port" > "$log" 2>&1 &
runner=$!
cleanup() { rm -f "$hold"; wait "$runner" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 600); do
  [[ -e "$hold" ]] && break
  kill -0 "$runner" 2>/dev/null || break
  sleep 0.2
done
[[ -e "$hold" ]] || { cat "$log"; echo "net_raw_test: FAIL: the guest did not come up" >&2; exit 1; }
status=0
"$client" raw_udp "$qemu_port" "$my_port" 10000 || status=1
"$client" raw_fuzz "$qemu_port" "$my_port" 20000 "${RAW_FUZZ_SEED:-1}" || status=1
rm -f "$hold"
rc=0
wait "$runner" || rc=$?
trap - EXIT
cat "$log"
[[ $rc -eq 0 ]] || { echo "net_raw_test: FAIL: the guest's run failed (runner exit $rc)" >&2; exit 1; }
[[ $status -eq 0 ]] || { echo "net_raw_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_raw_test: PASS"
