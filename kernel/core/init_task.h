// init_task.h — making the root task from the boot image.
#pragma once

#include "kernel/boot/boot_info.h"
#include "kernel/core/thread.h"
#include "kernel/dtb/dtb.h"

namespace keel {

// Hands all free RAM to init as untyped capabilities and builds init from
// the "init" boot module: its root CNode, Thread, AddressSpace, page tables
// and frames are all retyped from that untyped memory (layout: abi.h
// init_slot). On failure panics with the reason: without init there is no
// system. Returns init's Thread, ready to enter.
Thread* create_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt);

}  // namespace keel
