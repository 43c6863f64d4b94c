#include "kernel/object/page_info.h"

namespace keel::object {

namespace {
constexpr unsigned kPageBits = 12;
}

void PageInfoTable::init(PageInfo* entries, uint64_t base_pa, uint64_t pages) {
  entries_ = entries;
  base_ = base_pa;
  pages_ = pages;
}

PageInfo* PageInfoTable::at(uint64_t pa) const {
  if (pa < base_ || ((pa - base_) >> kPageBits) >= pages_) return nullptr;
  return &entries_[(pa - base_) >> kPageBits];
}

PageInfo* PageInfoTable::live_space(uint64_t root_pa, uint32_t id) const {
  PageInfo* p = at(root_pa);
  return p != nullptr && (p->kind == PageKind::kAddressSpace || p->kind == PageKind::kIoSpace) && p->id == id && id != 0
             ? p
             : nullptr;
}

PageInfo* PageInfoTable::new_space(uint64_t root_pa, PageKind kind) {
  PageInfo* p = at(root_pa);
  if (p == nullptr) return nullptr;
  if (next_id_ == 0) next_id_ = 1;  // (after 2^32 - 1 spaces: ids restart; see docs/security.md)
  *p = PageInfo{.kind = kind, .id = next_id_++, .asid = 0, .asid_gen = 0};
  return p;
}

uint32_t AsidPool::get(PageInfo* space, PageInfo* const* running, size_t nrunning, bool* flush_all) {
  *flush_all = false;
  if (live(*space)) return space->asid;
  for (unsigned pass = 0; pass < 2; ++pass) {
    for (unsigned n = 0; n < count_; ++n) {
      uint32_t a = (next_ + n) % count_;
      if (a == 0 || used(a)) continue;
      mark(a);
      next_ = a + 1;
      space->asid = a;
      space->asid_gen = generation_;
      return a;
    }
    // None free: a new generation. The spaces CPUs run keep their ASIDs.
    ++generation_;
    if (generation_ == 0) generation_ = 1;  // 0 means "never assigned"
    for (auto& w : used_) w = 0;
    mark(0);
    for (size_t i = 0; i < nrunning; ++i) {
      PageInfo* r = running[i];
      if (r == nullptr || r->asid == 0 || r->asid_gen != generation_ - 1) continue;
      r->asid_gen = generation_;
      mark(r->asid);
    }
    next_ = 1;
    *flush_all = true;
  }
  return 0;  // unreachable: running holds fewer spaces than there are ASIDs
}

void AsidPool::release(PageInfo* space) {
  if (live(*space)) used_[space->asid / 64] &= ~(1ull << (space->asid % 64));
  space->asid = 0;
  space->asid_gen = 0;
}

unsigned AsidPool::in_use() const {
  unsigned n = 0;
  for (uint32_t a = 1; a < count_; ++a) n += used(a) ? 1 : 0;
  return n;
}

}  // namespace keel::object
