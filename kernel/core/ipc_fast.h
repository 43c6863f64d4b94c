// ipc_fast.h — the IPC fastpaths' bodies (ipc.h declares their contract),
// inline so that each of the EL0 entry's fastpaths (fast_paths.cc
// user_fastpath_call, user_fastpath_reply_recv) is one function with no
// calls, and the queue and reply helpers they share
// with the slow path (ipc.cc). Portable: fastpath_test.cc runs them on the
// host against the slow path.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "kernel/core/ipc.h"
#include "kernel/core/scheduler.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/thread.h"

namespace keel {
namespace ipc_detail {

// (always inlined: the fastpaths run them on every IPC.)
[[gnu::always_inline]] inline void ep_append(Endpoint* ep, Thread* t) {
  ep->waiters.append(t);
  t->blocked_on = ep;
}

[[gnu::always_inline]] inline void ep_unlink(Endpoint* ep, Thread* t) {
  ep->waiters.unlink(t);
  t->blocked_on = nullptr;
  if (ep->waiters.empty()) ep->state = EndpointState::kIdle;
}

[[gnu::always_inline]] inline Thread* ep_pop(Endpoint* ep) {
  bool emptied = false;
  Thread* t = ep->waiters.pop_front(&emptied);
  if (t == nullptr) return nullptr;
  t->blocked_on = nullptr;
  if (emptied) ep->state = EndpointState::kIdle;
  return t;
}

// The fastpaths' transfer: the message is in registers only (at most four
// words, no capability, not a fault message: the fastpaths check), so it
// goes to the receiver's frame with nothing else — the same result
// transfer() would give (fastpath_test.cc). `in`: the sender's arguments
// (its frame's, or the registers they came in, which hold the same).
[[gnu::always_inline]] inline void transfer_registers(const abi::IpcArgs& in, Thread* to, uint64_t badge) {
  const uint64_t len = abi::info_length(in.info);
  abi::IpcResult out{.info = abi::message_info(abi::info_label(in.info), len, 0), .mr = {}, .badge = badge};
  // Words past the length go as zero: masks, not branches (the length
  // varies from message to message).
  for (uint64_t i = 0; i < abi::kMaxMessageRegisters; ++i) out.mr[i] = in.mr[i] & (0 - static_cast<uint64_t>(i < len));
  to->regs().set_result(abi::Error::kOk, out);
}

// Call: the caller now waits for receiver's reply (implicitly, or through
// the Reply object the receiver designated).
[[gnu::always_inline]] inline void await_reply(Thread* caller, Thread* receiver) {
  set_state(caller, ThreadState::kBlockedReply);
  if (Reply* r = receiver->recv_reply) {
    set_recv_reply(receiver, nullptr);
    r->receiver = nullptr;
    r->caller = caller;
    caller->reply_object = r;
    return;
  }
  caller->replier = receiver;
  receiver->reply_to = caller;
}

}  // namespace ipc_detail

// Fastpaths (DESIGN.md: they only check and fall back). Each returns the
// thread to run next, having done exactly what the slow path (the calls
// above followed by Scheduler::pick) would do, or nullptr — having changed
// nothing — when any condition for the fast case does not hold:
//   Call:      a receiver waits on ep and nothing queued outranks it;
//   ReplyRecv: t holds a caller (which then waits for this reply), not
//              for a fault, no sender waits on ep, and nothing queued
//              outranks the caller;
// both: the message fits the registers, and the thread to run next is
// eligible here — its fastpath-eligible word equals this CPU's `key`
// (thread.h fast_key_of: it is this CPU's thread, designated no Reply
// object, awaits no fault reply, and its cached TTBR0 is of the current
// ASID generation, else the slow path gives its space an ASID first).
// `here` is this CPU's run queue: the thread that runs the syscall runs
// there, whatever its own `cpu` says (one whose affinity just changed
// blocks here and is woken on its new CPU). `a`: the syscall's
// arguments (the running thread's frame holds them too; the EL0 entry
// passes the registers they came in). Each body is checks,
// then a marked point of no return, then the commit; no calls.
// fastpath_test.cc checks the equivalence on generated states.
[[gnu::always_inline]] inline Thread* ipc_fastpath_call(uint64_t key, const RunQueue& here, Endpoint* ep,
                                                        Thread* caller, const abi::IpcArgs& a, uint64_t badge) {
  const uint64_t info = a.info;
  if (ep->state != EndpointState::kReceivers || abi::info_caps(info) != 0 ||
      abi::info_length(info) > abi::kMaxMessageRegisters) {
    return nullptr;
  }
  Thread* r = ep->waiters.head;
  // (Not eligible: another CPU's — the slow path queues it there —, a
  // designated Reply object, or an ASID to assign.)
  if (r->fast_key != key || here.highest() >= static_cast<int>(r->priority)) return nullptr;
  // ---- point of no return: from here the Call is done ----
  ipc_detail::ep_pop(ep);
  ipc_detail::transfer_registers(a, r, badge);
  caller->regs().set_error(abi::Error::kOk);
  // await_reply, knowing r designated no Reply object (checked above).
  set_state(caller, ThreadState::kBlockedReply);
  caller->replier = r;
  r->reply_to = caller;
  set_state(r, ThreadState::kRunnable);
  return r;
}

[[gnu::always_inline]] inline Thread* ipc_fastpath_reply_recv(uint64_t key, const RunQueue& here, Endpoint* ep,
                                                              Thread* t, const abi::IpcArgs& a) {
  // (t runs, so it designated no Reply object: recv_reply is set only in
  // kBlockedRecv — the checker's "a receiver's Reply object disagrees".)
  // A caller t holds waits for t's reply: kBlockedReply with replier == t
  // (an invariant the checker verifies: "a receiver holds a caller that
  // does not wait for it"). Its eligible word also says whether a fault
  // message is outstanding (its reply restarts it: the slow path's).
  Thread* c = t->reply_to;
  if (c == nullptr || c->fast_key != key) return nullptr;
  if (ep->state == EndpointState::kSenders || here.highest() >= static_cast<int>(c->priority) ||
      abi::info_caps(a.info) != 0 || abi::info_length(a.info) > abi::kMaxMessageRegisters) {
    return nullptr;
  }
  // ---- point of no return: from here the reply and the receive are done ----
  t->reply_to = nullptr;
  c->replier = nullptr;
  ipc_detail::transfer_registers(a, c, 0);
  set_state(c, ThreadState::kRunnable);
  set_state(t, ThreadState::kBlockedRecv);
  ipc_detail::ep_append(ep, t);
  ep->state = EndpointState::kReceivers;
  return c;
}

}  // namespace keel
