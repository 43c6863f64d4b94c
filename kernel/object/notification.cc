// notification.cc — the syscalls on Notification objects (Signal with the
// write right, Wait and Poll with the read right) and its destroy case.
#include "kernel/arch/arch.h"
#include "kernel/core/console.h"
#include "kernel/core/ipc.h"
#include "kernel/core/irq.h"
#include "kernel/object/objects.h"

namespace keel {

Status notification_call(Thread* t, abi::Syscall s) KEEL_REQUIRES(g_kernel_lock) {
  const uint64_t cap = t->regs().args<abi::NotificationArgs>().cap;
  const bool signal = s == abi::Syscall::kSignal;
  Found<Notification> n = lookup<Notification>(*t, cap, signal ? abi::kRightWrite : abi::kRightRead);
  if (!n.ok()) return n.status;
  if (signal) {
    ntfn_signal(scheduler(), n.object, n.badge());
    t->regs().set_error(abi::Error::kOk);
  } else {
    ntfn_wait(n.object, t, s == abi::Syscall::kWait);
  }
  return Status::kOk;
}

void notification_destroy(uint64_t pa) KEEL_REQUIRES(g_kernel_lock) {
  irq_forget_notification(pa);  // nothing may signal it any more
  console_forget_notification(pa);
  if (!ntfn_destroy(scheduler(), arch::phys<Notification>(pa), kWaitersBatch)) dying_push(pa, true);  // (objects.h)
}

}  // namespace keel
