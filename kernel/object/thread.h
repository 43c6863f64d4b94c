// thread.h — the Thread (TCB) kernel object, and the thread queues the
// other objects keep.
//
// Made by retyping untyped memory (2 KiB); plain data: the scheduler and
// IPC engine (kernel/core/scheduler.h, ipc.h) are portable and host-tested
// on it. Its invocations are in thread.cc.
//
// Contract: while a thread is not on the CPU, `frame` holds its complete
// integer user context (TPIDR_EL0/TPIDRRO_EL0 beside it); its FP/SIMD
// registers are switched lazily, saved only when another thread first uses
// FP (kernel/core/fpu.cc). A thread is in at most one queue at a time — the
// run queue (state kRunnable, not running), one endpoint's queue
// (kBlockedSend / kBlockedRecv) or one notification's (kBlockedWait) —
// linked through q_next/q_prev.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/object/capability.h"

namespace keel {

enum class ThreadState : uint32_t {
  kInactive,      // made, not started (or suspended)
  kRunnable,      // current, or in the run queue
  kBlockedSend,   // in an endpoint queue with a message
  kBlockedRecv,   // in an endpoint queue, waiting for a message
  kBlockedReply,  // after Call: waiting for its reply
  kBlockedWait,   // waiting on a notification
  kStopped,       // faulted; never runs again
};

struct Endpoint;
struct Notification;
struct Reply;

struct Thread;
// Every change of a thread's state goes through here (lint: nothing else
// assigns Thread::state), so a transition can be checked or traced in one place.
inline void set_state(Thread* t, ThreadState s);

struct Thread final {
  arm64::ExceptionFrame frame;  // user integer context (saved on every entry)
  uint64_t tpidr_el0;           // user thread pointer (TPIDR_EL0), switched with the thread
  uint64_t tpidrro_el0;         // read-only thread pointer (TPIDRRO_EL0)
  uint64_t as_root;             // PA of its address space's root table (cached from vspace_slot; 0 once it is gone)
  uint64_t ttbr0;               // as_root | ASID << 48, valid while ttbr0_gen is the ASID pool's generation
  uint32_t ttbr0_gen;           // 0: not computed (switch_to asks space_ttbr0); written through set_ttbr0_gen
  // Its root CNode and address space, as capabilities held by the thread
  // itself: they sit in the derivation tree like any other, so deleting or
  // revoking the objects removes them too, and an object never goes away
  // while a thread still uses it through these.
  object::Slot cspace_slot;
  object::Slot vspace_slot;
  ThreadState state;
  uint32_t priority;         // 0..abi::kMaxPriority, higher runs first
  uint32_t cpu;              // its CPU (affinity): whose run queue holds it, who runs it (set_cpu)
  uint32_t fp_live_on;       // 1 + the CPU whose FP/SIMD registers hold its state (0: in `fp`)
  uint32_t blocked_call;     // in an endpoint queue: sent with Call
  uint32_t run_queued;       // 1 while in a run queue (RunQueue keeps it: removal needs no search)
  uint64_t blocked_badge;    // in an endpoint queue: the badge it sent with
  Endpoint* blocked_on;      // the endpoint whose queue holds it
  Notification* waiting_on;  // the notification it waits on
  Thread* q_next;
  Thread* q_prev;
  Thread* reply_to;     // receiver: the caller its next reply goes to
  Thread* replier;      // caller in kBlockedReply: who holds its reply (implicitly)
  Reply* reply_object;  // caller in kBlockedReply: the Reply object holding its reply
  Reply* recv_reply;    // receiver: where its next caller's reply right goes (null: implicit; set_recv_reply)
  // The fastpath-eligible word (issue 26; ipc_fast.h): what the IPC
  // fastpath must know of a partner, in one compare against its CPU's key
  // (Cpu::fast_key) — fast_key_of(ttbr0_gen, cpu, recv_reply != null,
  // fault_pending != 0). Kept by the four setters below, the only writers
  // of those fields (the lint checks; the invariant checker recomputes
  // it). Zeroed memory holds generation 0, which no CPU's key has: a new
  // thread is never eligible.
  uint64_t fast_key;
  uint64_t fault_ep_index;  // slot in its CNode of its fault endpoint (0: faults stop it)
  uint64_t ipc_buffer;      // VA of its IPC buffer page (0: none)
  uint64_t fault_pending;   // nonzero while a fault message is outstanding (set_fault_pending)
  uint64_t fault_label;     // abi::FaultKind
  uint64_t fault_mr[4];     // ESR, FAR, PC, SP at the fault
  char name[24];
  // Last: the fields the IPC fastpath touches sit within reach of one
  // load-pair's offset (LDP/STP: 504 bytes) of the thread.
  arm64::FpState fp;  // user FP/SIMD context (saved when switched out)

