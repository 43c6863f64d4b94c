#!/bin/bash
# blk_restarts — the block driver crashed 50 times under load (see BUILD);
# the memory server's totals must be what they were before; then the host
# reads the image: every 4 KiB block of the client's partition is exactly
# its last written pattern (stress_check, against the versions hash the
# client printed).
set -euo pipefail
boot=$1
check=$2
dir=${TEST_TMPDIR:-$(mktemp -d)}
img=$dir/disk.img
head -c $((512 << 10)) /dev/zero > "$img"
# (Flags after the checker: how to attach the image, --drive if none.)
flags=("${@:3}")
[[ ${#flags[@]} -gt 0 ]] || flags=(--drive)
"$boot" "${flags[@]}" "$img" | tee "$dir/console.log"
hash=$(tr -d '\r' < "$dir/console.log" | sed -n 's/^disk_stress: PASS: .* versions hash \([0-9a-f]*\)$/\1/p')
[[ -n $hash ]] || { echo "blk_restarts: FAIL: no versions hash from the client" >&2; exit 1; }
# Each fault kind the test injects in turn restarted the driver (BUILD).
for kind in 'a memory fault' 'an illegal instruction' 'it exited [(]code 3[)]' 'it did not answer its watchdog'; do
  n=$(grep -cE "^init: blk restarted after $kind" "$dir/console.log" || true)
  echo "blk_restarts: restarted after $kind: $n times"
  [[ $n -gt 0 ]] || { echo "blk_restarts: FAIL: no restart after $kind" >&2; exit 1; }
done
# Behind the SMMUv3, each wild descriptor was stopped by it and reported by
# the kernel with the stream's owner; no stream was ever unowned.
if [[ " ${flags[*]} " == *" --iommu "* ]]; then
  n=$(grep -cE "^keel: smmu: stream 0x8 [(]task [0-9]+[)]: translation fault, read at IOVA 0xdead00000000" "$dir/console.log" || true)
  echo "blk_restarts: wild descriptors the SMMU stopped and the kernel reported: $n"
  [[ $n -gt 0 ]] || { echo "blk_restarts: FAIL: no SMMU translation fault reported" >&2; exit 1; }
  ! grep -q "nobody's" "$dir/console.log" || { echo "blk_restarts: FAIL: DMA from an unowned stream" >&2; exit 1; }
fi
# The memory server's totals before the first crash and after the last.
mapfile -t totals < <(tr -d '\r' < "$dir/console.log" | grep '^memory server: ')
[[ ${#totals[@]} -eq 2 ]] || { echo "blk_restarts: FAIL: expected two 'mem' reports, got ${#totals[@]}" >&2; exit 1; }
[[ ${totals[0]} == "${totals[1]}" ]] || {
  echo "blk_restarts: FAIL: the memory server's totals changed across the restarts:" >&2
  printf '  %s\n' "${totals[@]}" >&2
  exit 1
}
echo "blk_restarts: the memory server's totals are the same after the restarts: ${totals[1]}"
"$check" "$img" 0 64 "$hash"
