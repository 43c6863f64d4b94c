// withheld_attacks — hardware the kernel keeps never reaches user space.
// Runs as init, the task that holds every device untyped there is: the
// strongest position any driver could be given. It reads the DTB the
// kernel hands it and finds, on its own (not through the kernel's list),
// every register range of the interrupt controller and everything below
// it, of any ITS / v2m MSI frame and of the SMMUv3. For each range:
//   - no untyped it holds covers any byte of it (a frame can only be made
//     from an untyped that covers it);
//   - the attack: it takes the device untyped nearest below the range and
//     retypes it into frames until it is used up, and asks the kernel
//     where each frame is (FrameAddress): none is inside the range.
// Before the kernel withheld the GIC's children, the ITS (GICv3) and the
// v2m frame (GICv2) were device untyped of init's, and this failed.
#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/devices.h"
#include "keel/sys.h"
#include "keel/testing.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace dtb = keel::dtb;
namespace slot = keel::abi::init_slot;

constexpr uint64_t kFirstFree = 300, kLimit = 500;  // slots for what the attack makes

sys::Checks g_checks("withheld");

struct Withheld {
  dtb::Range r[32];
  size_t n = 0;
  char gic_path[96] = {};
  bool gic_found = false;
};

bool is_gic(const dtb::NodeView& v) {
  return v.is_compatible("arm,gic-v3") || v.is_compatible("arm,cortex-a15-gic") || v.is_compatible("arm,gic-400");
}

void add_node(const dtb::NodeView& v, Withheld* w) {
  for (size_t i = 0; i < v.reg_count() && w->n < 32; ++i) {
    if (v.reg(i, &w->r[w->n])) ++w->n;
  }
}

// First walk: the GIC node's path. (Children end before their parent, so
// the descendants are found in a second walk.)
keel::Status find_gic(void* ctx, const dtb::NodeView& v) {
  auto* w = static_cast<Withheld*>(ctx);
  if (is_gic(v) && v.enabled() && !w->gic_found) {
    w->gic_found = v.path(w->gic_path, sizeof w->gic_path);
  }
  return keel::Status::kOk;
}

bool below(const char* path, const char* ancestor) {
  size_t i = 0;
  for (; ancestor[i] != '\0'; ++i) {
    if (path[i] != ancestor[i]) return false;
  }
  return path[i] == '\0' || path[i] == '/';
}

keel::Status collect(void* ctx, const dtb::NodeView& v) {
  auto* w = static_cast<Withheld*>(ctx);
  if (!v.enabled()) return keel::Status::kOk;
  char path[96];
  const bool gic_part = v.path(path, sizeof path) && below(path, w->gic_path);
  if (gic_part || v.is_compatible("arm,gic-v3-its") || v.is_compatible("arm,gic-v2m-frame") ||
      v.is_compatible("arm,smmu-v3")) {
    add_node(v, w);
  }
  return keel::Status::kOk;
}

bool overlaps(uint64_t b, uint64_t e, const dtb::Range& r) { return b < r.base + r.size && r.base < e; }

}  // namespace

int main() {
  const abi::InitBootInfo* info = sys::init_boot_info();
  const void* blob = reinterpret_cast<const void*>(info->dtb_va);
  static Withheld w;
  keel::Status s = dtb::walk(blob, info->dtb_size, find_gic, &w);
  if (s == keel::Status::kOk) s = dtb::walk(blob, info->dtb_size, collect, &w);
  g_checks.report(s == keel::Status::kOk && w.gic_found && w.n >= 2, "the DTB names the interrupt controller",
                  "%s with %zu ranges of kernel-owned hardware", w.gic_path, w.n);

  uint64_t next = kFirstFree;
  for (size_t i = 0; i < w.n; ++i) {
    const dtb::Range& r = w.r[i];
    // 1. No untyped covers it.
    const abi::BootUntyped* cover = nullptr;
    const abi::BootUntyped* nearest = nullptr;  // the device untyped that ends closest below it
    for (uint64_t u = 0; u < info->untyped_count; ++u) {
      const abi::BootUntyped& ut = info->untyped[u];
      const uint64_t b = ut.base, e = b + (uint64_t{1} << ut.size_bits);
      if (overlaps(b, e, r)) cover = &ut;
      if (ut.device != 0 && e <= r.base && (nearest == nullptr || b > nearest->base)) nearest = &ut;
    }
    const uint64_t end = r.base + r.size;
    g_checks.report(cover == nullptr, "no untyped covers kernel-owned hardware", "[0x%llx, 0x%llx)%s",
                    static_cast<unsigned long long>(r.base), static_cast<unsigned long long>(end),
                    cover == nullptr ? "" : " IS COVERED");

    // 2. The attack: the nearest device untyped below it, halved down to
    // its top 256 KiB (the end that touches the range), all of that made
    // into frames; then where did each land?
    if (nearest == nullptr) continue;
    uint64_t made = 0, inside = 0, first = kFirstFree, cur = nearest->slot;
    next = first;
    for (uint64_t bits = nearest->size_bits; bits > 18 && next + 2 < kLimit; --bits) {
      if (sys::Untyped(cur).retype(ObjectType::kUntyped, bits - 1, next, 2) != Error::kOk) break;
      cur = next + 1;  // the upper half
      next += 2;
    }
    for (uint64_t k = 0; k < 64 && next < kLimit; ++k) {
      if (sys::Untyped(cur).retype(ObjectType::kFrame4K, 0, next) != Error::kOk) break;
      uint64_t pa = 0;
      if (sys::FrameCap(next).address(&pa) == Error::kOk && overlaps(pa, pa + 4096, r)) ++inside;
      ++made;
      ++next;
    }
    (void)sys::CNode(slot::kCNode).revoke(nearest->slot);  // everything made from it, for the next round
    g_checks.report(inside == 0, "frames retyped next to it never reach it",
                    "%llu frames from the device untyped at 0x%llx, %llu inside [0x%llx, +0x%llx)",
                    static_cast<unsigned long long>(made), static_cast<unsigned long long>(nearest->base),
                    static_cast<unsigned long long>(inside), static_cast<unsigned long long>(r.base),
                    static_cast<unsigned long long>(r.size));
  }
  return g_checks.summary("withheld_attacks");
}
