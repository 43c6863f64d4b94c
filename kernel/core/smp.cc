#include "kernel/core/smp.h"

#include "kernel/arch/arm64/kernel/psci.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/fpu.h"
#include "kernel/core/irq.h"
#include "kernel/object/thread.h"

extern "C" void secondary_kernel_entry();

namespace keel {

using arm64::SecondaryBoot;
namespace {

constexpr uint64_t kPsciCpuOn64 = 0xc400'0003;

alignas(128) SecondaryBoot g_records[kMaxCpus];
alignas(16) uint8_t g_kernel_stacks[kMaxCpus][layout::kKernelStackSize];  // (vectors.S: KSTACK_SIZE)
alignas(16) uint8_t g_phys_stacks[kMaxCpus][4096];

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

uint64_t kernel_pa(const boot::BootInfo& bi, const void* va) {
  return bi.kernel_pa + (reinterpret_cast<uint64_t>(va) - layout::kKernelVirtBase);
}

boot::Selftest g_selftest = boot::Selftest::kNone;

// Self-test: a kernel data abort on a secondary CPU, whose report must name
// that CPU's own stack (no emergency-stack note) and unwind through it.
__attribute__((noinline)) void secondary_selftest_abort() {
  *reinterpret_cast<volatile uint64_t*>(0x0000dead00000000ull) = 1;
}

}  // namespace

// A secondary CPU in the high half: its own state, GIC interface and tick,
// then it reports online and runs threads queued for it. (The boot CPU
// holds the kernel lock until it first enters user space; until then this
// CPU waits in kernel_enter.)
extern "C" [[noreturn]] void secondary_main(const SecondaryBoot* rec) {
  cpu_install(rec->cpu, rec->mpidr, rec->kstack_top);
  cpu_drop_identity_map();
  cpu_enable_pmu();
  fp_init();
  bool irqs = timer_init_cpu();
  kprintf("keel: cpu %llu online (MPIDR 0x%llx) at EL1 in the high half%s\n", ull(rec->cpu), ull(rec->mpidr),
          irqs ? "" : ", without interrupts");
  cpu_set_online(rec->cpu);
  kernel_enter();
  // (With the lock: the boot CPU has left the kernel for init, so the report
  // is not interleaved with its boot lines.)
  if (g_selftest == boot::Selftest::kSecondaryAbort && rec->cpu == 1) secondary_selftest_abort();
  cpu_idle(nullptr);
}

size_t start_secondaries(const boot::BootInfo& bi, const dtb::DtbInfo& dt) {
  g_selftest = bi.selftest;
  const uint64_t self = KEEL_READ_SYSREG(mpidr_el1) & 0xff00ffffffull;
  size_t index = 1;  // keel's CPU numbers: the boot CPU is 0, the others in DTB order
  for (size_t i = 0; i < dt.cpu_count && i < dtb::kMaxCpus; ++i) {
    if ((dt.cpu_mpidr[i] & 0xff00ffffffull) == self) continue;
    if (index >= kMaxCpus) {
      kprintf("keel: cpu %zu (MPIDR 0x%llx) not started: keel supports %zu CPUs\n", i, ull(dt.cpu_mpidr[i]), kMaxCpus);
      continue;
    }
    // Its number; taken for good only once CPU_ON succeeds (a CPU that
    // never starts leaves no gap in the numbers of those that do).
    const size_t n = index;
    SecondaryBoot& r = g_records[n];
    r = SecondaryBoot{.ttbr0 = bi.ttbr0,
                      .ttbr1 = bi.ttbr1,
                      .mair = bi.mair,
                      .tcr = bi.tcr,
                      .sctlr = bi.sctlr,
                      .entry = reinterpret_cast<uint64_t>(secondary_kernel_entry),
                      .arg = reinterpret_cast<uint64_t>(&r),
                      .phys_sp = kernel_pa(bi, g_phys_stacks[n] + sizeof g_phys_stacks[n]),
                      .kstack_top = reinterpret_cast<uint64_t>(g_kernel_stacks[n] + sizeof g_kernel_stacks[n]),
                      .cpu = n,
                      .mpidr = dt.cpu_mpidr[i],
                      .pad = {}};
    // The secondary reads the record with its MMU (and caches) off: clean it
    // to the point of coherency first (Arm ARM D7.5.9).
    arm64::dcache_clean_invalidate_poc(reinterpret_cast<uint64_t>(&r), reinterpret_cast<uint64_t>(&r + 1));
    size_t before = cpus_online();
    int64_t ret = arm64::psci_call(dt.psci, kPsciCpuOn64, dt.cpu_mpidr[i], bi.secondary_entry_pa, kernel_pa(bi, &r));
    if (ret != 0) {
      kprintf("keel: cpu %zu (MPIDR 0x%llx) did not start: PSCI CPU_ON returned %lld\n", i, ull(dt.cpu_mpidr[i]),
              static_cast<long long>(ret));
      continue;
    }
    ++index;
    // Wait (bounded: five seconds of counter ticks, generous for a loaded
    // emulator) for it to report in.
    uint64_t freq = KEEL_READ_SYSREG(cntfrq_el0), t0 = KEEL_READ_SYSREG(cntpct_el0);
    while (cpus_online() == before && KEEL_READ_SYSREG(cntpct_el0) - t0 < 5 * freq) {
    }
    if (cpus_online() == before) {
      kprintf("keel: cpu %zu (MPIDR 0x%llx) started but did not reach the kernel within five seconds\n", i,
              ull(dt.cpu_mpidr[i]));
    }
  }
  size_t online = cpus_online();
  kprintf("keel: %zu of %zu CPUs online\n", online, dt.cpu_count);
  return online;
}

}  // namespace keel
