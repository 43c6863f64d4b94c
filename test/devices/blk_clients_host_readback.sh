#!/bin/bash
# blk_clients_host_readback — three clients on partitions of one 128 KiB
# disk (system/blk_clients.system): left [0, 32K), right [32K, 64K),
# hostile [64K, 72K). The host fills the image with its own pattern; the
# guest's left and right overwrite their partitions (byte pairs: task id,
# sector within the partition), the hostile client only reads. Afterwards,
# with QEMU gone: each partition holds exactly its client's pattern, and
# every byte outside them is the host's.
set -euo pipefail
boot=$1
dir=${TEST_TMPDIR:-$(mktemp -d)}
img=$dir/disk.img
want=$dir/want.img
for ((s = 0; s < 256; s++)); do printf 'host%04d' "$s"; head -c 504 /dev/zero | tr '\0' 'h'; done > "$img"
cp "$img" "$want"
# id: init is 1, then the tasks in description order (uart 2, memory 3, blk 4, left 5, right 6).
partition() {  # ID SECTORS: the client's pattern for its partition
  LC_ALL=C awk -v id="$1" -v n="$2" 'BEGIN { for (s = 0; s < n; s++) for (i = 0; i < 256; i++) printf "%c%c", id, s % 256 }'
}
partition 5 64 > "$dir/left"
partition 6 64 > "$dir/right"
dd if="$dir/left" of="$want" bs=512 seek=0 conv=notrunc status=none
dd if="$dir/right" of="$want" bs=512 seek=64 conv=notrunc status=none
[[ $(stat -c %s "$want") -eq 131072 ]] || { echo "blk_clients_host_readback: bad expected image" >&2; exit 1; }

"$boot" --drive "$img"

if cmp -l "$want" "$img" > "$dir/diff"; then
  echo "blk_clients_host_readback: PASS: both partitions hold their client's pattern, every other byte unchanged"
else
  echo "blk_clients_host_readback: FAIL: $(wc -l < "$dir/diff") bytes differ; first (offset, want, got in octal):" >&2
  head -5 "$dir/diff" >&2
  exit 1
fi
