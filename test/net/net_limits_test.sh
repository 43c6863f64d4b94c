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
source "$3"  # guest.sh
dir=${TEST_TMPDIR:-$(mktemp -d)}
hog=$(free_tcp_port)
echo_port=$(free_tcp_port)
guest_start "$boot" "$dir/console.log" --net "tcp:$hog:8,tcp:$echo_port:7"
status=0
"$client" limits "$hog" "$echo_port" 40 || status=1
guest_stop
[[ $status -eq 0 ]] || { echo "net_limits_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_limits_test: PASS"
