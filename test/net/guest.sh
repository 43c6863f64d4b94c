#!/bin/bash
# guest.sh — what the network tests share (sourced): free loopback ports,
# and a guest held up while the host side talks to it (the runner's
# --hold_file: it creates the file once every --expect matched and stops
# the guest when the file goes).
#   guest_start BOOT LOG RUNNER_ARGS...   boots; returns once the guest is up
#                                         (exits the test if it never comes up)
#   guest_stop                            ends it; prints its console log;
#                                         fails the test if the runner did

free_tcp_port() {  # a port nothing listens on at 127.0.0.1
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free TCP port" >&2
  exit 1
}
free_udp_port() {  # a UDP port nothing has bound
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ! ss -Hlun 2>/dev/null | grep -q ":$p "; then echo "$p"; return; fi
  done
  echo "no free UDP port" >&2
  exit 1
}

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
