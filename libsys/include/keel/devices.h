// devices.h — finding a device in the machine's DTB, for init and drivers.
//
// The kernel hands init the DTB read-only (abi::InitBootInfo::dtb_va); this
// is the lookup over it, on the kernel's own bounds-checked reader
// (kernel/dtb: dtb::walk), so a malformed DTB is an error here too, never a
// fault. Portable: host-tested on DTBs QEMU wrote.
//
// A device is named by a spec:
//   COMPATIBLE       the first enabled node with that compatible string
//   COMPATIBLE#N     the Nth (from 0) enabled node with it, in DTB order
//   /PATH            the node at that path (enabled)
//   stdout           the node /chosen/stdout-path names (the console)
// Disabled nodes (status other than "okay") are never found.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/dtb/dtb.h"
#include "kernel/lib/status.h"

namespace keel::devices {

constexpr size_t kMaxRanges = 8;
constexpr size_t kMaxIrqs = 8;
constexpr size_t kPathMax = 96;

struct Device {
  char path[kPathMax] = {};
  size_t range_count = 0;  // reg ranges in CPU physical addresses (at most kMaxRanges read)
  dtb::Range ranges[kMaxRanges];
  size_t irq_count = 0;  // GIC interrupts (at most kMaxIrqs read)
  dtb::Interrupt irqs[kMaxIrqs];
  bool dma_coherent = false;  // DMA snoops the caches: rings may be mapped write-back
};

// Finds the device `spec` names. kNotFound: no such enabled node (or its
// index is past the last); kInvalidArgument: a spec that is not of the
// forms above; kMalformed & co.: the DTB itself (why, if given, says why).
// stdout_path: /chosen/stdout-path if the caller knows it already (init:
// the kernel read it), so `stdout` costs one walk, not two.
Status find(const void* dtb, size_t size, const char* spec, Device* out, const char** why = nullptr,
            const char* stdout_path = nullptr);

// How many enabled nodes have this compatible string (0 on a bad DTB).
size_t count(const void* dtb, size_t size, const char* compatible);

}  // namespace keel::devices
