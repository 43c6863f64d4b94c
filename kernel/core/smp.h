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

#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/boot/boot_info.h"
#include "kernel/core/cpu.h"
#include "kernel/dtb/dtb.h"

namespace keel {

// Starts every CPU the DTB lists besides this one; returns how many CPUs are
// online (this one included). A CPU that fails to start is reported.
size_t start_secondaries(const boot::BootInfo& bi, const dtb::DtbInfo& dt);

}  // namespace keel
