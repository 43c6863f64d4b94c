// phys_main.cc — the physical stage: from a parsed DTB to the MMU switch.
//
// Runs once, on the boot CPU, at EL1 with the MMU and D-cache off, at the
// PA the image was loaded at (self-relocated by head.S). Steps:
//   1. console from the DTB (or the board's fallback, only to say the DTB is bad)
//   2. validate the image manifest; zero the kernel's bss
//   3. build TTBR0/TTBR1 (kernel/boot/boot_map.h) in the boot pool
//   4. preflight (kernel/boot/preflight.h): any failure is printed and stops here
//   5. invalidate what was written with caches off, then mmu_switch
// Any exception on the way (or during the switch) lands in phys_exception,
// which prints a decoded `KERNEL PANIC:` report.
#include <stdarg.h>
#include <stdint.h>

#include "kernel/arch/arm64/esr.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/boot_info.h"
#include "kernel/boot/boot_map.h"
#include "kernel/boot/layout.h"
#include "kernel/boot/manifest.h"
#include "kernel/boot/preflight.h"
#include "kernel/dev/pl011.h"
#include "kernel/dtb/dtb.h"
#include "kernel/lib/fmt.h"
#include "platform/qemu_virt/board.h"

#define HIDDEN __attribute__((visibility("hidden")))

extern "C" {
HIDDEN extern char _start[];
HIDDEN extern char __trampoline_start[];
HIDDEN extern char __pool_start[];
HIDDEN extern char __pool_end[];
HIDDEN extern char __phys_end[];
HIDDEN extern char __phys_stack_bottom[];
HIDDEN extern char __phys_stack_top[];
HIDDEN extern uint64_t g_bad_relocation_info;
HIDDEN void secondary_entry();
[[noreturn]] void mmu_switch(uint64_t ttbr0, uint64_t ttbr1, uint64_t mair, uint64_t tcr, uint64_t sctlr,
                             uint64_t entry, uint64_t bootinfo);
}

