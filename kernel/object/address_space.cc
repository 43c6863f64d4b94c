// address_space.cc — the AddressSpace object (address_space.h) with the
// objects mapped into it: page tables and frames.
//
// FrameMap and PageTableMap record the mapping in the mapping capability
// itself (object::MappingRecord), so removing that capability undoes it
// (unmap_recorded), and the
// per-page records (page_info.h) say which tables are installed and which
// spaces are alive.
#include "kernel/object/address_space.h"

#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/core/cpu.h"
#include "kernel/core/iommu.h"
#include "kernel/object/objects.h"
#include "kernel/object/page_info.h"

namespace keel {
namespace {

using abi::ObjectType;
using object::Slot;

// Decode for FrameMap: level from the frame size, VA aligned to it, flags
// known, rights for them. Returns the leaf descriptor to install.
Status decode_frame(const Slot* s, const abi::FrameMap& a, unsigned* level, arm64::Pte* leaf) {
  *level = s->cap.type == ObjectType::kFrame4K ? 3 : 2;
  if ((a.va & (arm64::level_size(*level) - 1)) != 0 || (a.flags & ~abi::kMapFlagsAll) != 0) {
    return Status::kInvalidArgument;
  }
  bool write = (a.flags & abi::kMapWrite) != 0, exec = (a.flags & abi::kMapExecute) != 0;
  if ((s->cap.rights & abi::kRightRead) == 0 || (write && (s->cap.rights & abi::kRightWrite) == 0)) {
    return Status::kInsufficientRights;
  }
  bool device = (s->cap.flags & object::kFlagDevice) != 0;  // MMIO: Device-nGnRE, never executable
  bool uncached = (a.flags & abi::kMapUncached) != 0;
  const arm64::MemType type =
      device ? arm64::MemType::kDevice : (uncached ? arm64::MemType::kNormalNonCacheable : arm64::MemType::kNormal);
  *leaf = arm64::leaf_template(
              arm64::MapAttrs{
                  .type = type, .writable = write, .executable = exec && !device, .user = true, .global = false})
              .address(s->cap.object);
  return Status::kOk;
}

// Records the mapping just made in capability s. The entry was empty, so
// another capability of this object recording this very mapping is stale
// (its table was removed and replaced since): it forgets it, and every
// mapping has exactly one record. (Capabilities of one object are one run
// in the derivation tree: O(the object's capabilities) — a task with many
// copies of one frame pays for them here.)
void record_mapping(Slot* s, uint64_t va, unsigned level, uint64_t root) KEEL_REQUIRES(g_kernel_lock) {
  const object::MappingRecord record{.va = va,
                                     .level = level,
                                     .root = root,
                                     .space_id = page_info(root)->id};  // (a live space: its capability is in hand)
  object::for_each_same_object(s, [&](Slot* n) {
    if (object::MappingRecord::in(n->cap) && object::MappingRecord::of(n->cap) == record) {
      object::MappingRecord::clear(&n->cap);
    }
  });
  record.store(&s->cap);
}

}  // namespace

// Frames and page tables: Map into an address space; a frame's physical
// address (read-only, for DMA).
Status mapping_invoke(Thread* t, Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock) {
  const bool frame = object::is_frame(s->cap.type);
  if (frame && m == abi::Method::kFrameAddress) {
    t->regs().set_result(abi::Error::kOk, abi::FrameAddressResult{.pa = s->cap.object});
    return Status::kOk;
  }
  if (m != (frame ? abi::Method::kFrameMap : abi::Method::kPageTableMap)) return Status::kInvalidArgument;
  if (object::MappingRecord::in(s->cap)) return Status::kSlotOccupied;  // this capability already maps it
  // Both argument structs are (address_space, va, level or flags).
  static_assert(sizeof(abi::FrameMap) == sizeof(abi::PageTableMap));
  const auto fa = t->regs().method_args<abi::FrameMap>();
  const auto ta = t->regs().method_args<abi::PageTableMap>();
  Slot* as_slot = nullptr;
  Status st = lookup_slot(*t, fa.address_space, ObjectType::kAddressSpace, 0, &as_slot);
  // Or an IoSpace: a device's view. Only RAM (a device reaching another
  // device's registers is peer-to-peer DMA no driver needs), never
  // executable, always write-back (the IOMMU's walks and the device's
  // accesses are coherent: iommu.h).
  const bool io = st == Status::kInvalidCapability &&
                  lookup_slot(*t, fa.address_space, ObjectType::kIoSpace, 0, &as_slot) == Status::kOk;
  if (io) {
    st = Status::kOk;
    if (frame && ((s->cap.flags & object::kFlagDevice) != 0 || (fa.flags & abi::kMapExecute) != 0)) {
      return Status::kInvalidArgument;
    }
  }
  if (st != Status::kOk) return st;
  const AddressSpace as = AddressSpace::of(as_slot->cap);
  uint64_t va = fa.va;
  if (va >= abi::kUserLimit) return Status::kOutOfRange;
  unsigned level;
  if (frame) {
    arm64::Pte leaf{};
    abi::FrameMap args = fa;
    if (io) args.flags &= ~abi::kMapUncached;
    st = decode_frame(s, args, &level, &leaf);
    if (st != Status::kOk) return st;
    if ((args.flags & abi::kMapUncached) != 0 && (s->cap.flags & object::kFlagDevice) == 0) {
      // The kernel wrote this frame through its cacheable linear map (the
      // zeroing at retype, earlier lives): lines still dirty or present in
      // a cache would be bypassed by a non-cacheable mapping, showing the
      // old bytes in memory. Clean and invalidate them to the point of
      // coherency first (Arm ARM B2.12 "mismatched memory attributes";
      // DC CIVAC, D7.5.9). Done even if the install below fails: harmless.
      arch::clean_invalidate_to_poc(s->cap.object, arm64::level_size(level));
    }
    st = as.install_leaf(va, level, leaf);  // (checks the path, then writes one entry)
  } else {
    if (ta.level < 1 || ta.level > 3) return Status::kInvalidArgument;
    level = static_cast<unsigned>(ta.level);
    va &= ~(arm64::level_size(level - 1) - 1);
    // Installed at most once, at one level, and only while empty: whether it
    // is installed belongs to the table (its page record), not to this one
    // capability — a copy of an installed table's capability is unmapped
    // too, and must not install it a second time (or its page entries would
    // be walked as table entries).
    object::PageInfo* table = page_info(s->cap.object);
    if (table == nullptr || table->kind != object::PageKind::kNone) return Status::kSlotOccupied;
    if (!arm64::table_empty(arch::phys_window(), s->cap.object)) return Status::kInvalidArgument;
    st = as.install_table(va, level, s->cap.object);
    if (st == Status::kOk) table->kind = object::PageKind::kInstalledTable;
  }
  if (st == Status::kNotFound) return Status::kMissingTable;
  if (st != Status::kOk) return st == Status::kOverlap ? Status::kSlotOccupied : st;
  arch::table_writes_visible();       // the entry is visible to table walks before user code runs
  if (io) arch::io_writes_visible();  // (and to the SMMU's, before the driver's doorbell write)
  record_mapping(s, va, level, as.root());
  return Status::kOk;
}

// Undoes the mapping a frame or page-table capability recorded. The walk
// happens only while that very space is alive (a destroyed space's root
// page may hold anything now), and clears the entry only if it still names
// this object. A table that goes is emptied: nothing can reach it once its
// parent entry and the TLB forget it, and it can be installed again later.
// Arm ARM D8.13 (TLB maintenance): the cleared entry is made visible (DSB
// ISHST), then TLBI by VA+ASID (by ASID for a table: a whole subtree and its
// walk-cache entries), then DSB ISH for completion; the ISB before user code
// runs is the exception return.
void unmap_recorded(const object::Capability& cap) KEEL_REQUIRES(g_kernel_lock) {
  const bool frame = object::is_frame(cap.type);
  const object::MappingRecord m = object::MappingRecord::of(cap);
  const uint64_t va = m.va;
  if (object::PageInfo* space = live_space(m.root, m.space_id)) {
    const uint64_t old = AddressSpace(m.root).clear(va, frame ? m.level : m.level - 1, cap.object, !frame);
    if (space->kind == object::PageKind::kIoSpace) {
      // A device's view: the SMMU forgets the page (a table: the stream's
      // every translation) and CMD_SYNC completes before this returns, so
      // the memory leaves the device before it can be reused (iommu.h).
      if (old != 0 && space->asid != 0) {
        if (frame) {
          iommu_flush_page(space->asid - 1, va);
        } else {
          iommu_flush_stream(space->asid - 1);
        }
      }
    } else if (old != 0 && g_asids.live(*space)) {
      arch::table_writes_visible();
      if (frame) {
        arch::tlb_flush_page(va, space->asid);
      } else {
        arch::tlb_flush_asid(space->asid);
      }
    }
  }
  if (!frame) {
    object::PageInfo* p = page_info(cap.object);
    if (p != nullptr && p->kind == object::PageKind::kInstalledTable) {
      auto* e = arch::phys<uint64_t>(cap.object);
      for (uint64_t i = 0; i < arm64::kPageSize / 8; ++i) e[i] = 0;
      p->kind = object::PageKind::kNone;
    }
  }
}

void address_space_destroy(uint64_t root_pa) KEEL_REQUIRES(g_kernel_lock) {
  cpus_release_address_space(root_pa);  // no CPU still walks its tables
  object::PageInfo* p = AddressSpace(root_pa).record();
  if (p != nullptr && g_asids.live(*p)) {
    arch::tlb_flush_asid(p->asid);  // no stale translation survives into the ASID's reuse
  }
  if (p != nullptr) {
    g_asids.release(p);
    *p = object::PageInfo{};  // mapping records naming it are stale from now on
  }
}

}  // namespace keel
