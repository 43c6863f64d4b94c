#include "kernel/core/ipc.h"

#include "keel/abi.h"
#include "kernel/core/ipc_fast.h"

namespace keel {

using namespace ipc_detail;  // the queue and reply helpers the fastpaths share (ipc_fast.h)

namespace {

// The kernel's IPC-buffer copies (ipc_set_cap_transfer/ipc_set_word_transfer).
CapTransferFn g_cap_transfer = nullptr;
WordTransferFn g_word_transfer = nullptr;

// Copies the message (info, MRs, an attached capability) and sets the
// receiver's results. A faulting sender's message is its fault record, not
// its registers.
void transfer(Thread* from, Thread* to, uint64_t badge) {
  bool fault = from->fault_pending != 0;
  const abi::IpcArgs in = from->regs().args<abi::IpcArgs>();
  uint64_t info = fault ? abi::message_info(from->fault_label, 4) : in.info;
  const uint64_t* mrs = fault ? from->fault_mr : in.mr;
  uint64_t len = abi::info_length(info);
  if (len > abi::kMaxMessageWords) len = abi::kMaxMessageWords;
  if (len > abi::kMaxMessageRegisters && (fault || g_word_transfer == nullptr || !g_word_transfer(from, to, len))) {
    len = abi::kMaxMessageRegisters;
  }
  uint64_t caps = 0;
  if (!fault && abi::info_caps(info) != 0 && g_cap_transfer != nullptr && g_cap_transfer(from, to)) caps = 1;
  abi::IpcResult out{.info = abi::message_info(abi::info_label(info), len, caps), .mr = {}, .badge = badge};
  for (uint64_t i = 0; i < abi::kMaxMessageRegisters; ++i) out.mr[i] = i < len ? mrs[i] : 0;
  to->regs().set_result(abi::Error::kOk, out);
}

void wake(Scheduler& s, Thread* t) {
  set_state(t, ThreadState::kRunnable);
  s.enqueue(t);
}

// Delivers replier's message (or, for a faulted caller, just resumes it).
void resume_caller(Scheduler& s, Thread* replier, Thread* caller) {
  if (caller->fault_pending != 0) {
    // Resuming a faulted thread: its registers stay as they were (it retries
    // the instruction), except an unknown syscall's result.
    if (caller->fault_label == abi::kFaultUnknownSyscall) {
      caller->regs().set_error(abi::Error::kUnknownSyscall);
    }
    set_fault_pending(caller, false);
  } else {
    transfer(replier, caller, 0);
  }
  wake(s, caller);
}

// A caller whose reply can never come: woken with kObjectDestroyed — or,
// if it waits with a fault message, stopped (its registers stay as they
// were; nothing will handle the fault now).
// A stopped faulting caller may itself hold a caller (it received a Call,
// then faulted): that one is released next, in a loop — a chain of such
// threads costs no kernel stack.
void release_caller(Scheduler& s, Thread* caller) {
  while (caller != nullptr) {
    if (caller->fault_pending == 0) {
      caller->regs().set_error(abi::Error::kObjectDestroyed);
      wake(s, caller);
      return;
    }
    Thread* next = caller->reply_to;
    caller->reply_to = nullptr;
    if (next != nullptr && (next->state != ThreadState::kBlockedReply || next->replier != caller)) next = nullptr;
    if (next != nullptr) next->replier = nullptr;
    thread_stop(s, caller);  // (holds no implicit caller now: no recursion)
    caller = next;
  }
}

// Drops receiver's implicit reply right, if it holds one: its caller is
// released (a Recv, not ReplyRecv, by a thread still holding a caller).
void drop_implicit_reply(Scheduler& s, Thread* receiver) {
  Thread* caller = receiver->reply_to;
  if (caller == nullptr) return;
  receiver->reply_to = nullptr;
  if (caller->state == ThreadState::kBlockedReply && caller->replier == receiver) {
    caller->replier = nullptr;
    release_caller(s, caller);
  }
}

// A receiver leaving its receive (woken, detached) lets go of its Reply.
void drop_recv_reply(Thread* t) {
  if (t->recv_reply != nullptr) {
    t->recv_reply->receiver = nullptr;
    set_recv_reply(t, nullptr);
  }
}

}  // namespace

void ipc_set_cap_transfer(CapTransferFn fn) { g_cap_transfer = fn; }
void ipc_set_word_transfer(WordTransferFn fn) { g_word_transfer = fn; }

void ipc_send(Scheduler& s, Endpoint* ep, Thread* sender, uint64_t badge, bool blocking, bool call) {
  if (ep->state == EndpointState::kReceivers) {
    Thread* r = ep_pop(ep);
    transfer(sender, r, badge);
    wake(s, r);
    sender->regs().set_error(abi::Error::kOk);
    if (call) {
      await_reply(sender, r);
    } else {
      drop_recv_reply(r);  // nothing to reply to
    }
    return;
  }
  if (!blocking) {
    sender->regs().set_error(abi::Error::kWouldBlock);
    return;
  }
  set_state(sender, ThreadState::kBlockedSend);
  sender->blocked_badge = badge;
  sender->blocked_call = call ? 1 : 0;
  ep_append(ep, sender);
  ep->state = EndpointState::kSenders;
}

void ipc_recv(Scheduler& s, Endpoint* ep, Thread* receiver, Reply* reply) {
  drop_recv_reply(receiver);
  drop_implicit_reply(s, receiver);  // a new receive never silently strands an earlier caller
  if (reply != nullptr) {
    set_recv_reply(receiver, reply);
    reply->receiver = receiver;
  }
  if (ep->state == EndpointState::kSenders) {
    Thread* snd = ep_pop(ep);
    transfer(snd, receiver, snd->blocked_badge);
    snd->regs().set_error(abi::Error::kOk);
    if (snd->blocked_call != 0) {
      await_reply(snd, receiver);
    } else {
      drop_recv_reply(receiver);  // nothing to reply to
      wake(s, snd);
    }
    return;
  }
  set_state(receiver, ThreadState::kBlockedRecv);
  ep_append(ep, receiver);
  ep->state = EndpointState::kReceivers;
}

void ipc_reply(Scheduler& s, Thread* replier) {
  Thread* caller = replier->reply_to;
  replier->reply_to = nullptr;
  if (caller == nullptr || caller->state != ThreadState::kBlockedReply || caller->replier != replier) return;
  caller->replier = nullptr;
  resume_caller(s, replier, caller);
}

bool ipc_reply_object(Scheduler& s, Reply* reply, Thread* replier) {
  Thread* caller = reply->caller;
  if (caller == nullptr) return false;
  reply->caller = nullptr;
  caller->reply_object = nullptr;
  resume_caller(s, replier, caller);
  return true;
}

void reply_destroy(Scheduler& s, Reply* reply) {
  if (Thread* r = reply->receiver) {
    set_recv_reply(r, nullptr);
    reply->receiver = nullptr;
  }
  if (Thread* c = reply->caller) {
    reply->caller = nullptr;
    c->reply_object = nullptr;
    release_caller(s, c);
  }
}

void ipc_send_fault(Scheduler& s, Endpoint* ep, Thread* t, uint64_t badge, uint64_t kind, const uint64_t mr[4]) {
  set_fault_pending(t, true);
  t->fault_label = kind;
  for (int i = 0; i < 4; ++i) t->fault_mr[i] = mr[i];
  const abi::Error saved_x0 = t->regs().error();
  ipc_send(s, ep, t, badge, /*blocking=*/true, /*call=*/true);
  t->regs().set_error(saved_x0);  // a fault leaves the thread's registers untouched
}

namespace {

void ntfn_unlink(Notification* n, Thread* t) {
  n->waiters.unlink(t);
  t->waiting_on = nullptr;
}

}  // namespace

void ntfn_signal(Scheduler& s, Notification* n, uint64_t badge) {
  n->word |= badge != 0 ? badge : 1;
  if (Thread* w = n->waiters.head) {
    ntfn_unlink(n, w);
    w->regs().set_result(abi::Error::kOk, abi::NotificationResult{.word = n->word});
    n->word = 0;
    wake(s, w);
  }
}

void ntfn_wait(Notification* n, Thread* t, bool blocking) {
  if (n->word != 0 || !blocking) {
    t->regs().set_result(abi::Error::kOk, abi::NotificationResult{.word = n->word});
    n->word = 0;
    return;
  }
  set_state(t, ThreadState::kBlockedWait);
  n->waiters.append(t);
  t->waiting_on = n;
}

bool ntfn_destroy(Scheduler& s, Notification* n, uint64_t budget) {
  while (Thread* t = n->waiters.head) {
    if (budget-- == 0) return false;
    ntfn_unlink(n, t);
    t->regs().set_error(abi::Error::kObjectDestroyed);
    wake(s, t);
  }
  return true;
}

void thread_detach(Scheduler& s, Thread* t) {
  s.remove(t);
  if (t->blocked_on != nullptr) ep_unlink(t->blocked_on, t);
  if (t->waiting_on != nullptr) ntfn_unlink(t->waiting_on, t);
  drop_recv_reply(t);
  if (t->replier != nullptr) {
    if (t->replier->reply_to == t) t->replier->reply_to = nullptr;
    t->replier = nullptr;
  }
  if (t->reply_object != nullptr) {  // a caller going away empties its Reply
    t->reply_object->caller = nullptr;
    t->reply_object = nullptr;
  }
  drop_implicit_reply(s, t);    // its caller would wait forever for a reply that cannot come
  set_fault_pending(t, false);  // an outstanding fault message is withdrawn with it
  set_state(t, ThreadState::kInactive);
}

void thread_stop(Scheduler& s, Thread* t) {
  thread_detach(s, t);
  set_state(t, ThreadState::kStopped);
}

bool endpoint_destroy(Scheduler& s, Endpoint* ep, uint64_t budget) {
  while (!ep->waiters.empty()) {
    if (budget-- == 0) return false;
    Thread* t = ep_pop(ep);
    drop_recv_reply(t);
    release_caller(s, t);  // (a thread sending its fault there is stopped, registers intact)
  }
  return true;
}

}  // namespace keel
