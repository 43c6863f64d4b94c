// preflight.h — proving, in software, that the MMU switch will work.
//
// Before the trampoline turns the MMU on, preflight walks the new tables with
// the same walker the host tests use (arm64::translate) and checks every
// address the CPU touches in the first instructions after the switch, plus
// the register values those walks depend on. Checks, in order:
//
//   tcr.granule          TG0 and TG1 both encode 4 KiB (their encodings differ)
//   tcr.size             T0SZ = T1SZ = 16 (48-bit VAs), walks enabled
//   tcr.walk             table walks inner-shareable, write-back cacheable
//   tcr.ips              IPS within ID_AA64MMFR0_EL1.PARange and covers every mapped PA
//   mair                 MAIR_EL1 is keel's layout (regs.h kKeelMair)
//   sctlr                M, C, I set, RES1 bits set, little-endian, WXN off
//   trampoline.identity  trampoline page VA == PA in TTBR0, EL1-executable, Normal WB
//   kernel.entry         entry VA -> its PA, EL1-executable, Normal WB
//   kernel.vectors       vectors VA -> its PA, EL1-executable, Normal WB, 2 KiB aligned
//   kernel.stack         every stack page RW, execute-never, Normal WB
//   kernel.sections      every kernel page -> its PA with its segment's rights; no W+X
//   console              UART VA -> UART PA, Device memory, RW, execute-never
//   bootinfo             BootInfo VA -> its PA, readable, Normal WB
//
// A failure names the check and shows the values; the caller prints the
// report and stops rather than switching.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/boot/manifest.h"

namespace keel::boot {

struct PreflightInput {
  arm64::TranslationRegime regime;
  arm64::MairEl1 mair;
  arm64::SctlrEl1 sctlr;
  uint64_t pa_range_enc = 5;
  uint64_t max_pa = 0;  // one past the highest mapped PA
  uint64_t trampoline_pa = 0;
  const ImageManifest* manifest = nullptr;
  uint64_t kernel_pa = 0;  // PA of manifest->kernel_vbase
  uint64_t console_va = 0, console_pa = 0;
  uint64_t bootinfo_va = 0, bootinfo_pa = 0;
};

constexpr size_t kMaxReportedFailures = 8;
constexpr size_t kDetailSize = 200;

struct PreflightFailure {
  const char* check;
  char detail[kDetailSize];
};

struct PreflightReport {
  size_t checks = 0;  // checks run
  size_t failed = 0;  // checks failed (may exceed kMaxReportedFailures)
  PreflightFailure failures[kMaxReportedFailures];
  bool ok() const { return failed == 0; }
};

void run_preflight(const PreflightInput& in, arm64::PhysWindow window, PreflightReport* report);

}  // namespace keel::boot
