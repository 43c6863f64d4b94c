// page_table.h — building and walking stage 1 translation tables.
//
// Portable: no inline assembly, no knowledge of whether the MMU is on. The
// caller says how a physical address becomes a usable pointer (PhysWindow)
// and where table pages come from (PageAllocator), so the same code runs in
// the physical boot stage (identity window), in the kernel (linear map) and
// in host unit tests (host memory as "physical").
//
// Invariants the builder keeps:
//  - a map() either succeeds completely or changes nothing (overlap and
//    allocation are checked in a dry run first);
//  - it never replaces a valid entry (no break-before-make is ever needed);
//  - blocks are used only where the caller allows and VA, PA and size align.
// The walker (translate) follows the tables as the hardware would, including
// hierarchical table attributes, and reports the exact fault otherwise.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/arch/arm64/pte.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/lib/status.h"

namespace keel::arm64 {

// pointer = pa + offset. Identity (offset 0) with the MMU off.
struct PhysWindow {
  uintptr_t offset = 0;
  uint64_t* table(uint64_t pa) const { return reinterpret_cast<uint64_t*>(pa + offset); }
};

// Bump allocator of zeroed 4 KiB pages from [base, end).
class PageAllocator {
 public:
  PageAllocator(PhysWindow window, uint64_t base, uint64_t end) : window_(window), next_(base), end_(end) {}
  Result<uint64_t> alloc_page();
  uint64_t used_end() const { return next_; }
  uint64_t pages_left() const { return (end_ - next_) / kPageSize; }

 private:
  PhysWindow window_;
  uint64_t next_;
  uint64_t end_;
};

enum class MemType : uint8_t { kNormal, kDevice, kNormalNonCacheable };

struct MapAttrs {
  MemType type = MemType::kNormal;
  bool writable = false;
  bool executable = false;  // at EL1 (user mappings are not made in boot tables)
  bool user = false;        // EL0 accessible; user mappings are never EL1-executable
  bool global = true;       // nG = 0
};

// The leaf descriptor bits (without address) that `attrs` stands for.
Pte leaf_template(const MapAttrs& attrs);

struct MapOptions {
  bool allow_blocks = true;  // may use 1 GiB / 2 MiB block descriptors
};

class PageTableBuilder {
 public:
  PageTableBuilder(PhysWindow window, PageAllocator* alloc, uint64_t root_pa)
      : window_(window), alloc_(alloc), root_pa_(root_pa) {}

  // Maps [va, va+size) to [pa, pa+size). va, pa and size must be 4 KiB
  // aligned, size > 0, va canonical, pa below 2^48. Fails with kOverlap if any
  // part of the range is already mapped, kNoMemory if tables run out.
  Status map(uint64_t va, uint64_t pa, uint64_t size, const MapAttrs& attrs, MapOptions opt = {});
  // Same, with an explicit leaf template (used to inject faults in tests and
  // in the boot fault-injection variants).
  Status map_raw(uint64_t va, uint64_t pa, uint64_t size, Pte leaf, MapOptions opt = {});
  // Removes page (level 3) mappings in [va, va+size). Fails with kUnsupported
  // if a block covers part of the range, kNotFound if nothing was mapped.
  Status unmap_pages(uint64_t va, uint64_t size);

  uint64_t root() const { return root_pa_; }

 private:
  Status walk_range(uint64_t table_pa, unsigned level, uint64_t va, uint64_t pa, uint64_t size, Pte leaf,
                    MapOptions opt, bool dry_run, size_t* tables_needed);

