#include "kernel/core/kernel_objects.h"

#include "keel/abi.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/ipc.h"
#include "kernel/core/irq.h"

namespace keel {
namespace {

using layout::linear;

using abi::ObjectType;

// Shared by all CPUs: only with the big kernel lock held (lock.h).
Scheduler g_scheduler KEEL_GUARDED_BY(g_kernel_lock);
uint64_t g_asid_root[256] KEEL_GUARDED_BY(g_kernel_lock);  // ASID -> root table PA (0: free)
// Destroyed CNodes still holding capabilities: PA | size bits.
uint64_t g_dead_cnodes KEEL_GUARDED_BY(g_kernel_lock) = 0;

void init_object(void*, ObjectType type, uint64_t pa, unsigned size_bits) {
  unsigned bits = object::object_size_bits(type, size_bits);
  auto* p = linear<uint64_t>(pa);
  for (uint64_t i = 0; i < (1ull << bits) / 8; ++i) p[i] = 0;
}

// (Called by capability.cc, always under the lock; the analysis cannot
// follow the hook pointers, so these two say so themselves.)
void destroy_object(void*, const object::Capability& cap) KEEL_NO_THREAD_SAFETY_ANALYSIS;
void removed_cap(void*, const object::Capability& cap) KEEL_NO_THREAD_SAFETY_ANALYSIS;
const object::ObjectHooks kHooks{
    .init = init_object, .destroy = destroy_object, .removed = removed_cap, .ctx = nullptr};

// The ASID assigned to the address space rooted at root_pa, or 0.
uint32_t asid_of(uint64_t root_pa) KEEL_REQUIRES(g_kernel_lock) {
  for (uint32_t a = 1; a < 256; ++a) {
    if (g_asid_root[a] == root_pa) return a;
  }
  return 0;
}

// A mapped frame or page table whose capability goes is unmapped first, so
// no address space keeps memory its owner no longer holds (and revoke really
// frees it). Arm ARM D8.13: TLBI by VA+ASID (or by ASID for a table), then
// DSB for completion, ISB before returning to user code.
void removed_cap(void*, const object::Capability& cap) {
  bool frame = cap.type == ObjectType::kFrame4K || cap.type == ObjectType::kFrame2M;
  if ((!frame && cap.type != ObjectType::kPageTable) || (cap.badge & 1) == 0) return;
  uint64_t va = cap.badge & ~0xfffull;
  unsigned level = static_cast<unsigned>((cap.badge >> 1) & 3);
  uint32_t asid = asid_of(cap.watermark);
  if (asid == 0) return;  // the address space is gone (and its ASID with it)
  (void)arm64::clear_entry(arm64::PhysWindow{layout::kLinearMapBase}, cap.watermark, va, frame ? level : level - 1);
  arm64::dsb_ishst();  // the cleared entry is visible to walkers before the invalidation
  if (frame) {
    arm64::tlb_flush_page(va, asid);
  } else {
    arm64::tlb_flush_asid(asid);  // a whole table's worth of translations
  }
}

void destroy_object(void*, const object::Capability& cap) {
  switch (cap.type) {
    case ObjectType::kEndpoint: endpoint_destroy(g_scheduler, linear<Endpoint>(cap.object)); break;
    case ObjectType::kNotification:
      irq_forget_notification(cap.object);  // nothing may signal it any more
      console_forget_notification(cap.object);
      ntfn_destroy(g_scheduler, linear<Notification>(cap.object));
      break;
    case ObjectType::kReply: reply_destroy(g_scheduler, linear<Reply>(cap.object)); break;
    case ObjectType::kThread: {
      Thread* t = linear<Thread>(cap.object);
      cpus_release_thread(t);  // another CPU running it parks it first (cpu.h)
      thread_stop(g_scheduler, t);
      fp_forget(t);
      // The capabilities the thread held go with it.
      if (!t->cspace_slot.empty()) (void)object::remove(&t->cspace_slot, kHooks);
      if (!t->vspace_slot.empty()) (void)object::remove(&t->vspace_slot, kHooks);
      break;
    }
    case ObjectType::kCNode: {
      // Emptying it here could destroy further CNodes, recursing as deep as
      // user space nested them: queue it instead (linked through slot 0's
      // spare word) and let drain_dead_cnodes empty it iteratively.
      auto* slots = linear<object::Slot>(cap.object);
      slots[0].reserved = g_dead_cnodes;
      g_dead_cnodes = cap.object | cap.size_bits;  // CNodes are >= 128-byte aligned
      break;
    }
    case ObjectType::kAddressSpace:
      cpus_release_address_space(cap.object);  // no CPU still walks its tables
      if (uint32_t a = asid_of(cap.object)) {
        g_asid_root[a] = 0;
        arm64::tlb_flush_asid(a);  // no stale translation survives into the ASID's reuse
      }
      break;
    case ObjectType::kIrqHandler: irq_release(static_cast<uint32_t>(cap.object)); break;
    default: break;  // frames, page tables, untyped: memory only
  }
}

}  // namespace

void drain_dead_cnodes() KEEL_REQUIRES(g_kernel_lock) {
  while (g_dead_cnodes != 0) {
    uint64_t pa = g_dead_cnodes & ~0x7full;
    unsigned bits = static_cast<unsigned>(g_dead_cnodes & 0x7f);
    auto* slots = linear<object::Slot>(pa);
    g_dead_cnodes = slots[0].reserved;
    slots[0].reserved = 0;
    for (uint64_t i = 0; i < (1ull << bits); ++i) {
      if (!slots[i].empty()) (void)object::remove(&slots[i], kHooks);  // may queue more CNodes
    }
  }
}

Scheduler& scheduler() KEEL_REQUIRES(g_kernel_lock) { return g_scheduler; }
const object::ObjectHooks& object_hooks() { return kHooks; }

Status cnode_slot(const object::Capability& cnode, uint64_t index, object::Slot** out) {
  if (cnode.type != ObjectType::kCNode) return Status::kInvalidCapability;
  if (index >= (1ull << cnode.size_bits)) return Status::kInvalidSlot;
  *out = linear<object::Slot>(cnode.object) + index;
  return Status::kOk;
}

Thread* thread_object(const object::Capability& cap) { return linear<Thread>(cap.object); }
Endpoint* endpoint_object(const object::Capability& cap) { return linear<Endpoint>(cap.object); }
Notification* notification_object(const object::Capability& cap) { return linear<Notification>(cap.object); }
Reply* reply_object(const object::Capability& cap) { return linear<Reply>(cap.object); }

Status asid_for(uint64_t root_pa, uint32_t* asid) KEEL_REQUIRES(g_kernel_lock) {
  *asid = asid_of(root_pa);
  if (*asid != 0) return Status::kOk;
  *asid = asid_of(0);  // the first free one
  if (*asid == 0) return Status::kNoMemory;
  g_asid_root[*asid] = root_pa;
  return Status::kOk;
}

}  // namespace keel
