#!/bin/bash
# net_test — keel on a network, from the host: //:image booted with
# `--net` (QEMU user networking, restrict=on: the guest can reach nothing;
# forwards bound to 127.0.0.1), then, while the guest runs, net_client
# (and curl) on 127.0.0.1 only:
#   GET / (plain text: tasks and their state, memory, console and network
#   counters) and GET /tasks (the same as JSON that parses) from httpd;
#   1,000 sequential and 50 concurrent TCP connections to echo, every byte
#   echoed in order; 10,000 UDP datagrams echoed (loss reported); a 64 MiB
#   TCP stream echoed, byte-exact.
set -euo pipefail
boot=$1
client=$2
dir=${TEST_TMPDIR:-$(mktemp -d)}
hold=$dir/hold
log=$dir/console.log

# Ports: free ones on loopback, picked now (two runs may share the machine).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "net_test: no free port" >&2
  exit 1
}
http=$(free_port)
echo_port=$(free_port)
rm -f "$hold"
"$boot" --hold_file="$hold" --net "tcp:$http:80,tcp:$echo_port:7,udp:$echo_port:7" > "$log" 2>&1 &
runner=$!
cleanup() { rm -f "$hold"; wait "$runner" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 600); do
  [[ -e "$hold" ]] && break
  kill -0 "$runner" 2>/dev/null || { cat "$log"; echo "net_test: FAIL: the guest did not come up" >&2; exit 1; }
  sleep 0.2
done
[[ -e "$hold" ]] || { cat "$log"; echo "net_test: FAIL: the guest did not come up" >&2; exit 1; }

status=0
run() { "$@" || status=1; }
run curl -sS --max-time 20 -o "$dir/root.txt" "http://127.0.0.1:$http/"
grep -q '^keel: up ' "$dir/root.txt" || { echo "net_test: FAIL: curl's GET / has no 'keel: up' line" >&2; status=1; }
echo "curl http://127.0.0.1:$http/ said:"; cat "$dir/root.txt"
run "$client" http "$http" / --expect "keel: up" --expect "httpd: task" --expect "memory: " --expect "console: " \
  --expect "net: received " --expect "netstack " --expect "running"
run "$client" http "$http" /tasks --json --expect '"system":"keel"' --expect '"name":"echo","state":"running"' \
  --expect '"net":{"rx_frames":'
run "$client" tcp_seq "$echo_port" 1000
run "$client" tcp_conc "$echo_port" 50
# (UDP: net_raw_test.sh — the restricted user network drops every datagram the guest sends)
run "$client" tcp_bulk "$echo_port" 64
# After all of it the services still answer.
run "$client" http "$http" / --expect "keel: up"

rm -f "$hold"
rc=0
wait "$runner" || rc=$?
trap - EXIT
cat "$log"
[[ $rc -eq 0 ]] || { echo "net_test: FAIL: the guest's run failed (runner exit $rc)" >&2; exit 1; }
[[ $status -eq 0 ]] || { echo "net_test: FAIL: a host-side check failed (above)" >&2; exit 1; }
echo "net_test: PASS"
