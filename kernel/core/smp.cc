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
bool g_without_irqs[kMaxCpus];  // set by each secondary before it reports online (its timer has no interrupt)
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
  g_without_irqs[rec->cpu] = !timer_init_cpu();
  cpu_set_online(rec->cpu);  // (release: the boot CPU reads g_without_irqs after it sees this)
  arm64::sev();              // wakes the boot CPU from its WFE: it reports for every CPU, in order
  // Nothing to run yet: sleep until an interrupt is pending (masked, it
  // still ends WFI) — a thread queued here (the SGI that says so) or this
  // CPU's first tick — instead of waiting for the big lock the boot CPU
  // holds until init runs, then taking it only to find nothing to do. A
  // spurious wake-up just takes the idle loop's path a little early.
  arch::wait_for_interrupt();
  kernel_enter();
  if (g_selftest == boot::Selftest::kSecondaryAbort && rec->cpu == 1) secondary_selftest_abort();
  cpu_idle(nullptr);
}

size_t start_secondaries(const boot::BootInfo& bi, const dtb::DtbInfo& dt) {
  g_selftest = bi.selftest;
  const uint64_t self = KEEL_READ_SYSREG(mpidr_el1) & 0xff00ffffffull;
  size_t index = 1;                 // keel's CPU numbers: the boot CPU is 0, the others in DTB order
  size_t dtb_index[kMaxCpus] = {};  // each started CPU's place in the DTB
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
    // Once asked to start, it may run kernel code at any time (even after
    // the wait below gives up on it): CPU 0's lockless paths exclude it.
    cpu_expect_peers();
    int64_t ret = arm64::psci_call(dt.psci, kPsciCpuOn64, dt.cpu_mpidr[i], bi.secondary_entry_pa, kernel_pa(bi, &r));
    if (ret != 0) {
      kprintf("keel: cpu %zu (MPIDR 0x%llx) did not start: PSCI CPU_ON returned %lld\n", i, ull(dt.cpu_mpidr[i]),
              static_cast<long long>(ret));
      continue;
    }
    dtb_index[n] = i;
    ++index;
  }
  // All started at once; wait (bounded: five seconds of counter ticks,
  // generous for a loaded emulator) until each has reported in. WFE between
  // looks: each CPU signals an event once online (SEV), and the timer's
  // event stream (pmu_enable) wakes it at least every ~65 us regardless.
  const uint64_t want = index;  // the boot CPU and every CPU started
  const uint64_t freq = KEEL_READ_SYSREG(cntfrq_el0), t0 = KEEL_READ_SYSREG(cntpct_el0);
  while (cpus_online() < want && KEEL_READ_SYSREG(cntpct_el0) - t0 < 5 * freq) arm64::wfe();
  // One line for the CPUs that came up as expected (formatting costs ~1,500
  // instructions a line, before the ready line), one for each that did not.
  size_t first = 0, last = 0;
  for (size_t n = 1; n < want; ++n) {
    const uint64_t mpidr = dt.cpu_mpidr[dtb_index[n]];
    if (!cpu_online(n)) {
      kprintf("keel: cpu %zu (MPIDR 0x%llx) started but did not reach the kernel within five seconds\n", dtb_index[n],
              ull(mpidr));
    } else if (g_without_irqs[n]) {
      kprintf("keel: cpu %zu online (MPIDR 0x%llx) at EL1 in the high half, without interrupts\n", n, ull(mpidr));
    } else {
      first = first == 0 ? n : first;
      last = n;
    }
  }
  if (first != 0 && first == last) {
    kprintf("keel: cpu %zu online (MPIDR 0x%llx) at EL1 in the high half\n", first,
            ull(dt.cpu_mpidr[dtb_index[first]]));
  } else if (first != 0) {
    kprintf("keel: cpus %zu..%zu online (MPIDR 0x%llx..0x%llx) at EL1 in the high half\n", first, last,
            ull(dt.cpu_mpidr[dtb_index[first]]), ull(dt.cpu_mpidr[dtb_index[last]]));
  }
  size_t online = cpus_online();
  kprintf("keel: %zu of %zu CPUs online\n", online, dt.cpu_count);
  return online;
}

}  // namespace keel
