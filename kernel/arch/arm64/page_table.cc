#include "kernel/arch/arm64/page_table.h"

namespace keel::arm64 {
namespace {

constexpr bool canonical_48(uint64_t va) {
  uint64_t top = va >> 48;
  return top == 0 || top == 0xffff;
}

}  // namespace

Result<uint64_t> PageAllocator::alloc_page() {
  if (end_ < next_ || end_ - next_ < kPageSize) return Status::kNoMemory;
  uint64_t pa = next_;
  next_ += kPageSize;
  uint64_t* p = window_.table(pa);
  for (unsigned i = 0; i < kEntriesPerTable; ++i) p[i] = 0;
  return pa;
}

Pte leaf_template(const MapAttrs& attrs) {
  Pte p = Pte{}.valid(1).af(1).ng(attrs.global ? 0 : 1);
  switch (attrs.type) {
    case MemType::kNormal:
      p = p.attr_index(static_cast<uint64_t>(AttrIndex::kNormalWB)).sh(Shareability::kInner);
      break;
    case MemType::kNormalNonCacheable:
      p = p.attr_index(static_cast<uint64_t>(AttrIndex::kNormalNC)).sh(Shareability::kInner);
      break;
    case MemType::kDevice:
      // Device memory is always treated as outer shareable; SH is ignored.
      p = p.attr_index(static_cast<uint64_t>(AttrIndex::kDeviceNGnRE)).sh(Shareability::kNon);
      break;
  }
  if (attrs.user) {
    p = p.ap(attrs.writable ? Ap::kRwRw : Ap::kRoRo);
  } else {
    p = p.ap(attrs.writable ? Ap::kRwNone : Ap::kRoNone);
  }
  // Device memory and user memory are never executable at EL1; user memory is
  // executable at EL0 only if asked.
  bool el1_exec = attrs.executable && !attrs.user && attrs.type != MemType::kDevice;
  bool el0_exec = attrs.executable && attrs.user && attrs.type != MemType::kDevice;
  return p.pxn(el1_exec ? 0 : 1).uxn(el0_exec ? 0 : 1);
}

Status PageTableBuilder::map(uint64_t va, uint64_t pa, uint64_t size, const MapAttrs& attrs, MapOptions opt) {
  return map_raw(va, pa, size, leaf_template(attrs), opt);
}

Status PageTableBuilder::map_raw(uint64_t va, uint64_t pa, uint64_t size, Pte leaf, MapOptions opt) {
  if (size == 0) return Status::kInvalidArgument;
  if ((va | pa | size) & (kPageSize - 1)) return Status::kMisaligned;
  if (!canonical_48(va)) return Status::kOutOfRange;
  uint64_t last_va = va + (size - 1);
  if (last_va < va || (last_va >> 48) != (va >> 48)) return Status::kOutOfRange;
  if (pa >= (1ull << 48) || size > (1ull << 48) - pa) return Status::kOutOfRange;
  size_t needed = 0;
  Status s = walk_range(root_pa_, 0, va, pa, size, leaf, opt, /*dry_run=*/true, &needed);
  if (s != Status::kOk) return s;
  if (needed > alloc_->pages_left()) return Status::kNoMemory;
  return walk_range(root_pa_, 0, va, pa, size, leaf, opt, /*dry_run=*/false, &needed);
}

// Visits [va, va+size) in the table at table_pa (level `level`). In a dry run
// nothing is written or allocated; table_pa == 0 then stands for a table that
// would be freshly allocated (all entries invalid), and *tables_needed counts
// the allocations the real run will make.
Status PageTableBuilder::walk_range(uint64_t table_pa, unsigned level, uint64_t va, uint64_t pa, uint64_t size,
                                    Pte leaf, MapOptions opt, bool dry_run, size_t* tables_needed) {
  uint64_t* table = table_pa != 0 ? window_.table(table_pa) : nullptr;
  if (level == 3) {
    // Pages, all in this one table (the level-2 caller passes at most the
    // rest of its 2 MiB): a tight loop over consecutive entries. A fresh
    // table in a dry run has nothing to check.
    const unsigned first = level_index(va, 3);
    const uint64_t n = size / kPageSize;
    if (table == nullptr) return Status::kOk;
    for (uint64_t i = 0; i < n; ++i) {
      if (Pte{table[first + i]}.valid()) return Status::kOverlap;
    }
    if (!dry_run) {
      // (pa < 2^48 and page aligned, map_raw checked: it ORs into the
      // address field of a template whose address is 0.)
      const uint64_t page = leaf.address(0).valid(1).table_or_page(1).raw;
      for (uint64_t i = 0; i < n; ++i) table[first + i] = page | (pa + i * kPageSize);
    }
    return Status::kOk;
  }
  while (size > 0) {
    unsigned idx = level_index(va, level);
    uint64_t span = level_size(level);
    uint64_t offset = va & (span - 1);
    uint64_t chunk = span - offset < size ? span - offset : size;
    Pte entry{table != nullptr ? table[idx] : 0};
    bool block_ok =
        opt.allow_blocks && (level == 1 || level == 2) && offset == 0 && chunk == span && (pa & (span - 1)) == 0;
    if (level == 3 || block_ok) {
      if (entry.valid()) return Status::kOverlap;
      if (!dry_run) table[idx] = leaf.address(pa).valid(1).table_or_page(level == 3 ? 1 : 0).raw;
    } else {
      uint64_t next = 0;
      if (entry.valid()) {
        if (!entry.table_or_page()) return Status::kOverlap;  // a block already covers it
        next = entry.address();
      } else if (dry_run) {
        ++*tables_needed;
      } else {
        Result<uint64_t> r = alloc_->alloc_page();
        if (!r.ok()) return r.status();
        next = r.value();
        table[idx] = Pte::table(next).raw;
      }
      Status s = walk_range(next, level + 1, va, pa, chunk, leaf, opt, dry_run, tables_needed);
      if (s != Status::kOk) return s;
    }
    va += chunk;
    pa += chunk;
    size -= chunk;
  }
  return Status::kOk;
}

Status PageTableBuilder::unmap_pages(uint64_t va, uint64_t size) {
  if ((va | size) & (kPageSize - 1)) return Status::kMisaligned;
  if (!canonical_48(va) || size == 0) return Status::kInvalidArgument;
  size_t removed = 0;
  for (uint64_t off = 0; off < size; off += kPageSize) {
    uint64_t v = va + off;
    uint64_t table_pa = root_pa_;
    for (unsigned level = 0; level <= 3; ++level) {
      uint64_t* table = window_.table(table_pa);
      Pte e{table[level_index(v, level)]};
      if (!e.valid()) break;
      if (level == 3) {
        table[level_index(v, level)] = 0;
        ++removed;
        break;
      }
      if (!e.table_or_page()) return Status::kUnsupported;  // block: would need splitting
      table_pa = e.address();
    }
  }
  return removed == 0 ? Status::kNotFound : Status::kOk;
}

namespace {

// The table holding level `level`'s entry for va, or nullptr if a table
// above it is missing.
uint64_t* table_at(PhysWindow window, uint64_t root_pa, uint64_t va, unsigned level) {
  uint64_t table_pa = root_pa;
  for (unsigned l = 0; l < level; ++l) {
    Pte e{window.table(table_pa)[level_index(va, l)]};
    if (!e.valid() || !e.table_or_page()) return nullptr;
    table_pa = e.address();
  }
  return window.table(table_pa);
}

}  // namespace

Status install_table(PhysWindow window, uint64_t root_pa, uint64_t va, unsigned level, uint64_t table_pa) {
  if (level < 1 || level > 3 || !canonical_48(va) || (table_pa & (kPageSize - 1)) != 0) {
    return Status::kInvalidArgument;
  }
  uint64_t* t = table_at(window, root_pa, va, level - 1);
  if (t == nullptr) return Status::kNotFound;
  uint64_t& e = t[level_index(va, level - 1)];
  if (Pte{e}.valid()) return Status::kOverlap;
  e = Pte::table(table_pa).raw;
  return Status::kOk;
}

Status install_leaf(PhysWindow window, uint64_t root_pa, uint64_t va, unsigned level, Pte leaf) {
  if (level < 1 || level > 3 || !canonical_48(va) || (va & (level_size(level) - 1)) != 0) {
    return Status::kInvalidArgument;
  }
  uint64_t* t = table_at(window, root_pa, va, level);
  if (t == nullptr) return Status::kNotFound;
  uint64_t& e = t[level_index(va, level)];
  if (Pte{e}.valid()) return Status::kOverlap;
  e = leaf.valid(1).table_or_page(level == 3 ? 1 : 0).raw;
  return Status::kOk;
}

uint64_t clear_entry(PhysWindow window, uint64_t root_pa, uint64_t va, unsigned level, uint64_t pa, bool table) {
  if (level > 3 || (table && level == 3)) return 0;
  uint64_t* t = table_at(window, root_pa, va, level);
  if (t == nullptr) return 0;
  Pte e{t[level_index(va, level)]};
  if (!e.valid()) return 0;
  bool names_it = table ? e.table_or_page() && e.address() == pa
                        : (level == 3 ? e.table_or_page() && e.address() == pa
                                      : !e.table_or_page() && level > 0 && e.block_address(level) == pa);
  if (!names_it) return 0;
  t[level_index(va, level)] = 0;
  return e.raw;
}

bool table_empty(PhysWindow window, uint64_t table_pa) {
  const uint64_t* t = window.table(table_pa);
  for (unsigned i = 0; i < kPageSize / 8; ++i) {
    if (Pte{t[i]}.valid()) return false;
  }
  return true;
}

bool granule_of_tg0(uint64_t tg0, Granule* out) {
  switch (tg0) {
    case 0b00: *out = Granule{12}; return true;
    case 0b01: *out = Granule{16}; return true;
    case 0b10: *out = Granule{14}; return true;
    default: return false;
  }
}

bool granule_of_tg1(uint64_t tg1, Granule* out) {
  switch (tg1) {
    case 0b01: *out = Granule{14}; return true;
    case 0b10: *out = Granule{12}; return true;
    case 0b11: *out = Granule{16}; return true;
    default: return false;
  }
}

Translation translate_with(const TranslationRegime& regime, DescriptorReader read, void* ctx, uint64_t va) {
  Translation t;
  const TcrEl1 tcr = regime.tcr;
  // Which half: TTBR0 covers [0, 2^(64-T0SZ)), TTBR1 [2^64 - 2^(64-T1SZ), 2^64).
  const unsigned t0sz = static_cast<unsigned>(tcr.t0sz()), t1sz = static_cast<unsigned>(tcr.t1sz());
  unsigned va_bits;
  uint64_t root;
  Granule g;
  if (t0sz >= 16 && t0sz <= 39 && (va >> (64 - t0sz)) == 0) {
    if (!granule_of_tg0(static_cast<uint64_t>(tcr.tg0()), &g)) {
      t.fault = WalkFault::kUnsupported;
      return t;
    }
    if (tcr.epd0()) {
      t.fault = WalkFault::kTranslation;
      return t;
    }
    va_bits = 64 - t0sz;
    root = regime.ttbr0;
  } else if (t1sz >= 16 && t1sz <= 39 && (~va >> (64 - t1sz)) == 0) {
    if (!granule_of_tg1(static_cast<uint64_t>(tcr.tg1()), &g)) {
      t.fault = WalkFault::kUnsupported;
      return t;
    }
    if (tcr.epd1()) {
      t.fault = WalkFault::kTranslation;
      return t;
    }
    va_bits = 64 - t1sz;
    root = regime.ttbr1;
  } else {
    // Between the halves (or a TxSZ outside 16..39, which this walker does
    // not model): a translation fault at the first level.
    t.fault = (t0sz < 16 || t0sz > 39 || t1sz < 16 || t1sz > 39) ? WalkFault::kUnsupported : WalkFault::kTranslation;
    return t;
  }
  // page_shift - 3 bits per level below the page offset; the walk starts
  // at the level whose entries cover the top VA bits (D8.2.6..8).
  const unsigned start = g.start_level(va_bits);
  unsigned pa_bits = pa_bits_from_encoding(tcr.ips());
  uint64_t pa_limit = pa_bits >= 64 || pa_bits == 0 ? ~0ull : (1ull << pa_bits);
  // The root table is aligned to its size (at least 64 bytes); TTBR bits
  // below that are RES0, and a CPU (QEMU among them) may ignore them: a
  // misaligned TTBR walks the table at the aligned address below.
  const unsigned root_bits = va_bits - g.level_shift(start) + 3;
  uint64_t table_pa = root & g.oa_mask(root_bits > 6 ? root_bits : 6);
  bool pxn_table = false, uxn_table = false;
  uint64_t ap_table = 0;
  const uint64_t masked = va_bits >= 64 ? va : va & ((1ull << va_bits) - 1);
  for (unsigned level = start; level <= 3; ++level) {
    t.level = level;
    if (table_pa >= pa_limit) {
      t.fault = WalkFault::kAddressSize;
      return t;
    }
    const unsigned shift = g.level_shift(level);
    const uint64_t index = (masked >> shift) & ((1ull << g.bits_per_level()) - 1);
    uint64_t raw = 0;
    if (!read(ctx, table_pa + 8 * index, &raw)) {
      t.fault = WalkFault::kUnreadable;
      return t;
    }
    Pte e{raw};
    const bool table_or_page = e.table_or_page();
    if (!e.valid() || (level == 3 && !table_or_page) || (level < 3 && !table_or_page && !g.block_allowed(level))) {
      t.fault = WalkFault::kTranslation;
      return t;
    }
    if (level < 3 && table_or_page) {
      pxn_table |= e.pxn_table() != 0;
      uxn_table |= e.uxn_table() != 0;
      ap_table |= e.ap_table();
      table_pa = raw & g.oa_mask(g.page_shift);
      continue;
    }
    // Leaf: block (level 1 or 2, as the granule allows) or page (level 3).
    const uint64_t span = 1ull << shift;
    const uint64_t oa = (raw & g.oa_mask(shift)) | (va & (span - 1));
    if (oa >= pa_limit) {
      t.fault = WalkFault::kAddressSize;
      return t;
    }
    if (!e.af()) {
      t.fault = WalkFault::kAccessFlag;
      return t;
    }
    t.pa = oa;
    t.leaf = e;
    uint64_t ap = static_cast<uint64_t>(e.ap());
    t.el1_writable = (ap & 0b10) == 0 && (ap_table & 0b10) == 0;
    t.el0_readable = (ap & 0b01) != 0 && (ap_table & 0b01) == 0;
    t.el0_writable = t.el0_readable && t.el1_writable;
    // Memory writable at EL0 is never executable at EL1 (D8.4.2).
    t.pxn = e.pxn() != 0 || pxn_table || t.el0_writable;
    t.uxn = e.uxn() != 0 || uxn_table;
    return t;
  }
  t.fault = WalkFault::kTranslation;  // unreachable: level 3 always returns
  return t;
}

Translation translate(const TranslationRegime& regime, PhysWindow window, uint64_t va) {
  // keel's own regime only: 48-bit VAs in both halves, 4 KiB granule.
  const TcrEl1 tcr = regime.tcr;
  const uint64_t top = va >> 48;
  if ((top == 0 && (tcr.tg0() != Tg0::k4K || tcr.t0sz() != 64 - kVaBits)) ||
      (top == 0xffff && (tcr.tg1() != Tg1::k4K || tcr.t1sz() != 64 - kVaBits))) {
    Translation t;
    t.fault = WalkFault::kUnsupported;
    return t;
  }
  auto read = [](void* ctx, uint64_t pa, uint64_t* out) {
    *out = *static_cast<PhysWindow*>(ctx)->table(pa);
    return true;
  };
  return translate_with(regime, read, &window, va);
}

const char* walk_fault_name(WalkFault f) {
  switch (f) {
    case WalkFault::kNone: return "none";
    case WalkFault::kTranslation: return "translation fault";
    case WalkFault::kAddressSize: return "address size fault";
    case WalkFault::kAccessFlag: return "access flag fault";
    case WalkFault::kUnsupported: return "unsupported TCR configuration";
    case WalkFault::kUnreadable: return "table memory unreadable";
  }
  return "unknown";
}

}  // namespace keel::arm64
