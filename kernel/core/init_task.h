// init_task.h — making the root task from the boot image.
#pragma once

#include <stddef.h>

#include "kernel/boot/boot_info.h"
#include "kernel/core/lock.h"
#include "kernel/dtb/dtb.h"
#include "kernel/object/thread.h"

namespace keel {

// Hands all free RAM to init as untyped capabilities and builds init from
// the "init" boot module: its root CNode, Thread, AddressSpace, page tables
// and frames are all retyped from that untyped memory (layout: abi.h
// init_slot). On failure panics with the reason: without init there is no
// system. Returns init's Thread, ready to enter.
// Self-test: init's first frame capability forgets the mapping it records
// (a kernel bug made on purpose; the invariant checker must name it).
void forget_first_frame_record() KEEL_REQUIRES(g_kernel_lock);

Thread* create_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt) KEEL_REQUIRES(g_kernel_lock);

// Records in init's boot-info page how many CPUs came online (after
// start_secondaries; before init runs).
void boot_info_set_cpus_online(size_t n);

}  // namespace keel
