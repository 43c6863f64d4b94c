// syscall.h — syscall dispatch (syscall.cc), for the EL0 exception entry
// (the IPC fastpath before it is el0_entry.cc's ipc_fastpath).
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "kernel/core/ipc.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/lock.h"
#include "kernel/object/objects.h"
#include "kernel/object/thread.h"

namespace keel {

// Runs the syscall in t's saved frame (results there too). Returns true if
// t yields the CPU.
bool syscall_dispatch(Thread* t) KEEL_REQUIRES(g_kernel_lock);

}  // namespace keel