  PhysWindow window_;
  PageAllocator* alloc_;
  uint64_t root_pa_;
};

// Installing single entries in live tables whose intermediate tables the
// caller provides (user address spaces: the kernel allocates nothing).
//
// install_table: makes the table at table_pa the level-`level` table (1..3)
// covering va: walks from root through existing table entries down to level
// `level - 1`, whose entry for va must be empty. kNotFound if a table above
// is missing, kOverlap if the entry is in use.
Status install_table(PhysWindow window, uint64_t root_pa, uint64_t va, unsigned level, uint64_t table_pa);
// install_leaf: writes leaf (a page at level 3, a block at 1 or 2) for va;
// tables down to `level` must exist and the entry must be empty.
Status install_leaf(PhysWindow window, uint64_t root_pa, uint64_t va, unsigned level, Pte leaf);
// clear_entry: empties the level-`level` entry for va if it still names
// `pa` — a table descriptor for `pa` when `table`, else a leaf (page at
// level 3, block at 1 or 2) whose output address is `pa` — and returns what
// it held; 0 (nothing changed) if the path is missing or the entry holds
// anything else. A mapping record can be stale (its table was removed and
// another put in its place); it must never clear what it did not make. The
// caller does the TLB maintenance.
uint64_t clear_entry(PhysWindow window, uint64_t root_pa, uint64_t va, unsigned level, uint64_t pa, bool table);
// Whether every entry of the table at table_pa is invalid.
bool table_empty(PhysWindow window, uint64_t table_pa);

// Why a translation fails (Arm ARM D8.2 / D8.16 fault kinds).
enum class WalkFault : uint8_t {
  kNone,
  kTranslation,  // invalid descriptor at `level`
  kAddressSize,  // an output or table address beyond TCR.IPS
  kAccessFlag,   // leaf with AF == 0 (no hardware AF update in v8.0)
  kUnsupported,  // TCR granule or size keel's walker does not model
  kUnreadable,   // a table's memory could not be read (translate_with's reader said so)
};

// The registers that decide stage 1 translation.
struct TranslationRegime {
  uint64_t ttbr0 = 0;  // root PA (ASID bits ignored)
  uint64_t ttbr1 = 0;
  TcrEl1 tcr{};
};

struct Translation {
  WalkFault fault = WalkFault::kNone;
  unsigned level = 0;  // leaf level, or the level the fault occurred at
  uint64_t pa = 0;     // output address for va
  Pte leaf{};          // the leaf descriptor
  // Effective permissions after hierarchical table controls.
  bool pxn = false;
  bool uxn = false;
  bool el1_writable = false;
  bool el0_readable = false;
  bool el0_writable = false;
  bool ok() const { return fault == WalkFault::kNone; }
};

// Translates va through the regime's tables. Table reads go through window.
// keel's regime only (48-bit VAs, 4 KiB granule: kUnsupported otherwise).
Translation translate(const TranslationRegime& regime, PhysWindow window, uint64_t va);

// A translation granule (Arm ARM D8.2): 4, 16 or 64 KiB pages. Each table
// level resolves page_shift - 3 bits of VA; the leaf level is 3; 48-bit
// output addresses (no FEAT_LPA/LPA2).
struct Granule {
  unsigned page_shift = 12;  // 12, 14 or 16
  constexpr unsigned bits_per_level() const { return page_shift - 3; }
  // The lowest VA bit level `level` indexes.
  constexpr unsigned level_shift(unsigned level) const { return page_shift + (3 - level) * bits_per_level(); }
  // The level a walk over va_bits of VA starts at (D8.2.6, D8.2.7, D8.2.8).
  constexpr unsigned start_level(unsigned va_bits) const { return 3 - (va_bits - page_shift - 1) / bits_per_level(); }
  // Block descriptors (48-bit OA): 4 KiB at levels 1 and 2; 16 and 64 KiB at level 2 only.
  constexpr bool block_allowed(unsigned level) const {
    return page_shift == 12 ? (level == 1 || level == 2) : level == 2;
  }
  // Output address bits of a descriptor at `level` (a table's or page's: bits 47:page_shift).
  constexpr uint64_t oa_mask(unsigned shift) const { return ((1ull << 48) - 1) & ~((1ull << shift) - 1); }
  constexpr unsigned kib() const { return 1u << (page_shift - 10); }
};
// The granule TCR.TG0 / TG1 selects (their encodings differ), or false for a reserved one.
bool granule_of_tg0(uint64_t tg0, Granule* out);
bool granule_of_tg1(uint64_t tg1, Granule* out);

// The general stage-1 walk for any granule (4, 16, 64 KiB) and any
// T0SZ/T1SZ in 16..39 (starting at the level the VA size needs): what the
// doctor runs on another kernel's tables. `read` fetches the descriptor at
// a physical address (false: unreadable). translate() is this with keel's
// checks. kUnsupported: a reserved TGn encoding or a TxSZ outside 16..39.
using DescriptorReader = bool (*)(void* ctx, uint64_t pa, uint64_t* out);
Translation translate_with(const TranslationRegime& regime, DescriptorReader read, void* ctx, uint64_t va);

const char* walk_fault_name(WalkFault f);

}  // namespace keel::arm64
