#include "kernel/core/kernel_objects.h"

#include "keel/abi.h"
#include "kernel/arch/arch.h"
#include "kernel/core/cpu.h"
#include "kernel/core/panic.h"
#include "kernel/object/page_info.h"

namespace keel {
namespace {

using abi::ObjectType;

// Shared by all CPUs: only with the big kernel lock held (lock.h).
object::PageInfoTable g_pages KEEL_GUARDED_BY(g_kernel_lock);  // per RAM page (page_info.h)
object::Slot g_mdb_anchor;                                     // never holds a capability; never removed
}  // namespace

object::AsidPool g_asids;
Scheduler g_scheduler;
object::Slot* mdb_anchor() { return &g_mdb_anchor; }

void pages_init(uint64_t records_pa, uint64_t ram_base, uint64_t pages) KEEL_REQUIRES(g_kernel_lock) {
  static_assert(sizeof(object::PageInfo) % 16 == 0, "zero_memory takes multiples of 16 bytes");
  arch::zero_memory(records_pa, pages * sizeof(object::PageInfo));  // (PageInfo{} is all zero)
  g_pages.init(arch::phys<object::PageInfo>(records_pa), ram_base, pages);
}

object::PageInfo* page_info(uint64_t pa) KEEL_REQUIRES(g_kernel_lock) { return g_pages.at(pa); }

object::PageInfo* live_space(uint64_t root_pa, uint32_t id) KEEL_REQUIRES(g_kernel_lock) {
  return g_pages.live_space(root_pa, id);
}

bool pages_new_space(uint64_t root_pa, object::PageKind kind) KEEL_REQUIRES(g_kernel_lock) {
  return g_pages.new_space(root_pa, kind) != nullptr;
}

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
    if (flush_all) {  // a new generation: reassigned ASIDs start clean everywhere
      arch::tlb_flush_all();
      cpus_set_asid_generation(g_asids.generation());  // (no fastpath switches to a thread of the old one)
    }
  }
  return arm64::Ttbr0El1::of(root_pa, space->asid).raw;
}

}  // namespace keel
