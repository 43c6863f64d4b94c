// endpoint.cc — the syscalls on Endpoint and Reply objects: decoded here
// (capabilities, rights, the Reply object's state), carried out by the IPC
// engine (kernel/core/ipc.h); and their destroy cases.
#include "kernel/core/ipc.h"
#include "kernel/object/objects.h"

namespace keel {

// Send, NBSend, Call: the endpoint with the write right (and the grant
// right if a capability travels).
Status endpoint_send(Thread* t, abi::Syscall s) KEEL_REQUIRES(g_kernel_lock) {
  const auto a = t->regs().args<abi::IpcArgs>();
  Found<Endpoint> ep = lookup<Endpoint>(*t, a.cap, abi::kRightWrite);
  if (!ep.ok()) return ep.status;
  if (abi::info_caps(a.info) != 0 && (ep.slot->cap.rights & abi::kRightGrant) == 0) {
    return Status::kInsufficientRights;  // sending a capability needs the grant right
  }
  ipc_send(scheduler(), ep.object, t, ep.badge(), s != abi::Syscall::kNBSend, s == abi::Syscall::kCall);
  return Status::kOk;
}

// Recv, ReplyRecv: the endpoint with the read right; a Reply object (if
// named) with the write right, not designated by another waiting receiver,
// and — after ReplyRecv's reply — empty.
Status endpoint_recv(Thread* t, abi::Syscall s) KEEL_REQUIRES(g_kernel_lock) {
  const auto a = t->regs().args<abi::IpcArgs>();
  Found<Endpoint> ep = lookup<Endpoint>(*t, a.cap, abi::kRightRead);
  if (!ep.ok()) return ep.status;
  Reply* reply = nullptr;
  if (a.reply != 0) {
    Found<Reply> r = lookup<Reply>(*t, a.reply, abi::kRightWrite);
    if (!r.ok()) return r.status;
    if (r.object->receiver != nullptr && r.object->receiver != t) return Status::kSlotOccupied;
    reply = r.object;
  }
  // -- perform. The reply first (it may empty the Reply object) ...
  if (s == abi::Syscall::kReplyRecv && reply != nullptr) {
    (void)ipc_reply_object(scheduler(), reply, t);
  } else if (s == abi::Syscall::kReplyRecv) {
    ipc_reply(scheduler(), t);
  }
  // ... which must leave it empty for the receive.
  if (reply != nullptr && reply->caller != nullptr)
    return Status::kSlotOccupied;  // it still holds an unanswered caller
  ipc_recv(scheduler(), ep.object, t, reply);
  return Status::kOk;
}

// Reply: answers the caller the Reply object holds.
Status reply_send(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  Found<Reply> r = lookup<Reply>(*t, t->regs().cap(), abi::kRightWrite);
  if (!r.ok()) return r.status;
  if (!ipc_reply_object(scheduler(), r.object, t)) return Status::kInvalidArgument;  // (empty: nothing changed)
  t->regs().set_error(abi::Error::kOk);
  return Status::kOk;
}

// The first kWaitersBatch waiters now, the rest later (objects.h: dying).
void endpoint_destroy_object(Endpoint* ep) KEEL_REQUIRES(g_kernel_lock) {
  if (!endpoint_destroy(scheduler(), ep, kWaitersBatch))
    dying_push(reinterpret_cast<uint64_t>(ep) - arch::phys_offset(), false);
}
void reply_destroy_object(Reply* r) KEEL_REQUIRES(g_kernel_lock) { reply_destroy(scheduler(), r); }

}  // namespace keel
