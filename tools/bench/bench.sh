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
# then bench_ipc again on 2 CPUs for ipc_roundtrip_registers_inter_as_2cpu
# (the fastpath with its cross-CPU exclusion),
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
trap 'rm -f "$out" "$out.smp" "$out.guest" "$out.wall"' EXIT  # (every temporary, on any exit)
for runner in bench_ipc bench_boot bench_boot_8cpu; do
  echo "== $runner"
  if ! "./$runner.sh" "$@" | tee -a "$out"; then
    echo "bench: $runner failed" >&2
    exit 1
  fi
done
# The IPC fastpath on a kernel with two CPUs online: the copy with the
# cross-CPU exclusion and the endpoint's lock (docs/smp.md "One CPU"); the
# rows above are of one CPU, where neither is needed. The register row
# across spaces, renamed.
echo "== bench_ipc on 2 CPUs"
if ! ./bench_ipc.sh --smp 2 "$@" >"$out.smp"; then
  cat "$out.smp"
  echo "bench: bench_ipc on 2 CPUs failed" >&2
  exit 1
fi
tr -d '\r' <"$out.smp" | sed -nE 's/^(ipc_roundtrip_registers_inter_as) ([0-9]+ instructions)/\1_2cpu \2/p' | tee -a "$out"
rm -f "$out.smp"
# The block request rows need a disk: a scratch 4 MiB image.
echo "== bench_blk"
disk=$(mktemp)
trap 'rm -f "$out" "$out.smp" "$out.guest" "$out.wall" "$disk"' EXIT
head -c $((4 << 20)) /dev/zero > "$disk"
if ! ./bench_blk.sh --drive "$disk" "$@" | tee -a "$out"; then
  echo "bench: bench_blk failed" >&2
  exit 1
fi
# The same through virtio-blk-pci behind the SMMUv3 (DMA confined).
echo "== bench_blk_iommu"
if ! ./bench_blk_iommu.sh --pci_drive "$disk" "$@" | tee -a "$out"; then
  echo "bench: bench_blk_iommu failed" >&2
  exit 1
fi
# The network: the instructions per UDP echo (exact under -icount: raw
# frames over a datagram netdev on 127.0.0.1, the guest's PMU between the
# host's markers), then, without -icount, wall-clock rates that are a
# ratio on this machine and no gate: TCP from the host into the guest
# through user networking (restrict=on, a forward on 127.0.0.1) and the
# UDP echo round trip.
echo "== bench_net"
client=test/net/net_client
net_guest() {  # net_guest RUNNER_ARGS... -- CLIENT_ARGS...
  local hold
  hold=$(mktemp -u)
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  ./bench_net.sh --hold_file="$hold" "${args[@]}" > "$out.guest" 2>&1 &
  local runner=$!
  for _ in $(seq 300); do [[ -e "$hold" ]] && break; sleep 0.2; done
  local rc=0
  "$client" "$@" || rc=1
  rm -f "$hold"
  wait "$runner" || rc=1
  grep -E '^net_udp_echo |^echo: bench' "$out.guest" || true
  [[ $rc -eq 0 ]] || { cat "$out.guest"; echo "bench: the network run failed" >&2; exit 1; }
}
port() { echo $((20000 + RANDOM % 30000)); }
qp=$(port) mp=$(port)
net_guest --icount --net_dgram "$qp:$mp" -- raw_udp_bench "$qp" "$mp" 1000 | tee -a "$out"
qp=$(port) mp=$(port)
net_guest --net_dgram "$qp:$mp" -- raw_udp_bench "$qp" "$mp" 2000 | grep -E '^net_udp_echo_us' | tee -a "$out.wall"
hp=$(port)
net_guest --net "tcp:$hp:9" -- tcp_sink "$hp" 64 | tee -a "$out.wall"
rm -f "$out.guest"
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
echo "== wall-clock (this machine, no gate)"
cat "$out.wall"
rm -f "$out.wall"
echo "== rows"
tr -d '\r' <"$out" | grep -E '^[a-z0-9_]+ [0-9]+ instructions [0-9]+ cycles$'