namespace keel::boot {
namespace {

using arm64::PhysWindow;

using arm64::PhysFrame;  // saved by trampoline.S (frame.h)

HIDDEN dev::Pl011 g_console{};

void console_put(void*, const char* s, size_t n) {
  if (!g_console.present()) g_console = dev::Pl011(platform::qemu_virt::kFallbackConsolePa);
  g_console.write(s, n);
}

__attribute__((format(printf, 1, 2))) void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vformat(Sink{console_put, nullptr}, fmt, ap);
  va_end(ap);
}

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

[[noreturn]] void halt() {
  say("keel: system halted.\n");
  for (;;) arm64::wfe();
}

[[noreturn]] void stop(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void stop(const char* fmt, ...) {
  say("keel: boot stopped: ");
  va_list ap;
  va_start(ap, fmt);
  vformat(Sink{console_put, nullptr}, fmt, ap);
  va_end(ap);
  say("\n");
  halt();
}

// A deliberate fault for the phys_fault image: a load from beyond any
// implementable PA (bit 52), which with the MMU off is an address size fault
// at level 0 (Arm ARM D8.2, "the VMSA with the MMU disabled").
__attribute__((noinline)) uint64_t phys_selftest_fault(uint64_t base) {
  return *reinterpret_cast<volatile uint64_t*>(base | (1ull << 52));
}

}  // namespace

// Called by trampoline.S for every exception the physical stage takes, and
// for any taken after the switch before the kernel installed its vectors.
extern "C" [[noreturn]] void phys_exception(PhysFrame* f, uint64_t slot) {
  uint64_t el = arm64::current_el();
  uint64_t esr = el == 2 ? KEEL_READ_SYSREG(esr_el2) : KEEL_READ_SYSREG(esr_el1);
  uint64_t elr = el == 2 ? KEEL_READ_SYSREG(elr_el2) : KEEL_READ_SYSREG(elr_el1);
  uint64_t far = el == 2 ? KEEL_READ_SYSREG(far_el2) : KEEL_READ_SYSREG(far_el1);
  uint64_t spsr = el == 2 ? KEEL_READ_SYSREG(spsr_el2) : KEEL_READ_SYSREG(spsr_el1);
  uint64_t base = reinterpret_cast<uint64_t>(_start);
  char meaning[96];
  bool sync = slot % 4 == 0;
  if (sync) {
    arm64::describe_esr(esr, meaning, sizeof meaning);
  } else {
    snformat(meaning, sizeof meaning, "unexpected %s interrupt", arm64::vector_kind(slot));
  }
  say("\nKERNEL PANIC: %s (physical boot stage, EL%llu)\n", meaning, ull(el));
  say("  exception: %s, %s; EC 0x%02x %s\n", arm64::vector_kind(slot), arm64::vector_origin(slot), arm64::esr_ec(esr),
      arm64::exception_class_name(arm64::esr_ec(esr)));
  say("  ESR 0x%016llx  FAR 0x%016llx\n  ELR 0x%016llx  SPSR 0x%016llx  SP 0x%016llx\n", ull(esr), ull(far), ull(elr),
      ull(spsr), ull(f->sp));
  say("  image base 0x%llx; code addresses below are offsets into the boot ELF\n", ull(base));
  for (int i = 0; i < 31; i += 4) {
    say(" ");
    for (int j = i; j < i + 4 && j < 31; ++j) say(" x%-2d 0x%016llx", j, ull(f->x[j]));
    say("\n");
  }
  say("  backtrace:\n");
  uint64_t end = reinterpret_cast<uint64_t>(__phys_end);
  if (elr >= base && elr < end) {
    say("    #0 0x%016llx in boot\n", ull(elr - base));
  } else if (elr >= layout::kKernelVirtBase) {
    say("    #0 0x%016llx in kernel\n", ull(elr));  // faulted at/after the jump to the high half
  } else {
    say("    #0 0x%016llx (outside the boot image and the kernel)\n", ull(elr));
  }
  uint64_t fp = f->x[29];
  uint64_t lo = reinterpret_cast<uint64_t>(__phys_stack_bottom), hi = reinterpret_cast<uint64_t>(__phys_stack_top);
  for (int depth = 1; depth < 32 && fp >= lo && fp + 16 <= hi && (fp & 15) == 0; ++depth) {
    uint64_t next = reinterpret_cast<uint64_t*>(fp)[0];
    uint64_t lr = reinterpret_cast<uint64_t*>(fp)[1];
    if (lr == 0) break;
    say("    #%d 0x%016llx in boot\n", depth, ull(lr - 4 - base));
    if (next <= fp) break;
    fp = next;
  }
  say("  end of backtrace\n");
  halt();
}

extern "C" [[noreturn]] void phys_main(uint64_t dtb_pa, uint64_t entry_el, uint64_t image_base) {
  // A known SCTLR_EL1 (MMU off), whatever the bootloader left.
  arm64::write_sysreg(arm64::SctlrEl1{arm64::SctlrEl1::kRes1}.i(1));
  arm64::isb();

  // 1. DTB and console.
  if (dtb_pa == 0 || (dtb_pa & 7) != 0) {
    stop(
        "no DTB: x0 was 0x%llx at entry. Boot the raw image (bazel build //:image gives image.bin), not the ELF: "
        "QEMU passes a DTB only to an Image.",
        ull(dtb_pa));
  }
  const void* blob = reinterpret_cast<const void*>(dtb_pa);
  const char* why = "";
  Result<uint32_t> size = dtb::header_total_size(blob, dtb::kMaxDtbSize, &why);
  static dtb::DtbInfo dt;  // in .bss: too large for comfort on the stack
  const uint8_t* h = static_cast<const uint8_t*>(blob);
  const uint32_t total = uint32_t{h[4]} << 24 | uint32_t{h[5]} << 16 | uint32_t{h[6]} << 8 | h[7];  // (big endian)
  if (!size.ok() && size.status() == Status::kUnsupported && total > dtb::kMaxDtbSize) {
    stop(
        "the DTB at 0x%llx is %u bytes, %s. QEMU pads a DTB it loads with -dtb by 1 MiB, so one dumped from QEMU "
        "(dumpdtb) and passed back grows past the limit: pass it through `dtc -I dtb -O dtb` first, which drops the "
        "padding.",
        ull(dtb_pa), total, why);
  }
  if (!size.ok()) stop("the DTB at 0x%llx is unusable: %s (%s)", ull(dtb_pa), why, status_name(size.status()));
  Status st = dtb::parse_dtb(blob, size.value(), &dt);
  if (st != Status::kOk) stop("the DTB at 0x%llx is unusable (%s): %s", ull(dtb_pa), status_name(st), dt.error);
  if (!dt.uart.present) stop("the DTB names no PL011 UART for a console");
  g_console = dev::Pl011(dt.uart.mmio.base);

  say("\nkeel: physical stage at 0x%llx, entered at EL%llu; DTB at 0x%llx (%u bytes)\n", ull(image_base), ull(entry_el),
      ull(dtb_pa), dt.total_size);
  say("keel: DTB: %zu CPUs, %llu MiB RAM in %zu range(s), GICv%u, PSCI via %s, console PL011 at 0x%llx\n", dt.cpu_count,
      ull(dt.memory_bytes() >> 20), dt.memory_count, dt.gic.version, dtb::psci_conduit_name(dt.psci),
      ull(dt.uart.mmio.base));
  for (size_t i = 0; i < dt.reserved_count; ++i) {
    say("keel: reserved memory [0x%llx, 0x%llx)%s\n", ull(dt.reserved[i].base),
        ull(dt.reserved[i].base + dt.reserved[i].size),
        dt.reserved_no_map[i] ? ", no-map: left out of the kernel's linear map" : "");
  }
  if (g_bad_relocation_info != 0) {
    stop("the boot ELF has a relocation other than R_AARCH64_RELATIVE (info 0x%llx)", ull(g_bad_relocation_info));
  }

  // 2. Manifest and kernel placement.
  const auto* m = reinterpret_cast<const ImageManifest*>(__phys_end);
  if (m->magic != kManifestMagic || m->version != kManifestVersion) {
    stop("no keel manifest at image offset 0x%llx: the image was not packed by tools/mkimage",
         ull(reinterpret_cast<uint64_t>(__phys_end) - image_base));
  }
  if (m->segment_count == 0 || m->segment_count > kMaxKernelSegments || (m->kernel_offset & 0xfff) != 0 ||
      (m->kernel_vbase & 0xfff) != 0) {
    stop("the image manifest is malformed (segments %u, kernel offset 0x%llx)", m->segment_count,
         ull(m->kernel_offset));
  }
  uint64_t image_end = image_base + m->image_size;
  if (dtb_pa < image_end && image_base < dtb_pa + dt.total_size) {
    stop("the DTB [0x%llx, +0x%x) overlaps the image [0x%llx, 0x%llx)", ull(dtb_pa), dt.total_size, ull(image_base),
         ull(image_end));
  }
  uint64_t kernel_pa = image_base + m->kernel_offset;
  for (uint32_t i = 0; i < m->segment_count; ++i) {
    const ManifestSegment& s = m->segments[i];
    auto* p = reinterpret_cast<volatile uint8_t*>(kernel_pa + (s.vaddr - m->kernel_vbase));
    // The tail past the file (BSS): bytes up to a 64-byte boundary, then
    // 16-byte pairs (with the MMU off memory is Device-nGnRnE: aligned
    // stores only, and no DC ZVA), then the last bytes.
    // Aligned 64-byte runs go four STP pairs a turn (7 instructions per 64
    // bytes instead of 32: the BSS is ~360 KiB, most of the boot stage's time).
    uint64_t b = s.file_size;
    for (; b < s.mem_size && ((reinterpret_cast<uintptr_t>(p) + b) & 63) != 0; ++b) p[b] = 0;
    if (b + 64 <= s.mem_size) {
      uint64_t at = reinterpret_cast<uintptr_t>(p) + b;
      const uint64_t end = at + ((s.mem_size - b) & ~uint64_t{63});
      asm volatile(
          "1: stp xzr, xzr, [%0]\n stp xzr, xzr, [%0, #16]\n stp xzr, xzr, [%0, #32]\n stp xzr, xzr, [%0, #48]\n"
          " add %0, %0, #64\n cmp %0, %1\n b.lo 1b"
          : "+r"(at)
          : "r"(end)
          : "memory", "cc");
      b = at - reinterpret_cast<uintptr_t>(p);
    }
    for (; b < s.mem_size; ++b) p[b] = 0;
  }
  if (m->inject != Inject::kNone) say("keel: fault injection: %s\n", inject_name(m->inject));
  if (m->inject == Inject::kPhysFault) (void)phys_selftest_fault(image_base);

  // 3. Tables.
  PhysWindow identity{};
  arm64::PageAllocator pool(identity, reinterpret_cast<uint64_t>(__pool_start), reinterpret_cast<uint64_t>(__pool_end));
  Result<uint64_t> bi_page = pool.alloc_page();
  if (!bi_page.ok()) stop("boot table pool exhausted");
  auto* bi = reinterpret_cast<BootInfo*>(bi_page.value());
  uint64_t mmfr0 = KEEL_READ_SYSREG(id_aa64mmfr0_el1);
  BootMapInput in{.dtb = &dt,
                  .manifest = m,
                  .kernel_pa = kernel_pa,
                  .trampoline_pa = reinterpret_cast<uint64_t>(__trampoline_start),
                  .console_pa = dt.uart.mmio.base,
                  .pa_range_enc = mmfr0 & 0xf,
                  .inject = m->inject};
  BootMap map;
  const char* what = "";
  st = build_boot_map(in, identity, &pool, &map, &what);
  if (st != Status::kOk) stop("building the boot page tables failed: %s: %s", what, status_name(st));

  *bi = BootInfo{};
  bi->magic = kBootInfoMagic;
  bi->dtb_pa = dtb_pa;
  bi->dtb_va = layout::phys_to_linear(dtb_pa);
  bi->dtb_size = dt.total_size;
  bi->image_pa = image_base;
  bi->image_size = m->image_size;
  bi->kernel_pa = kernel_pa;
  bi->pool_pa = reinterpret_cast<uint64_t>(__pool_start);
  bi->pool_end_pa = pool.used_end();
  bi->pool_limit_pa = reinterpret_cast<uint64_t>(__pool_end);
  bi->ttbr0 = map.ttbr0;
  bi->ttbr1 = map.ttbr1;
  bi->tcr = map.tcr.raw;
  bi->mair = map.mair.raw;
  bi->sctlr = map.sctlr.raw;
  bi->trampoline_pa = in.trampoline_pa;
  bi->secondary_entry_pa = reinterpret_cast<uint64_t>(secondary_entry);
  bi->console_va = map.console_va;
  bi->console_pa = dt.uart.mmio.base;
  bi->module_count = m->module_count <= kMaxModules ? m->module_count : 0;
  for (uint32_t i = 0; i < bi->module_count; ++i) {
    bi->modules[i] = m->modules[i];
    bi->modules[i].offset = image_base + m->modules[i].offset;  // now a PA
    bi->modules[i].name[kModuleNameSize - 1] = '\0';
  }
  bi->entry_el = static_cast<uint32_t>(entry_el);
  bi->inject = m->inject;
  bi->selftest = m->selftest;
  bi->flags = m->flags;
  bi->dtb_info_pa = reinterpret_cast<uint64_t>(&dt);  // (the boot stage runs at its physical addresses)
  bi->dtb_info_size = sizeof dt;
  uint64_t bi_va = layout::phys_to_linear(bi_page.value());

  // 4. Preflight.
  if (m->inject != Inject::kUnmappedEntryNoPreflight) {
    PreflightInput p{.regime = {.ttbr0 = map.ttbr0, .ttbr1 = map.ttbr1, .tcr = map.tcr},
                     .mair = map.mair,
                     .sctlr = map.sctlr,
                     .pa_range_enc = mmfr0 & 0xf,
                     .max_pa = map.max_pa,
                     .trampoline_pa = in.trampoline_pa,
                     .manifest = m,
                     .kernel_pa = kernel_pa,
                     .console_va = map.console_va,
                     .console_pa = dt.uart.mmio.base,
                     .bootinfo_va = bi_va,
                     .bootinfo_pa = bi_page.value()};
    static PreflightReport report;
    run_preflight(p, identity, &report);
    if (!report.ok()) {
      say("keel: preflight: %zu of %zu checks failed; the MMU stays off\n", report.failed, report.checks);
      for (size_t i = 0; i < report.failed && i < kMaxReportedFailures; ++i) {
        say("PREFLIGHT FAILED: %s: %s\n", report.failures[i].check, report.failures[i].detail);
      }
      halt();
    }
    say("keel: preflight: all %zu checks passed (%llu table pages used)\n", report.checks,
        ull((pool.used_end() - reinterpret_cast<uint64_t>(__pool_start)) / arm64::kPageSize));
  } else {
    say("keel: preflight SKIPPED (fault-injection image)\n");
  }

  // 5. Everything written with the data cache off (tables, BootInfo, kernel
  // bss) is invalidated to the point of coherency, so the cacheable walks and
  // loads after the switch cannot hit stale lines (Arm ARM D7.5.9, "data and
  // unified caches"; the same rule Linux's head.S follows).
  arm64::dcache_invalidate_poc(reinterpret_cast<uint64_t>(__pool_start), pool.used_end());
  arm64::dcache_invalidate_poc(reinterpret_cast<uint64_t>(&dt),
                               reinterpret_cast<uint64_t>(&dt + 1));  // (the kernel reads it)
  for (uint32_t i = 0; i < m->segment_count; ++i) {
    const ManifestSegment& s = m->segments[i];
    uint64_t pa = kernel_pa + (s.vaddr - m->kernel_vbase);
    if (s.mem_size > s.file_size) arm64::dcache_invalidate_poc(pa + s.file_size, pa + s.mem_size);
  }
  say("keel: switching the MMU on; next stop kernel_entry at 0x%llx (high half)\n", ull(m->kernel_entry));
  mmu_switch(map.ttbr0, map.ttbr1, map.mair.raw, map.tcr.raw, map.sctlr.raw, m->kernel_entry, bi_va);
}

}  // namespace keel::boot
