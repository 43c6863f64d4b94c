// syscall.h — syscall dispatch (syscall.cc) and the IPC fastpath, for the
// EL0 exception entry.
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

// Call and ReplyRecv on the common path: the thread to run next, or null
// having changed nothing (then syscall_dispatch handles it from the start).
// Checks only, then ipc.h's fastpath functions, which decline whenever
// anything is unusual. Inline: the EL0 entry runs it before anything else.
inline Thread* syscall_fastpath(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  const uint64_t n = t->frame.syscall_number();
  const bool call = n == static_cast<uint64_t>(abi::Syscall::kCall);
  if (!call && n != static_cast<uint64_t>(abi::Syscall::kReplyRecv)) return nullptr;
  const auto a = t->regs().args<abi::IpcArgs>();
  if (!call && a.reply != 0) return nullptr;
  Found<Endpoint> ep = lookup<Endpoint>(*t, a.cap, call ? abi::kRightWrite : abi::kRightRead);
  if (!ep.ok()) return nullptr;
  return call ? ipc_fastpath_call(scheduler(), ep.object, t, ep.badge())
              : ipc_fastpath_reply_recv(scheduler(), ep.object, t);
}

}  // namespace keel
