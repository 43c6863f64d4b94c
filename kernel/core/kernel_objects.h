// kernel_objects.h — where kernel objects live (the linear map), the run
// queues, the per-page records and ASIDs: the state kernel/object's files
// share with the core. Memory is reached through arch::phys (the linear map; host memory in host tests).
#pragma once

#include <stdint.h>

#include "kernel/arch/arch.h"
#include "kernel/core/lock.h"
#include "kernel/core/scheduler.h"
#include "kernel/object/capability.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/notification.h"
#include "kernel/object/page_info.h"
#include "kernel/object/thread.h"

namespace keel {

// The run queues (all CPUs'; guarded by the big kernel lock).
extern Scheduler g_scheduler KEEL_GUARDED_BY(g_kernel_lock);
inline Scheduler& scheduler() KEEL_REQUIRES(g_kernel_lock) { return g_scheduler; }

// Slot `index` of the CNode `cnode` names. kInvalidCapability if cnode is
// not a CNode, kInvalidSlot if index is outside it.
// (Inline: every syscall starts here.)
inline Status cnode_slot(const object::Capability& cnode, uint64_t index, object::Slot** out) {
  if (cnode.type != abi::ObjectType::kCNode) return Status::kInvalidCapability;
  if (index >= (1ull << cnode.size_bits)) return Status::kInvalidSlot;
  *out = arch::phys<object::Slot>(cnode.object) + index;
  return Status::kOk;
}

// The dying list's top (objects.h: destroyed endpoints and notifications
// whose waiters are still being released; PA, | 1 for a notification).
extern uint64_t g_dying_objects KEEL_GUARDED_BY(g_kernel_lock);

// The object a capability names (T: Thread, Endpoint, Notification, Reply, ...).
template <class T>
T* object_at(const object::Capability& cap) {
  return arch::phys<T>(cap.object);
}

// Every capability in the system follows this slot in one derivation-tree
// list (originals are inserted right after it: insert_original's anchor).
object::Slot* mdb_anchor();

// The per-page records (object/page_info.h), in memory create_init
// reserves: one PageInfo per page of [ram_base, ram_base + pages * 4 KiB).
void pages_init(uint64_t records_pa, uint64_t ram_base, uint64_t pages) KEEL_REQUIRES(g_kernel_lock);
object::PageInfo* page_info(uint64_t pa) KEEL_REQUIRES(g_kernel_lock);
// The record of the address space rooted at root_pa if it is still the
// space with identity `id` (a mapping record's space), else null.
object::PageInfo* live_space(uint64_t root_pa, uint32_t id) KEEL_REQUIRES(g_kernel_lock);
// Records a new address space at root_pa; false if outside the records.
bool pages_new_space(uint64_t root_pa, object::PageKind kind = object::PageKind::kAddressSpace)
    KEEL_REQUIRES(g_kernel_lock);
// Whether pa is RAM (the kernel reaches it through the linear map).
bool is_ram(uint64_t pa);

// TTBR0 for running a thread of the live address space rooted at root_pa:
// root | ASID << 48, assigning an ASID (and, when a generation rolls over,
// invalidating every CPU's TLB) if the space has none now.
uint64_t space_ttbr0(uint64_t root_pa) KEEL_REQUIRES(g_kernel_lock);
extern object::AsidPool g_asids KEEL_GUARDED_BY(g_kernel_lock);

// TTBR0 for running thread t: its cached value while the ASID generation
// has not changed (a space keeps its ASID within a generation), else
// space_ttbr0's. A thread's space never changes while it can run
// (ThreadConfigure needs it inactive and resets the cache).
inline uint64_t thread_ttbr0(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  const uint32_t gen = g_asids.generation();
  if (__builtin_expect(t->ttbr0_gen != gen, false)) {
    t->ttbr0 = space_ttbr0(t->as_root);
    set_ttbr0_gen(t, g_asids.generation());  // (after: a rollover inside space_ttbr0 starts a new one)
  }
  return t->ttbr0;
}

}  // namespace keel
