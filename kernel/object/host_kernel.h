// host_kernel.h — the kernel's object code on the host, for tests: fake
// physical RAM (a host buffer behind arch::phys), CPU 0 online, the page
// records, and a caller thread (in host memory: a snapshot of RAM is all
// kernel state but the caller's registers) with a root CNode holding
// untyped memory.
// Syscalls go through the kernel's own dispatch (syscall_dispatch) with
// arguments packed by keel/abi.h, exactly as a user thread's SVC would.
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utility>
#include <vector>

#include "keel/abi.h"
#include "kernel/arch/arch.h"
#include "kernel/core/cpu.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/syscall.h"
#include "kernel/object/objects.h"

namespace keel::testing {

class HostKernel {
 public:
  static constexpr uint64_t kRamBase = 0x4000'0000;
  static constexpr uint64_t kRamSize = 2ull << 20;
  static constexpr unsigned kRootBits = 8;  // 256 slots
  // Root CNode slots the fixture fills.
  static constexpr uint64_t kSlotCNode = 1;    // the root CNode
  static constexpr uint64_t kSlotUntyped = 2;  // 1 MiB of untyped
  static constexpr uint64_t kSlotIrqControl = 4;
  static constexpr uint64_t kSlotKernelLog = 5;
  static constexpr uint64_t kFirstFree = 16;

  HostKernel() {
    ram_ = static_cast<uint8_t*>(aligned_alloc(1 << 21, kRamSize));
    memset(ram_, 0, kRamSize);
    arch::g_host = arch::HostMachine{};
    arch::g_host.phys_offset = reinterpret_cast<uint64_t>(ram_) - kRamBase;
    cpu_install(0, 0, 0);
    cpu_set_online(0);
    *mdb_anchor() = object::Slot{};
    g_scheduler = Scheduler{};
    g_asids = object::AsidPool{};
    g_dead_cnodes = 0;
    g_dying_objects = 0;
    g_deferred = 0;
    // The root CNode at the bottom, the page records at 64 KiB, untyped in
    // the upper half.
    pages_init(kRamBase + 0x10000, kRamBase, kRamSize / 4096);
    root_ = object::Capability{
        .type = abi::ObjectType::kCNode, .rights = abi::kRightsAll, .size_bits = kRootBits, .object = kRamBase};
    (void)object::insert_original(slot(kSlotCNode), root_, mdb_anchor());
    (void)object::insert_original(slot(kSlotUntyped),
                                  object::Capability{.type = abi::ObjectType::kUntyped,
                                                     .rights = abi::kRightsAll,
                                                     .size_bits = 20,
                                                     .object = kRamBase + (1ull << 20)},
                                  mdb_anchor());
    // The caller lives outside the fake RAM, so snapshots of RAM leave out
    // its registers (where results go) and nothing else.
    (void)object::insert_original(slot(kSlotIrqControl),
                                  object::Capability{.type = abi::ObjectType::kIrqControl, .rights = abi::kRightsAll},
                                  mdb_anchor());
    (void)object::insert_original(slot(kSlotKernelLog),
                                  object::Capability{.type = abi::ObjectType::kKernelLog, .rights = abi::kRightsAll},
                                  mdb_anchor());
    caller_ = new Thread{};
    (void)object::derive(slot(kSlotCNode), &caller_->cspace_slot, abi::kRightsAll, 0);
    caller_->cspace_slot.cap.flags |= object::kFlagHeld;
    caller_->priority = 200;
    set_state(caller_, ThreadState::kRunnable);
    this_cpu().user_frame = &caller_->frame;
  }
  ~HostKernel() {
    delete caller_;
    free(ram_);
  }
  HostKernel(const HostKernel&) = delete;
  HostKernel& operator=(const HostKernel&) = delete;

  Thread* caller() { return caller_; }
  // Syscalls the kernel restarted (kRestart) since the last call of this.
  uint64_t take_restarts() { return std::exchange(restarts_, 0); }
  // TTBR0 for running in the space rooted at root: gives it an ASID, as a
  // thread of it starting to run would.
  uint64_t run_in(uint64_t root) {
    kernel_enter();
    const uint64_t ttbr0 = space_ttbr0(root);
    kernel_exit();
    return ttbr0;
  }
  // Whether dead CNodes wait to be emptied (tests run on one host thread: no lock).
  bool dead_cnodes_queued() KEEL_NO_THREAD_SAFETY_ANALYSIS { return g_dead_cnodes != 0; }
  // Whether t is in a run queue (tests run on one host thread: no lock).
  bool queued(const Thread* t) KEEL_NO_THREAD_SAFETY_ANALYSIS { return g_scheduler.contains(t); }
  object::Slot* slot(uint64_t i) { return arch::phys<object::Slot>(kRamBase) + i; }
  const object::Capability& cap(uint64_t i) { return slot(i)->cap; }

  // One SVC by thread t: its registers x0..x6 and x8, then the kernel's
  // dispatch under the lock, as after an exception from EL0.
  abi::Error syscall(Thread* t, abi::Syscall s, const abi::Registers& r) {
    for (unsigned i = 0; i < abi::kArgumentRegisters; ++i) t->frame.x[i] = r.x[i];
    t->frame.set_syscall_number(static_cast<uint64_t>(s));
    for (;;) {
      const uint64_t pc = t->frame.elr;
      kernel_enter();
      (void)syscall_dispatch(t);
      drain_deferred();
      kernel_exit();
      if (t->frame.elr != pc - 4) break;
      t->frame.elr = pc;  // a restarted call: the thread runs the SVC again
      ++restarts_;
    }
    return t->regs().error();
  }
  template <class M>
  abi::Error invoke(uint64_t target, const M& args) {
    return syscall(caller_, abi::Syscall::kInvoke, abi::invocation(target, args));
  }
  // Objects of `type` into the caller's slots [dest, dest + count).
  abi::Error retype(abi::ObjectType type, uint64_t dest, uint64_t count = 1, uint64_t size_bits = 0) {
    return invoke(
        kSlotUntyped,
        abi::UntypedRetype{.type = static_cast<uint64_t>(type), .size_bits = size_bits, .dest = dest, .count = count});
  }

  // All of RAM, to compare before and after a call.
  std::vector<uint8_t> snapshot() const {
    std::vector<uint8_t> s(ram_, ram_ + kRamSize);
    return s;
  }
  bool same_as(const std::vector<uint8_t>& s) const { return memcmp(s.data(), ram_, kRamSize) == 0; }
  // The first differing physical address (for a failure message).
  uint64_t first_difference(const std::vector<uint8_t>& s) const {
    for (uint64_t i = 0; i < kRamSize; ++i) {
      if (s[i] != ram_[i]) return kRamBase + i;
    }
    return 0;
  }

 private:
  uint8_t* ram_ = nullptr;
  object::Capability root_;
  Thread* caller_ = nullptr;
  uint64_t restarts_ = 0;
};

}  // namespace keel::testing
