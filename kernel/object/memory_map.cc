#include "kernel/object/memory_map.h"

namespace keel::object {
namespace {

constexpr unsigned kMaxBits = 47;

// Emits the aligned power-of-two blocks of [base, end).
size_t emit_blocks(uint64_t base, uint64_t end, unsigned min_bits, UntypedBlock* out, size_t cap, size_t n) {
  uint64_t min = 1ull << min_bits;
  base = (base + min - 1) & ~(min - 1);
  end &= ~(min - 1);
  while (base < end) {
    unsigned bits = min_bits;
    while (bits < kMaxBits && (base & ((2ull << bits) - 1)) == 0 && end - base >= (2ull << bits)) ++bits;
    if (n < cap) out[n] = UntypedBlock{base, bits};
    ++n;
    base += 1ull << bits;
  }
  return n;
}

// [base, base + size) widened to whole pages (a range reaching the top of
// the address space ends there).
Region page_rounded(Region r) {
  constexpr uint64_t kPage = 4096;
  const uint64_t b = r.base & ~(kPage - 1);
  uint64_t e = r.base + r.size;
  e = e > ~(kPage - 1) ? ~(kPage - 1) : (e + kPage - 1) & ~(kPage - 1);
  return {b, e - b};
}

}  // namespace

size_t carve_device_untyped(Region* devices, size_t* ndevices, Region* withheld, size_t* nwithheld, UntypedBlock* out,
                            size_t cap) {
  for (size_t i = 0; i < *ndevices; ++i) devices[i] = page_rounded(devices[i]);
  for (size_t i = 0; i < *nwithheld; ++i) withheld[i] = page_rounded(withheld[i]);
  *ndevices = merge_regions(devices, *ndevices);  // several devices may share a page
  *nwithheld = merge_regions(withheld, *nwithheld);
  return carve_untyped(devices, *ndevices, withheld, *nwithheld, 12, out, cap);
}

size_t merge_regions(Region* regions, size_t count) {
  Region* r = regions;
  size_t n = count;
  for (size_t i = 1; i < n; ++i) {  // insertion sort: a few dozen regions at most
    Region v = r[i];
    size_t j = i;
    for (; j > 0 && r[j - 1].base > v.base; --j) r[j] = r[j - 1];
    r[j] = v;
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (r[i].size == 0) continue;
    if (out > 0 && r[i].base <= r[out - 1].base + r[out - 1].size) {
      uint64_t end = r[i].base + r[i].size;
      if (end > r[out - 1].base + r[out - 1].size) r[out - 1].size = end - r[out - 1].base;
    } else {
      r[out++] = r[i];
    }
  }
  return out;
}

size_t carve_untyped(const Region* ram, size_t ram_count, const Region* reserved, size_t reserved_count,
                     unsigned min_bits, UntypedBlock* out, size_t cap) {
  size_t n = 0;
  for (size_t r = 0; r < ram_count; ++r) {
    uint64_t cursor = ram[r].base;
    const uint64_t ram_end = ram[r].base + ram[r].size;
    while (cursor < ram_end) {
      // The reserved region that starts lowest at or before the next free
      // byte decides where the current free run ends.
      uint64_t run_end = ram_end;
      bool skipped = false;
      for (size_t i = 0; i < reserved_count; ++i) {
        uint64_t rb = reserved[i].base, re = reserved[i].base + reserved[i].size;
        if (reserved[i].size == 0 || re <= cursor || rb >= ram_end) continue;
        if (rb <= cursor) {  // cursor is inside a reservation: jump past it
          cursor = re;
          skipped = true;
          break;
        }
        if (rb < run_end) run_end = rb;
      }
      if (skipped) continue;
      n = emit_blocks(cursor, run_end, min_bits, out, cap, n);
      cursor = run_end;
    }
  }
  return n;
}

bool place_at_top(const Region* ram, size_t ram_count, const Region* reserved, size_t reserved_count, uint64_t size,
                  uint64_t* out) {
  constexpr uint64_t kPage = 4096;
  size = (size + kPage - 1) & ~(kPage - 1);
  for (size_t r = ram_count; r-- > 0;) {
    uint64_t end = (ram[r].base + ram[r].size) & ~(kPage - 1);
    while (end >= ram[r].base + size && end - size >= ram[r].base) {
      uint64_t cand = end - size;
      bool clash = false;
      for (size_t i = 0; i < reserved_count; ++i) {
        uint64_t rb = reserved[i].base, re = reserved[i].base + reserved[i].size;
        if (reserved[i].size == 0 || re <= cand || rb >= end) continue;
        clash = true;
        end = rb & ~(kPage - 1);  // try again below it
        break;
      }
      if (!clash) {
        *out = cand;
        return true;
      }
    }
  }
  return false;
}

}  // namespace keel::object
