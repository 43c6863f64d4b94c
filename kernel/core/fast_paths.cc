// fast_paths.cc — the EL0 entry's lockless paths: the IPC fastpath and the
// syscall short path (docs/performance.md; locking: docs/smp.md). They run
// without the big lock — with other CPUs online between cpu.h's
// fast_path_enter and fast_path_exit (alone, Cpu::alone, there is no one to
// exclude), except Yield's, which needs no exclusion — and make no calls:
// this file is compiled without a frame record for leaf
// functions (-momit-leaf-frame-pointer, kernel/core/BUILD), which saves
// their prologue and epilogue on every IPC. (A panic cannot start in them:
// they call nothing.)
#include <stdint.h>

#include "keel/abi.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/core/abi_map.h"
#include "kernel/core/cpu.h"
#include "kernel/core/el0_switch.h"
#include "kernel/core/ipc_fast.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/object/objects.h"

namespace keel {

// The IPC fastpath (docs/performance.md; locking: docs/smp.md): Call and
// ReplyRecv in the common case, first thing on a syscall, without the big
// lock. With other CPUs online it runs between fast_path_enter and
// fast_path_exit (cpu.h: no slow path runs anywhere meanwhile) and holds
// the endpoint's lock (which orders fastpaths of different CPUs on one
// endpoint); alone it needs neither. It touches
// only threads of this CPU. Checks first — any unusual case declines,
// having changed nothing, and the slow path runs the syscall from the
// start — then ipc.cc's commit and the switch. Returns the frame to
// restore (the one PerCpu::user_frame now names) if it ran the syscall,
// else null. vectors.S calls it only for an SVC from EL0 with x8 = Call or
// ReplyRecv, and restores that frame and returns at once; on null,
// user_exception runs as for any other exception. (One entry per
// syscall: user_fastpath_call, user_fastpath_reply_recv.)
namespace {

// One body for both (kCall: Call, else ReplyRecv), instantiated so that
// each knows its syscall — the rights to look for, the checks to make — as
// constants, and whether other CPUs may run kernel code meanwhile
// (kShared; else Cpu::alone: no exclusion and no endpoint lock, as there
// is no one to exclude — docs/smp.md "One CPU").
template <bool kCall, bool kShared>
[[gnu::always_inline]] inline arm64::ExceptionFrame* fastpath(Cpu& c, const abi::IpcArgs& a,
                                                              arm64::ExceptionFrame* frame) {
  // (No test of c.request: a request of the lock holder's comes with the
  // lock held, which fast_path_enter declines; the let-waiters-in hint
  // concerns only paths that take the lock.)
  if (kShared && !fast_path_enter(c)) return nullptr;  // a big-lock holder is at work: wait for it there
  // The caller. Alone, the frame vectors.S just saved it into (never
  // null); else read again now that no slow path runs (null once taken
  // away: cpu_take_current sets lost_current with it).
  Thread* t = kShared ? running() : reinterpret_cast<Thread*>(frame);
  Thread* next = nullptr;
  if (!kShared || t != nullptr) {
    const Found<Endpoint> ep = lookup<Endpoint>(*t, a.cap, kCall ? abi::kRightWrite : abi::kRightRead);
    if ((kCall || a.reply == 0) && ep.ok() && (!kShared || ep.object->fast_lock.try_lock())) {
      const RunQueue& here = *c.run_queue;
      next = kCall ? ipc_fastpath_call(c.fast_key, here, ep.object, t, a, ep.badge())
                   : ipc_fastpath_reply_recv(c.fast_key, here, ep.object, t, a);
      if (kShared) ep.object->fast_lock.unlock();
    }
  }
  if (next == nullptr) {
    if (kShared) fast_path_exit(c);
    return nullptr;
  }
  // next's cached TTBR0 is current (the bodies checked its ASID generation).
  switch_context</*kFastpath=*/true>(c, t, next, next->ttbr0);  // (next was blocked: not t)
  if (kShared) fast_path_exit(c);
  return &next->frame;
}

template <bool kCall>
[[gnu::always_inline]] inline arm64::ExceptionFrame* fastpath(const abi::IpcArgs& a, arm64::ExceptionFrame* frame) {
  Cpu& c = this_cpu();
  return c.alone != 0 ? fastpath<kCall, false>(c, a, frame) : fastpath<kCall, true>(c, a, frame);
}

}  // namespace

// vectors.S's two entries (x8 = Call / ReplyRecv), called with the
// syscall's arguments still in x0..x6 (IpcArgs in order: the frame holds
// them too), so that the fastpath reads none back, and the caller's frame
// (PerCpu::user_frame, saved) in x7: the frame to restore, or null.
extern "C" arm64::ExceptionFrame* user_fastpath_call(uint64_t cap, uint64_t info, uint64_t mr0, uint64_t mr1,
                                                     uint64_t mr2, uint64_t mr3, uint64_t reply,
                                                     arm64::ExceptionFrame* frame) {
  return fastpath<true>(abi::IpcArgs{.cap = cap, .info = info, .mr = {mr0, mr1, mr2, mr3}, .reply = reply}, frame);
}
extern "C" arm64::ExceptionFrame* user_fastpath_reply_recv(uint64_t cap, uint64_t info, uint64_t mr0, uint64_t mr1,
                                                           uint64_t mr2, uint64_t mr3, uint64_t reply,
                                                           arm64::ExceptionFrame* frame) {
  return fastpath<false>(abi::IpcArgs{.cap = cap, .info = info, .mr = {mr0, mr1, mr2, mr3}, .reply = reply}, frame);
}

// The short path (keel/abi.h's register contract; docs/performance.md): a
// syscall that completes on its caller's CPU without switching threads,
// without the big lock: between fast_path_enter and fast_path_exit (cpu.h:
// no slow path runs anywhere meanwhile) if it reads capabilities, with no
// exclusion at all if it reads nothing another CPU may free (Yield). vectors.S calls one
// entry per syscall it serves with only x0..x8 and LR saved in the frame:
// x19..x29 are still the caller's in the registers (C code preserves
// them). Done: the results are in the frame's x0..x6 and vectors.S returns
// at once, zeroing x7 and x9..x18. Declined: nothing has changed and the
// general path runs the syscall from the start. Each returns the frame to
// return with (the caller's), or null to decline. Leaves (no calls, to_abi
// inlined): no frame of their own to save.

// DebugWrite of nothing: the capability check alone (writing takes the
// console, under the big lock). Between fast_path_enter and _exit: the
// lookup reads slots another CPU's slow path may change.
extern "C" arm64::ExceptionFrame* user_short_debug_write(arm64::ExceptionFrame* f) {
  Cpu& c = this_cpu();
  const bool shared = c.alone == 0;  // (else no one to exclude: Cpu::alone)
  if (shared && !fast_path_enter(c)) return nullptr;
  Thread* t = running();
  arm64::ExceptionFrame* done = nullptr;
  if (t != nullptr) {  // (null once taken away: cpu_take_current; a thread being moved moves on the kick after)
    abi::SyscallView r = t->regs();
    const auto a = r.args<abi::DebugWriteArgs>();
    if (a.length == 0) {
      object::Slot* log = nullptr;
      r.set_error(to_abi(lookup_slot(*t, a.log, abi::ObjectType::kKernelLog, abi::kRightWrite, &log)));
      done = f;
    }
  }
  if (shared) fast_path_exit(c);
  return done;
}

// Yield with nothing queued here at the caller's priority or above: the
// caller would be picked again at once. Reads no capability, so it needs
// not even the exclusion (docs/smp.md "Yield"): it reads this CPU's run
// queue's top level and its thread's CPU and priority (relaxed atomics: a
// big-lock holder on another CPU may change them meanwhile, and then kicks
// this CPU, which serves that right after the eret — as if this Yield had
// come first), and writes only its own frame's result, as vectors.S's entry
// writes that frame without the lock. Its thread cannot be taken away
// meanwhile: the stall protocol waits for this CPU to serve a request,
// which it does only after returning (interrupts are masked here).
extern "C" arm64::ExceptionFrame* user_short_yield(arm64::ExceptionFrame* f) {
  Cpu& c = this_cpu();
  Thread* t = running();
  if (t == nullptr || __atomic_load_n(&t->cpu, __ATOMIC_RELAXED) != c.index ||
      c.run_queue->highest() >= static_cast<int>(__atomic_load_n(&t->priority, __ATOMIC_RELAXED))) {
    return nullptr;  // being moved, or another thread to run: the general path
  }
  t->regs().set_error(abi::Error::kOk);
  return f;
}

}  // namespace keel
