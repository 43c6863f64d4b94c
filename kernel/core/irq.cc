#include "kernel/core/irq.h"

#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/gic_regs.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/iommu.h"
#include "kernel/core/ipc.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"

namespace keel {
namespace {

uint32_t g_timer_intid = 0;
uint32_t g_vtimer_intid = 0;  // the user timer's PPI (0: the DTB names none)
bool g_gic_up = false;        // the GIC is mapped and initialized
uint64_t g_ticks_per_slice = 0;

void rearm() { arch::timer_arm(g_ticks_per_slice); }

}  // namespace

// Maps [pa, pa + size) into the device window after the console page and
// returns its VA (0 on failure). Tables come from the rest of the boot pool.
uint64_t map_kernel_device(const boot::BootInfo& bi, uint64_t pa, uint64_t size) {
  static uint64_t next_va = layout::kDeviceWindowBase + 0x10'0000;  // after the console
  static arm64::PageAllocator pool(arch::phys_window(), bi.pool_end_pa, bi.pool_limit_pa);
  uint64_t base = pa & ~(arm64::kPageSize - 1);
  uint64_t len = (pa + size - base + arm64::kPageSize - 1) & ~(arm64::kPageSize - 1);
  uint64_t va = next_va;
  arm64::PageTableBuilder ttbr1(arch::phys_window(), &pool, bi.ttbr1);
  if (ttbr1.map(va, base, len, arm64::MapAttrs{.type = arm64::MemType::kDevice, .writable = true},
                {.allow_blocks = false}) != Status::kOk) {
    return 0;
  }
  // New entries replace invalid ones, which no TLB holds: a DSB makes them
  // visible to the walker, the ISB to the instructions that follow.
  arch::table_writes_visible();
  arch::sync_context();
  next_va += (len + 0xf'ffff) & ~0xf'ffffull;  // keep regions 1 MiB apart
  return va + (pa - base);
}

namespace {
uint64_t map_device(const boot::BootInfo& bi, uint64_t pa, uint64_t size) { return map_kernel_device(bi, pa, size); }
}  // namespace

bool timer_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt) {
  if ((dt.gic.version != 2 && dt.gic.version != 3) || !dt.timer.present) {
    kprintf("keel: no usable GIC/timer in the DTB: scheduling stays cooperative\n");
    return false;
  }
  arm64::GicRegs regs{.version = dt.gic.version};
  regs.distributor = map_device(bi, dt.gic.distributor.base, 0x10000);
  // GICv2: the CPU interface (8 KiB, banked per CPU); GICv3: the
  // redistributors of up to kMaxCpus CPUs (128 KiB each: RD and SGI frames).
  regs.cpu_size = dt.gic.version == 2 ? 0x2000 : kMaxCpus * 0x20000;
  if (dt.gic.version == 3 && dt.gic.cpu_or_redist.size < regs.cpu_size) regs.cpu_size = dt.gic.cpu_or_redist.size;
  regs.cpu = map_device(bi, dt.gic.cpu_or_redist.base, regs.cpu_size);
  if (regs.distributor == 0 || regs.cpu == 0) {
    kprintf("keel: cannot map the GIC: scheduling stays cooperative\n");
    return false;
  }
  arch::irq_controller_init(regs);
  g_timer_intid = dt.timer.phys_ns_intid;
  if (dt.timer.virt_intid >= 16 && dt.timer.virt_intid < 32 && dt.timer.virt_intid != g_timer_intid) {
    g_vtimer_intid = dt.timer.virt_intid;
  }
  g_ticks_per_slice = arch::timer_frequency() * kSliceMs / 1000;
  g_gic_up = true;
  if (!timer_init_cpu()) return false;
  kprintf("keel: GICv%u, timer INTID %u, %llu ms time slices\n", dt.gic.version, g_timer_intid,
          static_cast<unsigned long long>(kSliceMs));
  return true;
}

bool timer_init_cpu() {
  if (!g_gic_up) return false;
  const Cpu& c = this_cpu();
  if (!arch::irq_cpu_init(c.index, c.mpidr)) {
    kprintf("keel: cpu %llu: no GIC redistributor for MPIDR 0x%llx\n", static_cast<unsigned long long>(c.index),
            static_cast<unsigned long long>(c.mpidr));
    return false;
  }
  arch::irq_enable_ppi(c.index, g_timer_intid);
  if (g_vtimer_intid != 0) {
    arch::user_timer_stop();  // (whatever firmware left) until a holder arms it
    arch::irq_enable_ppi(c.index, g_vtimer_intid);
  }
  rearm();
  return true;
}

namespace {

constexpr uint32_t kFirstSpi = 32, kMaxIntid = 1020;
struct IrqBinding {
  bool claimed;
  uint64_t ntfn_pa;  // 0: not bound yet
  uint64_t badge;
};
IrqBinding g_irq[kMaxIntid];
// The user timer's channels (abi::kTimerIntid + c): each one holder, one
// deadline, armed on the CPU that set it. Each CPU's virtual timer is
// programmed for the earliest deadline armed there.
struct UserTimer {
  IrqBinding binding;
  uint64_t deadline;
  uint32_t cpu;
  bool armed;
};
UserTimer g_user_timers[abi::kTimerChannels];
bool is_user_timer(uint32_t intid) {
  return intid >= abi::kTimerIntid && intid < abi::kTimerIntid + abi::kTimerChannels;
}
UserTimer& user_timer(uint32_t intid) { return g_user_timers[intid - abi::kTimerIntid]; }

// This CPU's virtual timer: the earliest deadline armed here, or stopped.
void program_user_timer() {
  const uint32_t cpu = static_cast<uint32_t>(this_cpu().index);
  uint64_t earliest = ~uint64_t{0};
  for (const UserTimer& t : g_user_timers) {
    if (t.armed && t.cpu == cpu && t.deadline < earliest) earliest = t.deadline;
  }
  if (earliest == ~uint64_t{0}) {
    arch::user_timer_stop();
  } else {
    arch::user_timer_arm(earliest);
  }
}

}  // namespace

IrqResult irq_dispatch() {
  if (!g_gic_up) return IrqResult::kNone;
  uint32_t intid = arch::irq_ack();
  if (intid >= kMaxIntid) return IrqResult::kNone;  // spurious: nothing pending
  IrqResult r = IrqResult::kDevice;
  if (intid < 16) {  // SGIs from other CPUs (cpu.h): their requests are served on entry already
    arch::irq_eoi(intid);
    if (intid == kSgiHalt) halt_cpu_silently();  // another CPU panicked and reports
    return IrqResult::kReschedule;
  }
  if (intid == g_timer_intid) {
    rearm();
    r = IrqResult::kTick;
  } else if (intid == g_vtimer_intid && g_vtimer_intid != 0) {
    // Every channel due here signals once; the timer is then programmed
    // for the next (or stopped: no storm from a level still asserted).
    const uint64_t now = arch::virtual_count();
    const uint32_t cpu = static_cast<uint32_t>(this_cpu().index);
    for (UserTimer& t : g_user_timers) {
      if (!t.armed || t.cpu != cpu || t.deadline > now) continue;
      t.armed = false;
      if (t.binding.ntfn_pa != 0) {
        ntfn_signal(scheduler(), arch::phys<Notification>(t.binding.ntfn_pa), t.binding.badge);
      }
    }
    program_user_timer();
  } else if (intid == iommu_event_intid() && intid != 0) {
    iommu_drain_events();  // (edge-triggered: nothing to mask)
  } else if (g_irq[intid].ntfn_pa != 0) {
    // Level-triggered devices keep asserting until served: mask until Ack.
    arch::irq_disable(intid);
    ntfn_signal(scheduler(), arch::phys<Notification>(g_irq[intid].ntfn_pa), g_irq[intid].badge);
  } else {
    arch::irq_disable(intid);  // nobody handles it
  }
  arch::irq_eoi(intid);
  return r;
}

Status irq_claim_kernel(uint32_t intid) {
  if (!g_gic_up || intid < kFirstSpi || intid >= kMaxIntid) return Status::kInvalidArgument;
  if (g_irq[intid].claimed) return Status::kSlotOccupied;
  g_irq[intid] = IrqBinding{true, 0, 0};  // claimed for good: no IrqHandler can take it
  arch::irq_set_edge(intid);
  arch::irq_enable(intid);
  return Status::kOk;
}

Status irq_claim(uint32_t intid) {
  if (is_user_timer(intid)) {
    if (g_vtimer_intid == 0) return Status::kInvalidArgument;
    if (user_timer(intid).binding.claimed) return Status::kSlotOccupied;
    user_timer(intid) = UserTimer{IrqBinding{true, 0, 0}, 0, 0, false};
    return Status::kOk;
  }
  if (!g_gic_up || intid < kFirstSpi || intid >= kMaxIntid) return Status::kInvalidArgument;
  if (g_irq[intid].claimed) return Status::kSlotOccupied;
  g_irq[intid] = IrqBinding{true, 0, 0};
  return Status::kOk;
}

Status irq_bind(uint32_t intid, uint64_t ntfn_pa, uint64_t badge) {
  if (is_user_timer(intid)) {
    if (!user_timer(intid).binding.claimed) return Status::kInvalidCapability;
    user_timer(intid).binding.ntfn_pa = ntfn_pa;
    user_timer(intid).binding.badge = badge;
    return Status::kOk;
  }
  if (intid >= kMaxIntid || !g_irq[intid].claimed) return Status::kInvalidCapability;
  g_irq[intid].ntfn_pa = ntfn_pa;
  g_irq[intid].badge = badge;
  arch::irq_enable(intid);
  return Status::kOk;
}

Status irq_ack(uint32_t intid) {
  if (is_user_timer(intid)) return user_timer(intid).binding.ntfn_pa == 0 ? Status::kInvalidArgument : Status::kOk;
  if (intid >= kMaxIntid || g_irq[intid].ntfn_pa == 0) return Status::kInvalidArgument;
  arch::irq_enable(intid);
  return Status::kOk;
}

void irq_forget_notification(uint64_t ntfn_pa) {
  for (UserTimer& t : g_user_timers) {
    if (t.binding.ntfn_pa == ntfn_pa) t.binding.ntfn_pa = 0;
  }
  for (uint32_t intid = kFirstSpi; intid < kMaxIntid; ++intid) {
    if (g_irq[intid].ntfn_pa != ntfn_pa) continue;
    if (g_gic_up) arch::irq_disable(intid);  // claimed still, masked until bound again
    g_irq[intid].ntfn_pa = 0;
  }
}

void irq_release(uint32_t intid) {
  if (is_user_timer(intid)) {
    // Disarmed; if it was armed on another CPU, that CPU's timer may still
    // fire: it finds nothing due and programs itself for what is left.
    user_timer(intid) = UserTimer{};
    if (g_vtimer_intid != 0) program_user_timer();
    return;
  }
  if (intid >= kMaxIntid) return;
  if (g_gic_up) arch::irq_disable(intid);
  g_irq[intid] = IrqBinding{};
}

Status user_timer_set(uint32_t intid, uint64_t deadline) {
  if (g_vtimer_intid == 0 || !is_user_timer(intid) || !user_timer(intid).binding.claimed) {
    return Status::kInvalidArgument;
  }
  UserTimer& t = user_timer(intid);
  t.deadline = deadline;
  t.cpu = static_cast<uint32_t>(this_cpu().index);
  t.armed = true;
  program_user_timer();
  return Status::kOk;
}

void timer_restart() {
  if (g_gic_up) rearm();
}

void timer_stop() { arch::timer_stop(); }

}  // namespace keel
