// pte.h — VMSAv8-64 stage 1 translation table descriptors, 4 KiB granule,
// 48-bit addresses. Arm ARM (DDI 0487J.a) D8.3 "Translation table descriptor
// formats" and D8.4 "Memory access control".
//
//   63      59..61  54  53  52  51      47              12 11  10  9:8  7:6  5  4:2  1  0
//  +------+--------+---+---+---+---+---//---------------+---+---+----+----+---+----+---+---+
//  |NSTbl |APTbl.. |UXN|PXN|Ctg|DBM|   output address   |nG |AF | SH | AP |NS |Attr|T  |V  |
//  +------+--------+---+---+---+---+---//---------------+---+---+----+----+---+----+---+---+
//
// Level 0..2 entries with T=1 point to the next table; levels 1 and 2 with
// T=0 are blocks (1 GiB, 2 MiB); at level 3 T must be 1 (page), T=0 is invalid.
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/bitfield.h"
#include "kernel/arch/arm64/regs.h"

namespace keel::arm64 {

constexpr uint64_t kPageSize = 4096;
constexpr unsigned kPageShift = 12;
constexpr unsigned kEntriesPerTable = 512;
constexpr unsigned kVaBits = 48;
constexpr uint64_t kOaMask = ((1ull << 48) - 1) & ~(kPageSize - 1);

// Size mapped by one entry at `level` (0..3).
constexpr uint64_t level_size(unsigned level) { return 1ull << (kPageShift + 9 * (3 - level)); }
constexpr unsigned level_index(uint64_t va, unsigned level) {
  return static_cast<unsigned>((va >> (kPageShift + 9 * (3 - level))) & (kEntriesPerTable - 1));
}

// Data access permissions AP[2:1] (D8.4.1): EL1 / EL0 access.
enum class Ap : uint64_t { kRwNone = 0b00, kRwRw = 0b01, kRoNone = 0b10, kRoRo = 0b11 };

struct Pte {
  uint64_t raw = 0;
  KEEL_FIELD(valid, 0, 0)
  KEEL_FIELD(table_or_page, 1, 1)
  KEEL_FIELD(attr_index, 4, 2)
  KEEL_FIELD(ns, 5, 5)
  KEEL_FIELD_T(ap, Ap, 7, 6)
  KEEL_FIELD_T(sh, Shareability, 9, 8)
  KEEL_FIELD(af, 10, 10)
  KEEL_FIELD(ng, 11, 11)
  KEEL_FIELD(contiguous, 52, 52)
  KEEL_FIELD(pxn, 53, 53)
  KEEL_FIELD(uxn, 54, 54)
  // Table descriptor attributes (D8.3.1, hierarchical controls).
  KEEL_FIELD(pxn_table, 59, 59)
  KEEL_FIELD(uxn_table, 60, 60)
  KEEL_FIELD(ap_table, 62, 61)
  KEEL_FIELD(ns_table, 63, 63)

  // Output address (pages and tables) / block output address at `level`.
  constexpr uint64_t address() const { return raw & kOaMask; }
  constexpr uint64_t block_address(unsigned level) const { return raw & kOaMask & ~(level_size(level) - 1); }
  constexpr Pte address(uint64_t pa) const { return Pte{(raw & ~kOaMask) | (pa & kOaMask)}; }

  static constexpr Pte table(uint64_t next_pa) { return Pte{}.valid(1).table_or_page(1).address(next_pa); }
};
static_assert(sizeof(Pte) == 8);

}  // namespace keel::arm64
