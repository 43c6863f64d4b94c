// smp.h — starting the secondary CPUs (PSCI CPU_ON).
//
// Each secondary enters head.S's secondary_entry at its PA with the PA of
// its SecondaryBoot record, configures EL2 like the boot CPU, switches the
// MMU on through the same trampoline with the same (already preflighted)
// tables, and enters secondary_kernel_entry in the high half; then it sets
// up its own state (cpu.h), reports online, and runs the threads whose
// affinity is this CPU.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/boot/boot_info.h"
#include "kernel/core/cpu.h"
#include "kernel/dtb/dtb.h"

namespace keel {

// Read by head.S (with the MMU off: the boot CPU cleans it to PoC) and by
// entry.S; the offsets are pinned below.
struct SecondaryBoot {
  uint64_t ttbr0, ttbr1, mair, tcr, sctlr;
  uint64_t entry;       // VA of secondary_kernel_entry
  uint64_t arg;         // VA of this record
  uint64_t phys_sp;     // PA of a small stack for the MMU-off part
  uint64_t kstack_top;  // VA of its kernel stack
  uint64_t cpu;         // keel's number for it (the boot CPU is 0)
  uint64_t mpidr;
  uint64_t pad[5];  // one 128-byte line per record
};
static_assert(sizeof(SecondaryBoot) == 128);
static_assert(__builtin_offsetof(SecondaryBoot, phys_sp) == 56, "head.S");
static_assert(__builtin_offsetof(SecondaryBoot, kstack_top) == 64, "entry.S");

// Starts every CPU the DTB lists besides this one; returns how many CPUs are
// online (this one included). A CPU that fails to start is reported.
size_t start_secondaries(const boot::BootInfo& bi, const dtb::DtbInfo& dt);

}  // namespace keel
