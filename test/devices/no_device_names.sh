#!/bin/bash
# No kernel or init code names a particular device: drivers get their
# devices from the system description and the DTB (docs/drivers.md).
# Allowed: the kernel's own boot console before the hand-over (the PL011
# it prints panics on) and the hardware it owns (GIC, timer, IOMMU).
# Fails naming the file and line.
set -u
readme="${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-keel}/README.md"
cd "$(dirname "$(readlink -f "$readme")")" || { echo "no_device_names: cannot find the source tree" >&2; exit 1; }
[[ -d kernel && -d user/init ]] || { echo "no_device_names: $(pwd) is not keel's source tree" >&2; exit 1; }
status=0
# init: no device at all, not even the console's.
if hits=$(grep -rniE 'pl011|pl031|uart|virtio|rtc\b|0x0?9000000|0x0?9010000|0x0?a000000' user/init/); then
  echo "no_device_names: user/init names a device:" >&2
  echo "$hits" >&2
  status=1
fi
# The kernel: none beyond its own console and the hardware it keeps.
if hits=$(grep -rniE 'pl031|pl061|virtio|\brtc\b|fw-cfg|0x0?9010000|0x0?a000000|cfi-flash' kernel/ \
  --include='*.cc' --include='*.h' --include='*.S' --exclude='*_test.cc' --exclude='*_fuzz.cc'); then
  echo "no_device_names: the kernel names a device it does not own:" >&2
  echo "$hits" >&2
  status=1
fi
[[ $status -eq 0 ]] && echo "no_device_names: PASS (user/init and kernel/ name no driver's device)"
exit $status
