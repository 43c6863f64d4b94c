#!/bin/bash
# blk_host_readback — the virtio-blk driver's writes, seen from outside the
# guest. A 64 KiB image: sector 0 = "KEELTEST" + zeros, sectors 1..127 a
# host pattern. The driver (servers/blk) writes its pattern to sectors
# 1..8, flushes and reads it back; then, with QEMU gone, this script checks
# every byte of the image: sector 0 and sectors 9..127 unchanged, 1..8 the
# driver's pattern ((i * 7 + i / 512) & 0xff for byte i of the range).
set -euo pipefail
boot=$1
dir=${TEST_TMPDIR:-$(mktemp -d)}
img=$dir/disk.img
want=$dir/want.img
# The host's image: sector 0 marked, the rest a pattern of the host's own.
{
  printf 'KEELTEST'
  head -c 504 /dev/zero
  for ((s = 1; s < 128; s++)); do printf 'host%04d' "$s"; head -c 504 /dev/zero | tr '\0' 'h'; done
} > "$img"
[[ $(stat -c %s "$img") -eq 65536 ]] || { echo "blk_host_readback: image is not 64 KiB" >&2; exit 1; }
# What the image must hold afterwards: the same, sectors 1..8 replaced.
cp "$img" "$want"
LC_ALL=C awk 'BEGIN { for (i = 0; i < 4096; i++) printf "%c", (i * 7 + int(i / 512)) % 256 }' > "$dir/pattern"
[[ $(stat -c %s "$dir/pattern") -eq 4096 ]] || { echo "blk_host_readback: bad pattern file" >&2; exit 1; }
dd if="$dir/pattern" of="$want" bs=512 seek=1 conv=notrunc status=none

# (Flags after the boot script: how to attach the image, --drive if none.)
flags=("${@:2}")
[[ ${#flags[@]} -gt 0 ]] || flags=(--drive)
"$boot" "${flags[@]}" "$img"

if cmp -l "$want" "$img" > "$dir/diff"; then
  echo "blk_host_readback: PASS: sectors 1..8 hold the driver's pattern, every other byte unchanged"
else
  echo "blk_host_readback: FAIL: $(wc -l < "$dir/diff") bytes differ from what the driver wrote; first:" >&2
  head -5 "$dir/diff" >&2
  exit 1
fi
