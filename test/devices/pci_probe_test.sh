#!/bin/bash
# pci_probe_test — libsys's PCI layer on QEMU's real PCI Express (through
# tools/pci_probe): a virtio-blk-pci and a virtio-net-pci behind the SMMUv3
# are found, their BARs placed in virt's windows and read back as
# programmed, their INTx routed by the DTB's interrupt-map, their stream IDs
# from the iommu-map, and their virtio structures located; without the
# SMMUv3 there are no stream IDs.
set -uo pipefail
probe=$1
fail=0
out=$("$probe" --smmu --device virtio-blk-pci,disable-legacy=on,iommu_platform=on --device virtio-net-pci,disable-legacy=on 2>&1)
echo "$out"
for p in \
  '^pci_probe: host /pcie@10000000: ECAM 0x4010000000 \(buses 0\.\.255\), 3 windows, 16 INTx routes, behind an IOMMU' \
  '^pci_probe: 3 function\(s\) on bus 0; BARs all placed$' \
  '^pci_probe: [0-9]+ placed BAR\(s\) read back from the device: [0-9]+ as programmed, 0 not$' \
  '^pci_probe: 1af4:1042 at 00:01\.0 class 010000$' \
  '^pci_probe:   BAR4 64-bit prefetchable 16 KiB at 0x8000000000 \(CPU 0x8000000000\)$' \
  '^pci_probe:   INTA -> INTID 36 \(level\)$' \
  '^pci_probe:   stream ID 0x8$' \
  '^pci_probe:   virtio device type 2: common BAR4\+0x0, notify BAR4\+0x3000 \(x4\), ISR BAR4\+0x1000, device BAR4\+0x2000$' \
  '^pci_probe: 1af4:1041 at 00:02\.0 class 020000$' \
  '^pci_probe:   INTA -> INTID 37 \(level\)$' \
  '^pci_probe:   virtio device type 1: '; do
  grep -Eq -- "$p" <<<"$out" || { echo "pci_probe_test: FAIL: nothing matches: $p"; fail=1; }
done
plain=$("$probe" --device virtio-blk-pci,disable-legacy=on 2>&1)
echo "$plain"
grep -q 'no IOMMU' <<<"$plain" || { echo "pci_probe_test: FAIL: without --smmu the host should have no IOMMU"; fail=1; }
if grep -q 'stream ID' <<<"$plain"; then
  echo "pci_probe_test: FAIL: stream IDs without an IOMMU"
  fail=1
fi
[ "$fail" = 0 ] && echo "pci_probe_test: PASS"
exit "$fail"
