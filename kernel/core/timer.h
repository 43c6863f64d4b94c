// timer.h — time slices from the EL1 physical generic timer, through the GIC.
//
// The timer fires every kSliceMs while threads run at EL0 (IRQs are masked
// in the kernel, unmasked at EL0). On each tick the running thread goes to
// the back of its priority's queue: round-robin within a priority, and a
// higher-priority thread woken meanwhile runs at once.
#pragma once

#include <stdint.h>

#include "kernel/boot/boot_info.h"
#include "kernel/dtb/dtb.h"

namespace keel {

constexpr uint64_t kSliceMs = 10;

// Maps the GIC, initializes it and starts the tick. Returns false (and
// scheduling stays cooperative) if the DTB names no usable GIC or timer.
bool timer_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt);

// Handles one IRQ taken from EL0; returns true if the time slice ended.
bool timer_handle_irq();

// Stops the tick (the idle loop has nothing to slice).
void timer_stop();

}  // namespace keel
