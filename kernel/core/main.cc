// main.cc — the kernel's first C++ code, running in the high half.
//
// Contract on entry (kernel_entry): MMU on with the boot tables, SP on the
// kernel stack, VBAR_EL1 = kernel_vectors, DAIF masked, `bi` a linear-map VA.
// The kernel never runs at a physical address and never dereferences one.
#include <stdint.h>

#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/arch/arm64/kernel/psci.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/boot_info.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/fpu.h"
#include "kernel/core/init_task.h"
#include "kernel/core/invariants.h"
#include "kernel/core/iommu.h"
#include "kernel/core/ipc.h"
#include "kernel/core/irq.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"
#include "kernel/core/smp.h"
#include "kernel/core/uaccess.h"
#include "kernel/dtb/dtb.h"
#include "kernel/object/objects.h"

namespace keel {
namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// The data abort the fault self-test image provokes; its name is what the
// symbolized backtrace test looks for.
__attribute__((noinline)) void selftest_data_abort() {
  volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(0x0000'dead'0000'0000ull);
  *p = 0x6b65656c;  // "keel"
  kprintf("keel: self-test: the write to %p did not fault\n", const_cast<uint64_t*>(p));
}

}  // namespace

extern "C" char __kernel_stack_top[];  // kernel.ld: the boot CPU's stack

extern "C" [[noreturn]] void kernel_main(const boot::BootInfo* bi) {
  console_init(bi->console_va);
  if (bi->magic != boot::kBootInfoMagic) panic("BootInfo at %p has a bad magic", bi);
  cpu_install(0, KEEL_READ_SYSREG(mpidr_el1), reinterpret_cast<uint64_t>(__kernel_stack_top));
  cpu_drop_identity_map();

  // The boot stage's parse, taken over (the same reader: walking the DTB
  // again cost ~70,000 instructions a boot); parsed afresh only if the
  // boot stage's record is missing or of another size.
  static dtb::DtbInfo dt;  // (in .bss: a few KiB, too many for the boot stack)
  if (bi->dtb_info_pa != 0 && bi->dtb_info_size == sizeof dt) {
    __builtin_memcpy(&dt, arch::phys<const dtb::DtbInfo>(bi->dtb_info_pa), sizeof dt);
    dt.error = "";
  } else {
    Status st = dtb::parse_dtb(reinterpret_cast<const void*>(bi->dtb_va), bi->dtb_size, &dt);
    if (st != Status::kOk) panic("the DTB (VA 0x%llx) no longer parses: %s", ull(bi->dtb_va), dt.error);
  }

  const arm64::MidrEl1 midr = arm64::read_sysreg<arm64::MidrEl1>();
  uint64_t pc;
  asm volatile("adr %0, ." : "=r"(pc));
  kprintf(
      "keel: running in the high half at 0x%llx on %s (MIDR 0x%llx), EL%u (entered at EL%u): cpus=%zu mem=%lluMiB\n",
      ull(pc), arm64::cpu_name(midr), ull(midr.raw), arm64::current_el(), bi->entry_el, dt.cpu_count,
      ull(dt.memory_bytes() >> 20));
  kprintf("keel: kernel image at PA 0x%llx, TTBR1 0x%llx, TTBR0 walks disabled, console at VA 0x%llx\n",
          ull(bi->kernel_pa), ull(bi->ttbr1), ull(bi->console_va));

  switch (bi->selftest) {
    case boot::Selftest::kDataAbort:
      kprintf("keel: self-test: data abort on an unmapped address\n");
      selftest_data_abort();
      break;
    case boot::Selftest::kPowerOff:
      kprintf("keel: self-test: PSCI SYSTEM_OFF via %s\n", dtb::psci_conduit_name(dt.psci));
      arm64::psci_call(dt.psci, arm64::kPsciSystemOff);
      panic("PSCI SYSTEM_OFF returned");
    case boot::Selftest::kNone:
    case boot::Selftest::kPanicSmp:
    case boot::Selftest::kSecondaryAbort:
    case boot::Selftest::kForgetRecord: break;
  }
  cpu_enable_pmu();
  ipc_set_cap_transfer(transfer_capability);
  ipc_set_word_transfer(transfer_words);
  kernel_enter();  // held by this CPU from here until it first returns to EL0
  if ((bi->flags & boot::kImageFlagInvariants) != 0) {
    invariants_enable(bi->image_pa, bi->image_size, bi->dtb_pa, bi->dtb_size);
    g_check_lock_holder = true;  // (from the next kernel_enter on)
    invariants_configure(dt.bootargs);
    if (g_invariants_every == 1) {
      kprintf("keel: invariant checker on: every syscall is followed by a check of the kernel's state\n");
    } else {
      kprintf("keel: invariant checker on: every %llu syscalls are followed by a check of the kernel's state\n",
              static_cast<unsigned long long>(g_invariants_every));
    }
  }
  Thread* init = create_init(*bi, dt);
  if (bi->selftest == boot::Selftest::kForgetRecord) forget_first_frame_record();
  (void)timer_init(*bi, dt);  // (before the secondaries: they need the distributor)
  // Before init runs: from here on every PCIe stream aborts until bound.
  // Without an IOMMU every DMA-capable device reaches all of memory: a
  // driver given one is trusted with the machine (docs/security.md).
  if (!iommu_init(*bi, dt)) {
    kprintf("keel: DMA is not confined (no IOMMU): a driver with a DMA device is trusted with all memory\n");
  }
  cpu_set_online(0);
  size_t online = start_secondaries(*bi, dt);
  boot_info_set_cpus_online(online);
  if (bi->selftest == boot::Selftest::kPanicSmp) panic("self-test: a panic with %zu CPUs online", online);
  // Enter init: its address space in TTBR0 (walks re-enabled), then EL0.
  this_cpu().ttbr0 = space_ttbr0(init->as_root);
  arch::set_user_tables(this_cpu().ttbr0);
  arch::set_user_walks(true);  // (both synchronized: in effect before the first user access)
  fp_init();                   // EL0 FP/SIMD traps until a thread first uses it (lazy switching)
  set_current_thread(init);
  kprintf("keel: entering init at EL0\n");
  kernel_exit();
  arm64::enter_user();
}

}  // namespace keel
