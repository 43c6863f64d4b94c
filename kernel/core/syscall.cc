// syscall.cc — syscall decode and dispatch.
//
// vectors.S saved the caller's registers in its Thread's frame; the syscall
// number is x8 and the arguments are the typed views of keel/abi.h. Each
// syscall goes to the object file that owns it (kernel/object/), which
// checks everything first and leaves its results in the frame. Errors from
// a failed check end here: x0 = the abi::Error, nothing else changed.
#include "kernel/core/syscall.h"

#include "keel/abi.h"
#include "kernel/core/abi_map.h"
#include "kernel/core/cpu.h"
#include "kernel/core/ipc.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/object/objects.h"

namespace keel {

using abi::Syscall;

bool syscall_dispatch(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  abi::SyscallView r = t->regs();
  const uint64_t number = t->frame.syscall_number();
  Status st = Status::kOk;
  switch (number) {
    case abi::kSyscallDebugWrite: r.set_error(debug_write(*t)); return false;
    case static_cast<uint64_t>(Syscall::kYield): r.set_error(abi::Error::kOk); return true;
    case static_cast<uint64_t>(Syscall::kExit):
      if (!deliver_fault(t, abi::kFaultExit)) thread_stop(scheduler(), t);
      return false;
    case static_cast<uint64_t>(Syscall::kSend):
    case static_cast<uint64_t>(Syscall::kNBSend):
    case static_cast<uint64_t>(Syscall::kCall): st = endpoint_send(t, static_cast<Syscall>(number)); break;
    case static_cast<uint64_t>(Syscall::kRecv):
    case static_cast<uint64_t>(Syscall::kReplyRecv): st = endpoint_recv(t, static_cast<Syscall>(number)); break;
    case static_cast<uint64_t>(Syscall::kReply): st = reply_send(t); break;
    case static_cast<uint64_t>(Syscall::kSignal):
    case static_cast<uint64_t>(Syscall::kWait):
    case static_cast<uint64_t>(Syscall::kPoll): st = notification_call(t, static_cast<Syscall>(number)); break;
    case static_cast<uint64_t>(Syscall::kInvoke):
      st = invoke(t);
      if (st == Status::kRestart) {
        // Progress made and more to do (a long revoke): the thread executes
        // the same SVC again, its registers unchanged, after the kernel has
        // dropped the lock — other CPUs and interrupts get their turn.
        t->frame.elr -= 4;
        this_cpu().holder_checked |= kExitLetIn;  // and a CPU waiting for the lock gets it first (lock.h)
        return false;
      }
      r.set_error(to_abi(st));  // (results beyond x0 are in the frame already)
      return false;
    default:
      if (!deliver_fault(t, abi::kFaultUnknownSyscall)) r.set_error(abi::Error::kUnknownSyscall);
      return false;
  }
  // IPC and notification syscalls leave their results in the frames
  // themselves when they succeed; a failed check is reported here.
  if (st != Status::kOk) r.set_error(to_abi(st));
  return false;
}

}  // namespace keel
