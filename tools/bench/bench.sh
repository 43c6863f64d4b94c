#!/bin/bash
# bazel run //:bench — keel's benchmark rows, every one measured under QEMU
# -icount shift=0 (one virtual nanosecond per guest instruction: counts
# repeat exactly from run to run). Runs three guests:
#   bench_ipc        user/bench/bench.cc as init: the PMU's instruction and
#                    cycle counters around syscalls and IPC (1000 rounds each)
#   bench_boot       the default system on 1 CPU, and
#   bench_boot_8cpu  on 8 CPUs: init prints the virtual counter at the ready
#                    line (user/init/init.cc report_boot_time): every
#                    instruction any CPU executed from reset to "keel ready"
# and the profiler (//:profile) on bench_ipc's inter-AS rounds for
#   ipc_roundtrip_lock_held  instructions executed holding the kernel lock
#                    per round trip (cycles: the same, QEMU's cycle counter
#                    under -icount shift=0)
# and, from the profiler on user/bench/hostile.cc (as init), for
#   max_lock_hold    the longest single hold of the kernel lock while a task
#                    does the worst it can (docs/performance.md)
# and ends with the rows alone, one per line: <name> <N> instructions <M> cycles.
# Extra arguments go to every runner (bazel run //:qemu -- --help).
set -euo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for runner in bench_ipc bench_boot bench_boot_8cpu; do
  echo "== $runner"
  if ! "./$runner.sh" "$@" | tee -a "$out"; then
    echo "bench: $runner failed" >&2
    exit 1
  fi
done
# The block request rows need a disk: a scratch 4 MiB image.
echo "== bench_blk"
disk=$(mktemp)
trap 'rm -f "$out" "$disk"' EXIT
head -c $((4 << 20)) /dev/zero > "$disk"
if ! ./bench_blk.sh --drive "$disk" "$@" | tee -a "$out"; then
  echo "bench: bench_blk failed" >&2
  exit 1
fi
# Instructions run holding the kernel lock, per inter-AS round trip: not a
# PMU count but the profiler's (tools/profile), over the same 1000 rounds.
echo "== ipc_roundtrip_lock_held"
if ! tools/profile/profile --runner_tool=tools/qemu_runner/qemu_runner \
  --plugin_tool=tools/profile/keel_profile_plugin.so --bench_image=image_bench.bin --boot_image=image.bin \
  ipc_roundtrip_inter_as --row ipc_roundtrip_lock_held "$@" | tee -a "$out"; then
  echo "bench: the lock-held profile failed" >&2
  exit 1
fi
# The longest single hold of the kernel lock while a task does the worst it
# can (user/bench/hostile.cc: big CNodes of copy chains deleted, a chain
# revoked, 512 tables, 10,000 waiters, a 2 MiB retype): the profiler's
# lock tracking over all six windows.
echo "== max_lock_hold"
if ! tools/profile/profile --runner_tool=tools/qemu_runner/qemu_runner \
  --plugin_tool=tools/profile/keel_profile_plugin.so --bench_image=image_bench.bin --boot_image=image.bin \
  image_hostile.bin --from hostile_window_begin --to hostile_window_end --expect 'HOSTILE DONE' --timeout 300 \
  --max_hold_row max_lock_hold "$@" | tee -a "$out"; then
  echo "bench: the hostile profile failed" >&2
  exit 1
fi
echo "== rows"
tr -d '\r' <"$out" | grep -E '^[a-z0-9_]+ [0-9]+ instructions [0-9]+ cycles$'