  const object::Capability& cspace() const { return cspace_slot.cap; }
  // Its syscall registers, named (abi.h).
  abi::SyscallView regs() { return abi::SyscallView(frame.x); }
};
static_assert(sizeof(Thread) <= 2048, "a Thread fits its 2 KiB object");
static_assert(__builtin_offsetof(Thread, frame) == 0, "PerCpu::user_frame doubles as the running Thread");

inline void set_state(Thread* t, ThreadState s) { t->state = s; }

// The fastpath-eligible word's layout: the ASID generation of the cached
// TTBR0 (bits 63..32), the CPU (31..2), an outstanding fault message (bit
// 1: its reply restarts the thread, not a message transfer), a designated
// Reply object (bit 0). A CPU's key is fast_key_of(the pool's generation,
// that CPU, false, false): a thread matches it exactly when the fastpath
// may switch to it there.
constexpr uint64_t fast_key_of(uint32_t asid_generation, uint32_t cpu, bool designated_reply, bool fault_pending) {
  return (uint64_t{asid_generation} << 32) | (uint64_t{cpu} << 2) | (fault_pending ? 2u : 0u) |
         (designated_reply ? 1u : 0u);
}
// A CPU's key (Cpu::fast_key).
constexpr uint64_t cpu_fast_key(uint32_t asid_generation, uint32_t cpu) {
  return fast_key_of(asid_generation, cpu, false, false);
}
inline void refresh_fast_key(Thread* t) {
  t->fast_key = fast_key_of(t->ttbr0_gen, t->cpu, t->recv_reply != nullptr, t->fault_pending != 0);
}
inline void set_cpu(Thread* t, uint32_t cpu) {
  __atomic_store_n(&t->cpu, cpu, __ATOMIC_RELAXED);  // (Yield's short path reads it without the lock)
  refresh_fast_key(t);
}
inline void set_ttbr0_gen(Thread* t, uint32_t gen) {
  t->ttbr0_gen = gen;
  refresh_fast_key(t);
}
inline void set_fault_pending(Thread* t, bool pending) {
  t->fault_pending = pending ? 1 : 0;
  refresh_fast_key(t);
}
inline void set_recv_reply(Thread* t, Reply* r) {
  t->recv_reply = r;
  refresh_fast_key(t);
}

// A FIFO of threads linked through Thread::q_next/q_prev: the run queue's
// levels, an endpoint's waiters, a notification's waiters. A thread is in at
// most one queue at a time.
struct ThreadQueue {
  Thread* head;
  Thread* tail;

  bool empty() const { return head == nullptr; }
  void append(Thread* t) {
    t->q_next = nullptr;
    t->q_prev = tail;
    if (tail != nullptr) {
      tail->q_next = t;
    } else {
      head = t;
    }
    tail = t;
  }
  // The first thread, taken out, or null if the queue is empty; *emptied
  // says whether it was the last. One branch on its successor: the last
  // one's links are null already (a head's q_prev always is).
  Thread* pop_front(bool* emptied) {
    Thread* t = head;
    if (t == nullptr) return nullptr;
    if (Thread* n = t->q_next; n == nullptr) {
      head = nullptr;
      tail = nullptr;
      *emptied = true;
    } else {
      head = n;
      n->q_prev = nullptr;
      t->q_next = nullptr;
    }
    return t;
  }
  // t must be in this queue.
  void unlink(Thread* t) {
    if (t->q_prev != nullptr) {
      t->q_prev->q_next = t->q_next;
    } else {
      head = t->q_next;
    }
    if (t->q_next != nullptr) {
      t->q_next->q_prev = t->q_prev;
    } else {
      tail = t->q_prev;
    }
    t->q_next = t->q_prev = nullptr;
  }
};

}  // namespace keel
