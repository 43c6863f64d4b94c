// kernel_objects.h — the kernel's side of kernel objects: where they live
// (the linear map), what making and destroying one does, the run queue, and
// ASIDs. Target only (it reaches memory through the linear map).
#pragma once

#include <stdint.h>

#include "kernel/core/lock.h"
#include "kernel/core/scheduler.h"
#include "kernel/core/thread.h"
#include "kernel/object/address_space.h"
#include "kernel/object/capability.h"

namespace keel {

// The run queues (all CPUs'; guarded by the big kernel lock).
Scheduler& scheduler() KEEL_REQUIRES(g_kernel_lock);

// Empties the CNodes destroyed since the last call (iteratively: a chain of
// nested CNodes costs no kernel stack). Called after every syscall.
void drain_dead_cnodes() KEEL_REQUIRES(g_kernel_lock);

// Retype zeroes new objects; destroying one cleans up after it: an endpoint
// wakes its waiters with kObjectDestroyed, a thread leaves every queue, a
// CNode deletes the capabilities it holds, an address space frees its ASID
// (and its TLB entries).
const object::ObjectHooks& object_hooks();

// Slot `index` of the CNode `cnode` names. kInvalidCapability if cnode is
// not a CNode, kInvalidSlot if index is outside it.
Status cnode_slot(const object::Capability& cnode, uint64_t index, object::Slot** out);

Thread* thread_object(const object::Capability& cap);
Endpoint* endpoint_object(const object::Capability& cap);
Notification* notification_object(const object::Capability& cap);
Reply* reply_object(const object::Capability& cap);

// Every capability in the system follows this slot in one derivation-tree
// list (originals are inserted right after it: insert_original's anchor).
object::Slot* mdb_anchor();

// The per-page records (object/address_space.h), in memory create_init
// reserves: one PageInfo per page of [ram_base, ram_base + pages * 4 KiB).
void pages_init(uint64_t records_pa, uint64_t ram_base, uint64_t pages) KEEL_REQUIRES(g_kernel_lock);
object::PageInfo* page_info(uint64_t pa) KEEL_REQUIRES(g_kernel_lock);
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
    t->ttbr0_gen = g_asids.generation();  // (after: a rollover inside space_ttbr0 starts a new one)
  }
  return t->ttbr0;
}

}  // namespace keel
