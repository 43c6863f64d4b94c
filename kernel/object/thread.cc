// thread.cc — the Thread object's invocations and its destroy case.
//
// A thread holds its root CNode and address space as capabilities of its
// own (Thread::cspace_slot, vspace_slot, flagged kFlagHeld): they sit in the
// derivation tree, so deleting the objects removes them too. Losing its
// space stops the thread for good (thread_lost_space).
#include "kernel/arch/arm64/pte.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/core/cpu.h"
#include "kernel/core/fpu.h"
#include "kernel/core/ipc.h"
#include "kernel/object/objects.h"

namespace keel {
namespace {

using abi::ObjectType;
using object::Slot;

// Configure: only an inactive thread; its CNode and space from the caller's
// slots, no priority above the caller's, not its own references.
Status configure(Thread* t, Thread* th) KEEL_REQUIRES(g_kernel_lock) {
  const auto a = t->regs().method_args<abi::ThreadConfigure>();
  if (th->state != ThreadState::kInactive) return Status::kInvalidArgument;
  Slot* cn = nullptr;
  Slot* as = nullptr;
  Status s = lookup_slot(*t, a.cnode, ObjectType::kCNode, 0, &cn);
  if (s == Status::kOk) s = lookup_slot(*t, a.address_space, ObjectType::kAddressSpace, 0, &as);
  if (s != Status::kOk) return s;
  if (a.priority > t->priority) return Status::kInvalidArgument;
  if (cn == &th->cspace_slot || as == &th->vspace_slot) return Status::kInvalidArgument;
  // -- perform. Replacing its references is not a loss of its space (no stop).
  th->vspace_slot.cap.flags &= ~object::kFlagHeld;
  if (!th->cspace_slot.empty()) (void)object::remove(&th->cspace_slot, object_hooks());
  if (!th->vspace_slot.empty()) (void)object::remove(&th->vspace_slot, object_hooks());
  th->as_root = 0;
  s = object::derive(cn, &th->cspace_slot, cn->cap.rights, 0);
  if (s == Status::kOk) s = object::derive(as, &th->vspace_slot, as->cap.rights, 0);
  if (s != Status::kOk) return s;  // (cannot happen: both slots were just emptied, both sources are live)
  th->cspace_slot.cap.flags |= object::kFlagHeld;
  th->vspace_slot.cap.flags |= object::kFlagHeld;  // removing it stops the thread (thread_lost_space)
  th->as_root = as->cap.object;
  set_ttbr0_gen(th, 0);  // computed when it first runs
  th->priority = static_cast<uint32_t>(a.priority);
  th->fault_ep_index = a.fault_endpoint;  // looked up in its own CNode when it faults
  return Status::kOk;
}

Status start(Thread* t, Thread* th) KEEL_REQUIRES(g_kernel_lock) {
  const auto a = t->regs().method_args<abi::ThreadStart>();
  if (th->state != ThreadState::kInactive || th->vspace_slot.empty() || th->cspace_slot.empty()) {
    return Status::kInvalidArgument;
  }
  if (a.pc >= abi::kUserLimit || a.sp > abi::kUserLimit || (a.sp & 15) != 0 || (a.pc & 3) != 0) {
    return Status::kInvalidArgument;
  }
  th->frame = arm64::ExceptionFrame{};
  th->frame.elr = a.pc;
  th->frame.sp = a.sp;
  th->frame.set_entry_argument(a.arg);
  th->frame.spsr = arm64::Spsr{}.m(arm64::Spsr::kEl0t).d(1).f(1).raw;  // IRQs on: the tick preempts
  set_state(th, ThreadState::kRunnable);
  scheduler().enqueue(th);
  return Status::kOk;
}

Status set_affinity(Thread* t, Thread* th) KEEL_REQUIRES(g_kernel_lock) {
  const uint64_t cpu = t->regs().method_args<abi::ThreadSetAffinity>().cpu;
  if (!cpu_online(cpu)) return Status::kInvalidArgument;
  bool queued = th->run_queued != 0;
  if (queued) scheduler().remove(th);
  uint32_t was = th->cpu;
  set_cpu(th, static_cast<uint32_t>(cpu));
  if (queued) scheduler().enqueue(th);  // (kicks its new CPU)
  // Running on its old CPU right now: that CPU moves it when it next enters the kernel.
  if (cpu_current(was) == th && was != this_cpu().index) cpu_kick(was);
  return Status::kOk;
}

}  // namespace

Status thread_invoke(Thread* t, Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock) {
  if ((s->cap.rights & abi::kRightWrite) == 0) return Status::kInsufficientRights;
  Thread* th = object_at<Thread>(s->cap);
  switch (m) {
    case abi::Method::kThreadConfigure: return configure(t, th);
    case abi::Method::kThreadStart: return start(t, th);
    case abi::Method::kThreadSetIpcBuffer: {
      const uint64_t va = t->regs().method_args<abi::ThreadSetIpcBuffer>().va;
      if (va == 0 || va >= abi::kUserLimit || (va & (arm64::kPageSize - 1)) != 0) return Status::kInvalidArgument;
      th->ipc_buffer = va;
      return Status::kOk;
    }
    case abi::Method::kThreadSuspend:
      cpus_release_thread(th);  // running on another CPU: it parks it first (cpu.h)
      thread_detach(scheduler(), th);
      return Status::kOk;
    case abi::Method::kThreadSetAffinity: return set_affinity(t, th);
    default: return Status::kInvalidArgument;
  }
}

// Sends t's fault to its fault endpoint: the slot named at ThreadConfigure,
// looked up in t's own CNode now (so a deleted endpoint is simply absent).
// Returns false if there is no usable endpoint; the caller then stops t.
bool deliver_fault(Thread* t, uint64_t kind) KEEL_REQUIRES(g_kernel_lock) {
  if (t->fault_ep_index == 0) return false;
  Found<Endpoint> ep = lookup<Endpoint>(*t, t->fault_ep_index, abi::kRightWrite);
  if (!ep.ok()) return false;
  const bool exit = kind == abi::kFaultExit;  // MR0 = the exit code (abi.h)
  const uint64_t mr[4] = {exit ? t->regs().args<abi::ExitArgs>().code : t->frame.esr, exit ? 0 : t->frame.far,
                          t->frame.elr, t->frame.sp};
  ipc_send_fault(scheduler(), ep.object, t, ep.badge() | abi::kFaultBadge, kind, mr);
  return true;
}

void thread_destroy(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  cpus_release_thread(t);  // another CPU running it parks it first (cpu.h)
  thread_stop(scheduler(), t);
  fp_forget(t);
  // The capabilities the thread held go with it.
  if (!t->cspace_slot.empty()) (void)object::remove(&t->cspace_slot, object_hooks());
  if (!t->vspace_slot.empty()) (void)object::remove(&t->vspace_slot, object_hooks());
}

// Its own reference to its address space is gone, so the space may go now:
// the thread stops for good first — off every queue, its callers released
// with kObjectDestroyed, parked if another CPU runs it. It never runs or
// takes part in IPC again, so nothing walks its tables.
void thread_lost_space(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  cpus_release_thread(t);
  thread_stop(scheduler(), t);
  t->as_root = 0;
}

}  // namespace keel
