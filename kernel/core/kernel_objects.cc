#include "kernel/core/kernel_objects.h"

#include "keel/abi.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/ipc.h"
#include "kernel/core/irq.h"
#include "kernel/core/panic.h"
#include "kernel/object/address_space.h"

namespace keel {
namespace {

using layout::linear;

using abi::ObjectType;

// Shared by all CPUs: only with the big kernel lock held (lock.h).
Scheduler g_scheduler KEEL_GUARDED_BY(g_kernel_lock);
object::PageInfoTable g_pages KEEL_GUARDED_BY(g_kernel_lock);  // per RAM page (address_space.h)
object::Slot g_mdb_anchor;                                     // never holds a capability; never removed
// Destroyed CNodes still holding capabilities: PA | size bits.
uint64_t g_dead_cnodes KEEL_GUARDED_BY(g_kernel_lock) = 0;

// (Called by capability.cc, always under the lock; the analysis cannot
// follow the hook pointers, so these say so themselves.)
void init_object(void*, ObjectType type, uint64_t pa, unsigned size_bits) KEEL_NO_THREAD_SAFETY_ANALYSIS;
void destroy_object(void*, const object::Capability& cap) KEEL_NO_THREAD_SAFETY_ANALYSIS;
void removed_cap(void*, const object::Capability& cap, object::Slot* where) KEEL_NO_THREAD_SAFETY_ANALYSIS;
const object::ObjectHooks kHooks{
    .init = init_object, .destroy = destroy_object, .removed = removed_cap, .ctx = nullptr};

// New objects are zeroed, except untyped: memory is zeroed when it becomes
// objects, never twice (splitting untyped costs nothing per byte).
void init_object(void*, ObjectType type, uint64_t pa, unsigned size_bits) {
  if (type == ObjectType::kUntyped) return;
  unsigned bits = object::object_size_bits(type, size_bits);
  auto* p = linear<uint64_t>(pa);
  for (uint64_t i = 0; i < (1ull << bits) / 8; ++i) p[i] = 0;
  if (type == ObjectType::kAddressSpace && g_pages.new_space(pa) == nullptr) {
    panic("address space at 0x%llx outside the page records", static_cast<unsigned long long>(pa));
  }
}

// Undoes the mapping a frame or page-table capability recorded (its badge:
// VA | level << 1 | 1; watermark: the root; space_id: which space). The
// walk happens only while that very space is alive (a destroyed space's
// root page may hold anything now), and clears the entry only if it still
// names this object. A table that goes is emptied: nothing can reach it
// once its parent entry and the TLB forget it, and it can be installed
// again later. Arm ARM D8.13 (TLB maintenance): the cleared entry is made
// visible (DSB ISHST), then TLBI by VA+ASID (by ASID for a table: a whole
// subtree and its walk-cache entries), then DSB ISH for completion; the
// ISB before user code runs is the exception return.
void unmap_recorded(const object::Capability& cap) KEEL_REQUIRES(g_kernel_lock) {
  const bool frame = object::is_frame(cap.type);
  const uint64_t va = cap.badge & ~0xfffull;
  const unsigned level = static_cast<unsigned>((cap.badge >> 1) & 3);
  if (object::PageInfo* space = g_pages.live_space(cap.watermark, cap.space_id)) {
    arm64::PhysWindow window{layout::kLinearMapBase};
    uint64_t old = arm64::clear_entry(window, cap.watermark, va, frame ? level : level - 1, cap.object, !frame);
    if (old != 0 && g_asids.live(*space)) {
      arm64::dsb_ishst();
      if (frame) {
        arm64::tlb_flush_page(va, space->asid);
      } else {
        arm64::tlb_flush_asid(space->asid);
      }
    }
  }
  if (!frame) {
    object::PageInfo* p = g_pages.at(cap.object);
    if (p != nullptr && p->kind == object::PageKind::kInstalledTable) {
      auto* e = linear<uint64_t>(cap.object);
      for (uint64_t i = 0; i < arm64::kPageSize / 8; ++i) e[i] = 0;
      p->kind = object::PageKind::kNone;
    }
  }
}

void removed_cap(void*, const object::Capability& cap, object::Slot* where) {
  if ((object::is_frame(cap.type) || cap.type == ObjectType::kPageTable) && (cap.badge & 1) != 0) {
    unmap_recorded(cap);
    return;
  }
  if (cap.type == ObjectType::kAddressSpace && (cap.flags & object::kFlagHeld) != 0) {
    // A thread's own reference to its address space: the space may go now,
    // so the thread stops for good first — off every queue, its callers
    // released with kObjectDestroyed, parked if another CPU runs it. It
    // never runs or takes part in IPC again, so nothing walks its tables.
    auto* t = reinterpret_cast<Thread*>(reinterpret_cast<uintptr_t>(where) - __builtin_offsetof(Thread, vspace_slot));
    cpus_release_thread(t);
    thread_stop(g_scheduler, t);
    t->as_root = 0;
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
    case ObjectType::kAddressSpace: {
      cpus_release_address_space(cap.object);  // no CPU still walks its tables
      object::PageInfo* p = g_pages.at(cap.object);
      if (p != nullptr && g_asids.live(*p)) {
        arm64::tlb_flush_asid(p->asid);  // no stale translation survives into the ASID's reuse
      }
      if (p != nullptr) {
        g_asids.release(p);
        *p = object::PageInfo{};  // mapping records naming it are stale from now on
      }
      break;
    }
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

object::AsidPool g_asids;

Scheduler& scheduler() KEEL_REQUIRES(g_kernel_lock) { return g_scheduler; }
object::Slot* mdb_anchor() { return &g_mdb_anchor; }
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

void pages_init(uint64_t records_pa, uint64_t ram_base, uint64_t pages) KEEL_REQUIRES(g_kernel_lock) {
  g_pages.init(linear<object::PageInfo>(records_pa), ram_base, pages);
}

object::PageInfo* page_info(uint64_t pa) KEEL_REQUIRES(g_kernel_lock) { return g_pages.at(pa); }

// (The table's range is fixed at boot; reading it needs no lock.)
bool is_ram(uint64_t pa) KEEL_NO_THREAD_SAFETY_ANALYSIS { return g_pages.at(pa) != nullptr; }

uint64_t space_ttbr0(uint64_t root_pa) KEEL_REQUIRES(g_kernel_lock) {
  object::PageInfo* space = g_pages.at(root_pa);
  if (space == nullptr || space->kind != object::PageKind::kAddressSpace) {
    panic("running a thread whose address space 0x%llx is not live", static_cast<unsigned long long>(root_pa));
  }
  if (!g_asids.live(*space)) {
    object::PageInfo* running[kMaxCpus] = {};
    for (size_t i = 0; i < kMaxCpus; ++i) {
      Thread* t = cpu_online(i) ? cpu_current(i) : nullptr;
      if (t != nullptr && t->as_root != 0) running[i] = g_pages.at(t->as_root);
    }
    bool flush_all = false;
    g_asids.get(space, running, kMaxCpus, &flush_all);
    if (flush_all) arm64::tlb_flush_all();  // a new generation: reassigned ASIDs start clean everywhere
  }
  return root_pa | (uint64_t{space->asid} << 48);
}

}  // namespace keel
