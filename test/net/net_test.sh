#!/bin/bash
# net_test — keel on a network, from the host: //:image booted with
# `--net` (QEMU user networking, restrict=on: the guest can reach nothing;
# forwards bound to 127.0.0.1), then, while the guest runs, net_client
# (and curl) on 127.0.0.1 only:
#   GET / (plain text: tasks and their state, memory, console and network
#   counters) and GET /tasks (the same as JSON that parses) from httpd;
#   1,000 sequential and 50 concurrent TCP connections to echo, every byte
#   echoed in order; a 64 MiB TCP stream echoed, byte-exact.
# (UDP: net_raw_test.sh — the restricted user network drops every datagram
# the guest sends.)
set -euo pipefail
boot=$1
client=$2
source "$3"  # guest.sh
dir=${TEST_TMPDIR:-$(mktemp -d)}
http=$(free_tcp_port)
echo_port=$(free_tcp_port)
guest_start "$boot" "$dir/console.log" --net "tcp:$http:80,tcp:$echo_port:7"

status=0
run() { "$@" || status=1; }
run curl -sS --max-time 20 -o "$dir/root.txt" "http://127.0.0.1:$http/"
grep -q '^keel: up ' "$dir/root.txt" || { echo "net_test: FAIL: curl's GET / has no 'keel: up' line" >&2; status=1; }
echo "curl http://127.0.0.1:$http/ said:"
cat "$dir/root.txt"
run "$client" http "$http" / --expect "keel: up" --expect "httpd: task" --expect "memory: " --expect "console: " \
  --expect "net: received " --expect "netstack " --expect "running"
run "$client" http "$http" /tasks --json --expect '"system":"keel"' --expect '"name":"echo","state":"running"' \
  --expect '"net":{"rx_frames":'
run "$client" tcp_seq "$echo_port" 1000
run "$client" tcp_conc "$echo_port" 50
run "$client" tcp_bulk "$echo_port" 64
# After all of it the services still answer.
run "$client" http "$http" / --expect "keel: up"

guest_stop
[[ $status -eq 0 ]] || { echo "net_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_test: PASS"
