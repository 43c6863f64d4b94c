#!/bin/bash
# bazel run //:debug as a user drives it: gdb attached to QEMU's gdbstub,
# `continue`, then Ctrl-C — a SIGINT to the terminal's foreground process
# group (here: the session the runner was started in). Ctrl-C must
# interrupt the guest (QEMU is in a process group of its own), not kill
# QEMU; keel-state names the current thread; backtraces end cleanly at the
# kernel's entry points; the session goes on (a second continue and Ctrl-C).
set -euo pipefail
work=$(mktemp -d)
log="$work/log"
fifo="$work/gdb-input"
mkfifo "$fifo"
: >"$log"
setsid ./debug.sh <"$fifo" >"$log" 2>&1 &
session=$!
exec 3>"$fifo"
cleanup() {
  exec 3>&- || true
  kill -TERM -"$session" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "debugger_ctrl_c: FAIL: $*" >&2
  echo "---- the session:" >&2
  cat "$log" >&2
  exit 1
}
# Waits until the session's output holds $1 (count $2, default 1).
await() {
  for _ in $(seq 1 300); do
    [[ $(grep -ac -- "$1" "$log" || true) -ge ${2:-1} ]] && return 0
    sleep 0.1
  done
  fail "no '$1' in the session"
}
ctrl_c() { kill -INT -"$session"; }

await "Try: break kernel_main"
echo "continue" >&3
await "Continuing."
sleep 2  # the system boots and idles at the console prompt
ctrl_c
await "Program received signal SIGINT"
echo "keel-state" >&3
await "current thread:"
echo "bt" >&3
echo "echo BT-DONE\\n" >&3
await "BT-DONE"
echo "continue" >&3
await "Continuing." 2
sleep 1
ctrl_c
await "Program received signal SIGINT" 2
echo "kill" >&3
echo "quit" >&3
exec 3>&-
wait "$session" || true

! grep -aq "Remote communication error" "$log" || fail "Ctrl-C killed QEMU"
! grep -aq "keel has no threads yet" "$log" || fail "keel-state printed its stale line"
grep -aqE "^current thread: (none \(CPU [0-9]+ runs no thread|[a-z_]+ \(at 0x)" "$log" || fail "keel-state did not name the current thread"
! grep -aq "corrupt stack" "$log" || fail "a backtrace did not end cleanly"
grep -aqE "^#[0-9]+ .* in (user_exception_common|kernel_entry|secondary_kernel_entry) " "$log" ||
  fail "the backtrace did not reach a kernel entry point"
echo "debugger_ctrl_c: PASS"
