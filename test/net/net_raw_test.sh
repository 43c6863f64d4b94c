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
source "$3"  # guest.sh
dir=${TEST_TMPDIR:-$(mktemp -d)}
qemu_port=$(free_udp_port)
my_port=$(free_udp_port)
guest_start "$boot" "$dir/console.log" --net_dgram "$qemu_port:$my_port"
status=0
"$client" raw_udp "$qemu_port" "$my_port" 10000 || status=1
"$client" raw_fuzz "$qemu_port" "$my_port" 20000 "${RAW_FUZZ_SEED:-1}" || status=1
guest_stop
[[ $status -eq 0 ]] || { echo "net_raw_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_raw_test: PASS"
