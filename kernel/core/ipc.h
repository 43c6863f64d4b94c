// ipc.h — synchronous rendezvous on endpoints (portable, host-tested).
//
// Messages travel in the threads' saved frames (abi.h IPC register layout):
// MessageInfo in x1, MR0..MR3 in x2..x5; the receiver gets x0 = kOk and the
// sender's badge in x6. Nothing is copied through memory.
//
//   send:  a receiver waits -> deliver, wake it; Call makes the sender wait
//          for the reply (kBlockedReply) and gives the receiver reply_to.
//          Otherwise block in the endpoint queue (or kWouldBlock if
//          non-blocking).
//   recv:  a sender waits -> take its message (and its reply if it called);
//          otherwise block in the endpoint queue.
//   reply: deliver to reply_to if that thread still waits for it.
//
// Woken threads go to the run queue; the caller decides whom to run next.
#pragma once

#include <stdint.h>

#include "kernel/core/scheduler.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/notification.h"
#include "kernel/object/thread.h"

namespace keel {

// Moves the capability a message carries (abi.h MessageInfo bit 3) from
// `from` to `to`; returns whether it arrived. The kernel installs the real
// one (it reads IPC buffers through checked copies); tests install fakes.
using CapTransferFn = bool (*)(Thread* from, Thread* to);
void ipc_set_cap_transfer(CapTransferFn fn);
// Copies message words [4, length) from `from`'s IPC buffer to `to`'s;
// returns whether they arrived (else the receiver gets the first four only).
using WordTransferFn = bool (*)(Thread* from, Thread* to, uint64_t length);
void ipc_set_word_transfer(WordTransferFn fn);

void ipc_send(Scheduler& s, Endpoint* ep, Thread* sender, uint64_t badge, bool blocking, bool call);
// With `reply` set, the reply right for a caller received goes into that
// Reply object instead of the receiver's implicit slot. The caller must have
// checked the object is empty (reply->caller and reply->receiver null).
void ipc_recv(Scheduler& s, Endpoint* ep, Thread* receiver, Reply* reply = nullptr);
void ipc_reply(Scheduler& s, Thread* replier);
// Answers the caller held in `reply` with replier's message; false if empty.
bool ipc_reply_object(Scheduler& s, Reply* reply, Thread* replier);
// A destroyed Reply releases its caller with kObjectDestroyed.
void reply_destroy(Scheduler& s, Reply* reply);

// Sends thread t's fault (abi::FaultKind, MR0..3 = ESR, FAR, PC, SP) to ep as
// a Call; its registers are left as they were so a reply can resume it.
void ipc_send_fault(Scheduler& s, Endpoint* ep, Thread* t, uint64_t badge, uint64_t kind, const uint64_t mr[4]);

// The Call and ReplyRecv fastpaths: ipc_fast.h (inline).

// Notifications: Signal ORs the badge (1 if unbadged) into the word and
// wakes one waiter with the word (clearing it); Wait returns the word if it
// is nonzero (clearing it) or blocks; Poll returns the word without blocking.
// Results: x0 = kOk, x1 = the word.
void ntfn_signal(Scheduler& s, Notification* n, uint64_t badge);
void ntfn_wait(Notification* n, Thread* t, bool blocking);
// Wakes up to `budget` of n's waiters with kObjectDestroyed; true when
// none is left.
bool ntfn_destroy(Scheduler& s, Notification* n, uint64_t budget);

// Takes t out of whatever it waits in (run queue, endpoint queue, a pending
// reply), leaving it kInactive. Used by suspend and by thread destruction.
void thread_detach(Scheduler& s, Thread* t);

// thread_detach, then kStopped: the thread never runs again.
void thread_stop(Scheduler& s, Thread* t);

// Wakes up to `budget` of the threads queued on ep with
// abi::Error::kObjectDestroyed; true when none is left.
bool endpoint_destroy(Scheduler& s, Endpoint* ep, uint64_t budget);

}  // namespace keel
