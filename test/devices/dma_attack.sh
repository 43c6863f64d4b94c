#!/bin/bash
# dma_attack — the hostile driver's run (BUILD), then from the host: the
# honest client's disk holds exactly what it last wrote (stress_check);
# the attacker's disk is whatever the attack left (only sector 0 was ever
# read). Args: the boot script, stress_check, then runner flags.
set -euo pipefail
boot=$1
check=$2
dir=${TEST_TMPDIR:-$(mktemp -d)}
# The attacker's disk: sector 0 is "DMA!" repeated (a write that lands shows).
{ for ((i = 0; i < 128; i++)); do printf 'DMA!'; done; head -c $(((64 << 10) - 512)) /dev/zero; } > "$dir/attacker.img"
head -c $((512 << 10)) /dev/zero > "$dir/honest.img"
"$boot" "${@:3}" --pci_drive "$dir/attacker.img" --pci_drive "$dir/honest.img" | tee "$dir/console.log"
hash=$(tr -d '\r' < "$dir/console.log" | sed -n 's/^disk_stress: PASS: .* versions hash \([0-9a-f]*\)$/\1/p')
[[ -n $hash ]] || { echo "dma_attack: FAIL: no versions hash from the honest client" >&2; exit 1; }
"$check" "$dir/honest.img" 0 64 "$hash"
