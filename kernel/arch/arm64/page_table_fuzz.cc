// page_table_fuzz — libFuzzer target: the stage-1 walker (preflight, the
// kernel's checked user copies and the debugger walk live tables with it)
// over random table memory, TCR values and addresses. The input fills an
// arena of pages; every descriptor's output address is folded into the
// arena (the walker trusts a table's address as the hardware does: tables
// themselves are made by trusted code). Oracle: the sanitizers, and what a
// successful translation promises — a leaf level of 1..3, an output address
// of that leaf, permissions consistent with each other.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "kernel/arch/arm64/page_table.h"

namespace {

using namespace keel::arm64;  // NOLINT(google-build-using-namespace): a fuzz target's whole vocabulary

constexpr size_t kPages = 8;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 24) return 0;
  uint64_t tcr_bits = 0, va_seed = 0, root_page = 0;
  memcpy(&tcr_bits, data, 8);
  memcpy(&va_seed, data + 8, 8);
  memcpy(&root_page, data + 16, 8);
  data += 24;
  size -= 24;
  // The arena, page aligned so that "physical" addresses are real pointers.
  static std::vector<uint64_t> backing(kPages * kPageSize / 8 + kPageSize / 8);
  auto base = (reinterpret_cast<uintptr_t>(backing.data()) + kPageSize - 1) & ~(kPageSize - 1);
  auto* arena = reinterpret_cast<uint64_t*>(base);
  memset(arena, 0, kPages * kPageSize);
  memcpy(arena, data, size < kPages * kPageSize ? size : kPages * kPageSize);
  for (size_t i = 0; i < kPages * kPageSize / 8; ++i) {
    Pte e{arena[i]};
    uint64_t page = (e.address() >> 12) % kPages;
    arena[i] = (e.raw & ~kOaMask) | ((base + page * kPageSize) & kOaMask);
  }
  // A TCR that the walker models most of the time (4K granules, 48 bits),
  // with the rest of its bits from the input.
  TcrEl1 tcr{tcr_bits};
  if ((tcr_bits & 1) != 0) tcr = tcr.t0sz(16).t1sz(16).tg0(Tg0::k4K).tg1(Tg1::k4K).ips(5);
  const uint64_t root = base + (root_page % kPages) * kPageSize;
  TranslationRegime regime{.ttbr0 = root, .ttbr1 = root, .tcr = tcr};
  for (int i = 0; i < 16; ++i) {
    uint64_t va = va_seed * (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1));
    if ((i & 1) != 0) va = (va & ((1ull << 48) - 1)) | (i & 2 ? 0xffff000000000000ull : 0);
    Translation t = translate(regime, PhysWindow{}, va);
    if (!t.ok()) continue;
    if (t.level < 1 || t.level > 3) __builtin_trap();
    if (t.el0_writable && !t.el0_readable) __builtin_trap();
    if (t.el0_writable && !t.pxn) __builtin_trap();  // EL0-writable memory is never EL1-executable
    const uint64_t span = level_size(t.level);
    const uint64_t oa = t.level == 3 ? t.leaf.address() : t.leaf.block_address(t.level);
    if ((t.pa & ~(span - 1)) != oa || (t.pa & (span - 1)) != (va & (span - 1))) __builtin_trap();
  }
  return 0;
}
