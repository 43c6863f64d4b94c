// irq.h — interrupts: the GIC, the time-slice tick, and device interrupts
// bound to notifications (IrqHandler capabilities).
//
// Each CPU's EL1 physical generic timer fires every kSliceMs while threads
// run at EL0 on it (IRQs are masked in the kernel, unmasked at EL0). On each tick the
// running thread goes to the back of its priority's queue: round-robin
// within a priority, and a higher-priority thread woken meanwhile runs at
// once. A device interrupt signals its notification and stays masked at the
// GIC until its handler acks. Device interrupts go to the boot CPU; SGIs
// (cpu.h) reach every CPU.
#pragma once

#include <stdint.h>

#include "kernel/boot/boot_info.h"
#include "kernel/core/lock.h"
#include "kernel/dtb/dtb.h"
#include "kernel/lib/status.h"

namespace keel {

constexpr uint64_t kSliceMs = 10;

// Maps the GIC, initializes it and this (the boot) CPU's interface, and
// starts its tick. Returns false (and scheduling stays cooperative) if the
// DTB names no usable GIC or timer.
bool timer_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt);
// The same for a secondary CPU, after timer_init: its GIC interface and tick.
bool timer_init_cpu();

// Takes one pending interrupt from the GIC: the tick, an SGI (another CPU
// queued work here: kReschedule), or a device interrupt bound to a
// notification (signalled, and masked until its handler acks).
enum class IrqResult { kNone, kTick, kDevice, kReschedule };
IrqResult irq_dispatch() KEEL_REQUIRES(g_kernel_lock);

// Stops / restarts the tick (the idle loop has nothing to slice).
void timer_stop();
void timer_restart();

// Maps device registers the kernel keeps (the SMMU's) into its device
// window; their VA, or 0. Boot only (tables from the boot pool).
uint64_t map_kernel_device(const boot::BootInfo& bi, uint64_t pa, uint64_t size);
// An SPI the kernel itself handles (the SMMU's event queue): claimed for
// good, edge-triggered, enabled.
Status irq_claim_kernel(uint32_t intid);

// Device interrupts (SPIs) for IrqControl/IrqHandler capabilities.
Status irq_claim(uint32_t intid);                                   // kSlotOccupied if taken
Status irq_bind(uint32_t intid, uint64_t ntfn_pa, uint64_t badge);  // and unmask it
void irq_forget_notification(uint64_t ntfn_pa);                     // it is being destroyed
Status irq_ack(uint32_t intid);                                     // unmask after handling
void irq_release(uint32_t intid);                                   // the handler is gone
// The user timer (intids abi::kTimerIntid + 0..kTimerChannels-1, channels
// of the EL1 virtual timer): each claimed, bound, released like an SPI,
// one deadline each, armed on the CPU that sets it; a CPU's timer is
// programmed for the earliest deadline armed there. When it fires, every
// channel due signals its notification once and the timer is programmed
// for the next (or stopped: no interrupt storm from a level that stays
// asserted).
Status user_timer_set(uint32_t intid, uint64_t deadline);

}  // namespace keel
