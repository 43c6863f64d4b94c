// address_space.h — the AddressSpace kernel object: the root translation
// table of a user VA space (one 4 KiB page, zeroed by retype) with its
// per-page record (page_info.h: its identity and its ASID while it has
// one). Page tables and frames are mapped into it by their own capabilities
// (address_space.cc), which record the mapping (object::MappingRecord).
#pragma once

#include <stdint.h>

#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/lib/status.h"
#include "kernel/object/capability.h"
#include "kernel/object/page_info.h"

namespace keel {

class AddressSpace final {
 public:
  static AddressSpace of(const object::Capability& cap) { return AddressSpace(cap.object); }
  explicit AddressSpace(uint64_t root_pa) : root_(root_pa) {}

  uint64_t root() const { return root_; }
  // Its record (nullptr if root is not a page of RAM).
  object::PageInfo* record() const KEEL_REQUIRES(g_kernel_lock) { return page_info(root_); }

  // One entry each, checking the path first (page_table.h): kNotFound if a
  // table above is missing, kOverlap if the entry is taken.
  Status install_table(uint64_t va, unsigned level, uint64_t table_pa) const {
    return arm64::install_table(arch::phys_window(), root_, va, level, table_pa);
  }
  Status install_leaf(uint64_t va, unsigned level, arm64::Pte leaf) const {
    return arm64::install_leaf(arch::phys_window(), root_, va, level, leaf);
  }
  // Clears the entry at `level` for va if it still names object_pa (a table
  // if `table`); returns the old entry (0: nothing cleared).
  uint64_t clear(uint64_t va, unsigned level, uint64_t object_pa, bool table) const {
    return arm64::clear_entry(arch::phys_window(), root_, va, level, object_pa, table);
  }

 private:
  uint64_t root_;
};

}  // namespace keel
