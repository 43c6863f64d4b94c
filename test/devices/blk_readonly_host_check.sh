#!/bin/bash
# blk_readonly_host_check — the same three clients on a disk attached
# read-only (--drive FILE,ro): each write is refused with "read-only" before
# the device sees it, and afterwards the image file is byte for byte what
# the host made.
set -euo pipefail
boot=$1
dir=${TEST_TMPDIR:-$(mktemp -d)}
img=$dir/disk.img
for ((s = 0; s < 256; s++)); do printf 'host%04d' "$s"; head -c 504 /dev/zero | tr '\0' 'h'; done > "$img"
cp "$img" "$dir/before.img"
"$boot" --drive "$img,ro"
if cmp -s "$dir/before.img" "$img"; then
  echo "blk_readonly_host_check: PASS: the read-only image is unchanged"
else
  echo "blk_readonly_host_check: FAIL: the read-only image changed" >&2
  exit 1
fi
