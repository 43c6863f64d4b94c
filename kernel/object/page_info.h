// page_info.h — what the kernel knows about address spaces and page
// tables beyond their capabilities (portable, host-tested).
//
// Capabilities can be copied, moved and deleted in any order, so facts that
// belong to an *object* cannot live in one capability. Three such facts:
//   - whether a physical page is a live address space, and which one (an
//     identity that is never reused while a mapping record may still name
//     it: a frame capability mapped into a space that was destroyed, whose
//     root page now holds something else, must not walk that page);
//   - whether a page table is installed (at most once, at one level);
//   - an address space's hardware ASID, which changes over its life.
// They live in a PageInfo per physical page of RAM, in memory the kernel
// reserves at boot (16 bytes per 4 KiB page, 0.4 % of RAM): kernel-private,
// so no user-writable memory (a reused object page) can forge them.
//
// ASIDs: 2^bits - 1 of them (ASID 0 is never given out), assigned when a
// space is first run and taken back in bulk: when none is free, a new
// generation starts, every space's ASID becomes stale except those CPUs run
// at that moment (they keep theirs), and the caller invalidates every CPU's
// TLB before any reassigned ASID is used. No task can exhaust ASIDs for
// others; an idle space costs no ASID.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace keel::object {

enum class PageKind : uint32_t {
  kNone = 0,
  kAddressSpace = 1,    // the root table of a live address space
  kInstalledTable = 2,  // a page table installed in some address space
  kIoSpace = 3,         // the root table of a live IoSpace (a device's DMA space; asid: its stream + 1, 0 unbound)
};

struct PageInfo {
  PageKind kind;
  uint32_t id;        // kAddressSpace: its identity (never 0), named by mapping records
  uint32_t asid;      // kAddressSpace: hardware ASID, valid while asid_gen is the pool's generation
  uint32_t asid_gen;  // 0: never assigned
};
static_assert(sizeof(PageInfo) == 16);

// One PageInfo per 4 KiB page of [base, base + pages * 4 KiB).
class PageInfoTable {
 public:
  // entries: `pages` records, all zero already (PageInfo{}: the kernel
  // zeroes them with DC ZVA, 32 times fewer instructions than a loop).
  void init(PageInfo* entries, uint64_t base_pa, uint64_t pages);
  // The record of the page holding pa; nullptr outside the table.
  PageInfo* at(uint64_t pa) const;
  // The record of the live address space or IoSpace rooted at root_pa whose
  // identity is id; nullptr if there is none (destroyed, or the page reused).
  PageInfo* live_space(uint64_t root_pa, uint32_t id) const;
  // Marks root_pa a new live address space (or IoSpace) and gives it a
  // fresh identity.
  PageInfo* new_space(uint64_t root_pa, PageKind kind = PageKind::kAddressSpace);
  uint64_t base() const { return base_; }
  uint64_t pages() const { return pages_; }

 private:
  PageInfo* entries_ = nullptr;
  uint64_t base_ = 0;
  uint64_t pages_ = 0;
  uint32_t next_id_ = 1;
};

class AsidPool {
 public:
  static constexpr unsigned kMaxBits = 8;
  explicit AsidPool(unsigned bits = kMaxBits) : count_(1u << bits) {}

  // The ASID of `space`, assigning one if it has none of this generation.
  // `running` lists the spaces CPUs run now (nullptr entries allowed): on a
  // rollover they keep their ASIDs. *flush_all is set on a rollover; the
  // caller must then invalidate all ASIDs on every CPU (TLBI VMALLE1IS)
  // before returning to user space.
  uint32_t get(PageInfo* space, PageInfo* const* running, size_t nrunning, bool* flush_all);
  // Whether TLB entries may exist under space's ASID.
  bool live(const PageInfo& space) const { return space.asid_gen == generation_ && space.asid != 0; }
  // Gives space's ASID back (the caller flushes its TLB entries first).
  void release(PageInfo* space);
  uint32_t generation() const { return generation_; }
  unsigned in_use() const;
  bool in_use(uint32_t asid) const { return asid < count_ && used(asid); }

 private:
  bool used(uint32_t a) const { return ((used_[a / 64] >> (a % 64)) & 1) != 0; }
  void mark(uint32_t a) { used_[a / 64] |= 1ull << (a % 64); }

  unsigned count_;
  uint32_t generation_ = 1;
  uint32_t next_ = 1;                           // where the search for a free one starts
  uint64_t used_[(1u << kMaxBits) / 64] = {1};  // ASID 0 is never given out
};

}  // namespace keel::object
