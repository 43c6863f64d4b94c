// boot_info.h — what the physical stage hands the kernel (in x0, by VA).
//
// Contract: every address a field calls a VA is valid in the kernel's TTBR1
// tables when the kernel starts; PA fields are for bookkeeping only (the
// kernel never dereferences them). The structure lives in a page of the boot
// table pool, reached through the linear map.
#pragma once

#include <stdint.h>

#include "kernel/boot/manifest.h"

namespace keel::boot {

constexpr uint64_t kBootInfoMagic = 0x4f464e49544f4f42ull;  // "BOOTINFO"

struct BootInfo {
  uint64_t magic;
  uint64_t dtb_va;  // the DTB, through the linear map
  uint64_t dtb_pa;
  uint64_t dtb_size;
  uint64_t image_pa;  // where the whole image was loaded
  uint64_t image_size;
  uint64_t kernel_pa;      // PA of kernel_vbase
  uint64_t pool_pa;        // boot page-table pool [pool_pa, pool_end_pa)
  uint64_t pool_end_pa;    // first unused pool page
  uint64_t pool_limit_pa;  // end of the pool: [pool_end_pa, pool_limit_pa) is free for the
                           // kernel's own boot-time mappings (device registers)
  uint64_t ttbr0;          // boot identity map root (kept for secondary CPUs)
  uint64_t ttbr1;          // kernel tables root
  uint64_t tcr;            // values the trampoline programmed
  uint64_t mair;
  uint64_t sctlr;
  uint64_t trampoline_pa;       // the identity-mapped page
  uint64_t secondary_entry_pa;  // PSCI CPU_ON entry point for the other CPUs (head.S)
  uint64_t console_va;          // PL011 registers in the device window
  uint64_t console_pa;
  uint32_t module_count;
  ManifestModule modules[kMaxModules];  // `offset` holds the module's PA here
  uint32_t entry_el;                    // exception level keel was entered at (1 or 2)
  Inject inject;
  Selftest selftest;
  uint32_t flags;  // the manifest's kImageFlag*
  // The boot stage's parse of the DTB (dtb::DtbInfo, the same code the
  // kernel links), so the kernel need not walk the DTB again; its size as
  // the boot stage saw it (the kernel parses itself if it differs). Its
  // `error` pointer is the boot stage's and means nothing after the switch.
  uint64_t dtb_info_pa;
  uint64_t dtb_info_size;
};

}  // namespace keel::boot
