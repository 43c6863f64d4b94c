#!/bin/bash
# guest.sh — what the network tests share (sourced): free loopback ports,
# and a guest held up while the host side talks to it (the runner's
# --hold_file: it creates the file once every --expect matched and stops
# the guest when the file goes).
#   guest_start BOOT LOG RUNNER_ARGS...   boots; returns once the guest is up
#                                         (exits the test if it never comes up)
#   guest_stop                            ends it; prints its console log;
#                                         fails the test if the runner did

# Ports are drawn from below the kernel's ephemeral range: a port there can
# be the local end of any test's outgoing connection (curl, 1,000 at a time
# in net_host) between our check and QEMU's bind, and the hostfwd fails with
# "Could not set up host forwarding rule" (seen in CI). `ss` lists sockets
# in every state, TIME_WAIT included.
free_port_in() {  # free_port_in tcp|udp
  local lo hi p
  read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  [[ $lo -gt 12000 ]] || { echo "ephemeral ports start at $lo: no room below" >&2; exit 1; }
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % (lo - 10000)))
    if [[ $1 == tcp ]]; then
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
      ss -Htan 2>/dev/null | awk '{print $4; print $5}' | grep -q ":$p\$" && continue
    else
      ss -Huan 2>/dev/null | awk '{print $4}' | grep -q ":$p\$" && continue
    fi
    echo "$p"
    return
  done
  echo "no free $1 port" >&2
  exit 1
}
free_tcp_port() { free_port_in tcp; }  # a port no TCP socket here uses
free_udp_port() { free_port_in udp; }  # a UDP port nothing has bound

guest_start() {
  local boot=$1
  GUEST_LOG=$2
  shift 2
  GUEST_HOLD=$(mktemp -u "${TEST_TMPDIR:-/tmp}/hold.XXXXXX")
  "$boot" --hold_file="$GUEST_HOLD" "$@" > "$GUEST_LOG" 2>&1 &
  GUEST_RUNNER=$!
  trap 'rm -f "$GUEST_HOLD"; wait "$GUEST_RUNNER" 2>/dev/null || true' EXIT
  for _ in $(seq 600); do
    [[ -e "$GUEST_HOLD" ]] && return 0
    kill -0 "$GUEST_RUNNER" 2>/dev/null || break
    sleep 0.2
  done
  cat "$GUEST_LOG"
  echo "FAIL: the guest did not come up" >&2
  exit 1
}

guest_stop() {
  rm -f "$GUEST_HOLD"
  local rc=0
  wait "$GUEST_RUNNER" || rc=$?
  trap - EXIT
  cat "$GUEST_LOG"
  [[ $rc -eq 0 ]] || { echo "FAIL: the guest's run failed (runner exit $rc)" >&2; exit 1; }
}
