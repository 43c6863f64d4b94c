// boot_map.h — the translation tables and register values keel switches the
// MMU on with. Portable: the physical stage calls it with the MMU off and an
// identity PhysWindow; host tests call it on host memory.
//
// Produces (DESIGN.md, boot path step 2):
//   TTBR1: kernel segments at their link VAs, 4 KiB pages, per-segment
//          permissions (text RX, rodata R, data/bss RW, never W+X);
//          a linear map of every DTB memory range (RW, XN, blocks allowed);
//          the console UART in the device window (Device-nGnRE, RW, XN).
//   TTBR0: the identity map of the one trampoline page (RX), nothing else.
// Faults requested by `inject` are applied here, so preflight (preflight.h)
// can be shown to catch each of them.
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/boot/manifest.h"
#include "kernel/dtb/dtb.h"
#include "kernel/lib/status.h"

namespace keel::boot {

struct BootMapInput {
  const dtb::DtbInfo* dtb = nullptr;
  const ImageManifest* manifest = nullptr;
  uint64_t kernel_pa = 0;      // PA of manifest->kernel_vbase, page aligned
  uint64_t trampoline_pa = 0;  // the trampoline page, page aligned
  uint64_t console_pa = 0;     // UART registers (any alignment)
  uint64_t pa_range_enc = 5;   // ID_AA64MMFR0_EL1.PARange
  Inject inject = Inject::kNone;
};

struct BootMap {
  uint64_t ttbr0 = 0;
  uint64_t ttbr1 = 0;
  arm64::TcrEl1 tcr{};
  arm64::MairEl1 mair{};
  arm64::SctlrEl1 sctlr{};
  uint64_t console_va = 0;
  uint64_t max_pa = 0;  // one past the highest mapped PA
};

// The SCTLR_EL1 value keel runs with: MMU, caches, alignment and SP-alignment
// checks on, little-endian, WXN off (W^X is kept by the tables themselves).
constexpr arm64::SctlrEl1 kKernelSctlr =
    arm64::SctlrEl1{arm64::SctlrEl1::kRes1}.m(1).a(1).c(1).sa(1).sa0(1).i(1).uct(1).ntwi(1).ntwe(1);

// Builds both table trees from `alloc`. On failure returns the Status and
// sets *what to the step that failed (a static string).
Status build_boot_map(const BootMapInput& in, arm64::PhysWindow window, arm64::PageAllocator* alloc, BootMap* out,
                      const char** what);

}  // namespace keel::boot
