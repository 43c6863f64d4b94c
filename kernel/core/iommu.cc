// iommu.cc — the SMMUv3 driver (iommu.h). Structures in the kernel's bss
// (the SMMU reads them by physical address: kernel_pa of their VA), one
// linear stream table, one Context Descriptor per stream, a 32-entry
// command queue used synchronously (each batch ends in CMD_SYNC and is
// waited for), a 256-entry event queue read on its interrupt.
#include "kernel/core/iommu.h"

#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/irq.h"
#include "kernel/core/panic.h"
#include "kernel/dev/smmuv3.h"

namespace keel {
namespace {

using namespace smmuv3;  // NOLINT(google-build-using-namespace): the register and field names

constexpr unsigned kStreamBits = 8;  // kIommuStreams = 2^8
static_assert(kIommuStreams == 1u << kStreamBits);
constexpr unsigned kCmdqBits = 5, kEventqBits = 8;  // (a burst of faults fills a small event queue)
constexpr unsigned kMaxPrintedPerStream = 4;        // events reported in full per stream; the rest are counted
constexpr uint64_t kSyncPolls = 10'000'000;         // a CMD_SYNC that does not complete: the SMMU is broken

// The structures the SMMU reads: each aligned to its size (a linear stream
// table's base is taken modulo its size: §6.3.22).
alignas(kIommuStreams * 64) uint64_t g_strtab[kIommuStreams][kSteWords];
alignas(64) uint64_t g_cds[kIommuStreams][kCdWords];
alignas(16 << kCmdqBits) uint64_t g_cmdq[1u << kCmdqBits][2];
alignas(32 << kEventqBits) uint64_t g_eventq[1u << kEventqBits][4];

struct Stream {
  uint64_t root = 0;  // the bound IoSpace's root table (0: unbound)
  uint64_t label = 0;
  uint64_t faults = 0, last_iova = 0;
  uint32_t printed = 0;
};
Stream g_streams[kIommuStreams];
uint64_t g_unknown_events = 0;  // events of streams beyond the table
uint64_t g_global_errors = 0;

bool g_present = false;
uint64_t g_regs = 0;       // the register pages' VA
uint64_t g_kernel_pa = 0;  // PA of layout::kKernelVirtBase
unsigned g_ips = 0;        // IDR5.OAS, as the CDs' IPS
bool g_asid16 = false;
uint32_t g_event_intid = 0;
uint32_t g_cmd_prod = 0;  // our copy of CMDQ_PROD
const QueueIndex kCmdq{kCmdqBits}, kEventq{kEventqBits};

uint32_t rd(uint32_t off) { return *reinterpret_cast<volatile uint32_t*>(g_regs + off); }
void wr(uint32_t off, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(g_regs + off) = v; }
void wr64(uint32_t off, uint64_t v) { *reinterpret_cast<volatile uint64_t*>(g_regs + off) = v; }

uint64_t pa_of(const void* p) { return g_kernel_pa + (reinterpret_cast<uint64_t>(p) - layout::kKernelVirtBase); }
uint16_t asid_of(uint32_t stream) { return static_cast<uint16_t>(stream + 1); }  // (ASID 0 is never used)

// CR0 = v, and wait for CR0ACK to agree (§6.3.9: updates are acknowledged).
bool set_cr0(uint32_t v) {
  wr(kCr0, v);
  for (uint64_t i = 0; i < kSyncPolls; ++i) {
    if (rd(kCr0Ack) == v) return true;
  }
  return false;
}

// Appends a command; the caller ends the batch with sync(). The queue is
// consumed synchronously (sync waits), so it is never found full with
// more than a batch in it.
void push(const Command& c) {
  for (uint64_t i = 0; kCmdq.full(g_cmd_prod, rd(kCmdqCons)) && i < kSyncPolls; ++i) {
  }
  uint64_t* slot = g_cmdq[kCmdq.index(g_cmd_prod)];
  slot[0] = c.w[0];
  slot[1] = c.w[1];
  g_cmd_prod = kCmdq.next(g_cmd_prod);
}

// Issues what push() queued plus CMD_SYNC and waits until the SMMU has
// consumed all of it: every invalidation before the SYNC has completed
// (§4.7.3). A refused command is reported (the SMMU skips it: §7.1).
void sync() {
  push(cmd_sync());
  arch::io_writes_visible();  // the commands in memory before PROD names them
  wr(kCmdqProd, g_cmd_prod);
  for (uint64_t i = 0; i < kSyncPolls; ++i) {
    const uint32_t cons = rd(kCmdqCons);
    if (cmdq_error(cons) != 0) {
      kprintf("keel: smmu: command %u refused (CMDQ_CONS.ERR %u)\n", kCmdq.index(cons), cmdq_error(cons));
      // Acknowledge (GERRORN.CMDQ_ERR toggles to GERROR's) and go on past it.
      wr(kGerrorN, rd(kGerror) & 1);
    }
    if ((cons & ((2u << kCmdqBits) - 1)) == g_cmd_prod) return;
  }
  // Fail closed: the caller is about to let memory go that the SMMU may
  // still translate to. Only broken hardware gets here (nothing a task
  // does delays the command queue).
  panic("smmu: CMD_SYNC did not complete in %llu polls: memory cannot leave a device safely",
        static_cast<unsigned long long>(kSyncPolls));
}

void report(const Event& ev) {
  if (ev.sid >= kIommuStreams) {
    ++g_unknown_events;
    if (g_unknown_events <= kMaxPrintedPerStream) {
      kprintf("keel: smmu: stream 0x%x (beyond the stream table): %s\n", ev.sid, event_name(ev.type));
    }
    return;
  }
  Stream& s = g_streams[ev.sid];
  ++s.faults;
  if (ev.has_address) s.last_iova = ev.address;
  if (s.printed >= kMaxPrintedPerStream) return;
  ++s.printed;
  if (s.root != 0) {
    kprintf("keel: smmu: stream 0x%x (task %llu): %s, %s at IOVA 0x%llx%s\n", ev.sid,
            static_cast<unsigned long long>(s.label), event_name(ev.type), ev.read ? "read" : "write",
            static_cast<unsigned long long>(ev.address),
            s.printed == kMaxPrintedPerStream ? " (further events of this stream are counted, not printed)" : "");
  } else {
    kprintf("keel: smmu: stream 0x%x (nobody's): %s%s\n", ev.sid, event_name(ev.type),
            s.printed == kMaxPrintedPerStream ? " (further events of this stream are counted, not printed)" : "");
  }
}

}  // namespace

bool iommu_present() { return g_present; }
uint32_t iommu_event_intid() { return g_present ? g_event_intid : 0; }

bool iommu_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt) {
  if (!dt.smmu.present) return false;
  g_kernel_pa = bi.kernel_pa;
  g_regs = map_kernel_device(bi, dt.smmu.regs.base, 0x20000);
  if (g_regs == 0) {
    kprintf("keel: smmu: cannot map its registers\n");
    return false;
  }
  const Features f = decode_features(rd(kIdr0), rd(kIdr1), rd(kIdr5));
  const char* why = !f.stage1                     ? "no stage 1 translation"
                    : !f.aarch64_tables           ? "no AArch64 table format"
                    : !f.granule_4k               ? "no 4 KiB granule"
                    : !f.coherent                 ? "not cache-coherent (keel keeps its tables in cacheable memory)"
                    : f.sid_bits < kStreamBits    ? "fewer stream ID bits than keel's table"
                    : f.cmdq_bits < kCmdqBits     ? "a command queue smaller than 32 entries"
                    : f.eventq_bits < kEventqBits ? "an event queue smaller than 256 entries"
                                                  : nullptr;
  if (why != nullptr) {
    kprintf("keel: smmu at 0x%llx not used: %s\n", static_cast<unsigned long long>(dt.smmu.regs.base), why);
    return false;
  }
  g_ips = f.oas_field;
  g_asid16 = f.asid16;
  // Reset (§3.21 "Initialization"): off, then tables and queues, then on.
  if (!set_cr0(0)) {
    kprintf("keel: smmu: does not acknowledge being turned off\n");
    return false;
  }
  wr(kGbpa, kGbpaAbort);  // (while off: abort, not bypass)
  wr(kIrqCtrl, 0);
  wr64(kStrtabBase, strtab_base(pa_of(g_strtab)));
  wr(kStrtabBaseCfg, strtab_base_cfg_linear(kStreamBits));
  wr64(kCmdqBase, queue_base(pa_of(g_cmdq), kCmdqBits));
  wr(kCmdqProd, 0);
  wr(kCmdqCons, 0);
  wr64(kEventqBase, queue_base(pa_of(g_eventq), kEventqBits));
  wr(kEventqProd, 0);
  wr(kEventqCons, 0);
  wr(kCr1, kCr1WbIsh);
  wr(kCr2, kCr2RecInvSid);
  arch::io_writes_visible();  // the (zeroed: every STE invalid) table before the SMMU may read it
  if (!set_cr0(kCr0CmdqEn)) return false;
  push(cmd_cfgi_all());
  push(cmd_tlbi_all());
  sync();
  g_event_intid = dt.smmu.eventq_intid;
  if (g_event_intid != 0) wr(kIrqCtrl, kIrqEventq | kIrqGerror);
  if (!set_cr0(kCr0CmdqEn | kCr0EventqEn) || !set_cr0(kCr0CmdqEn | kCr0EventqEn | kCr0SmmuEn)) {
    kprintf("keel: smmu: does not acknowledge being enabled\n");
    return false;
  }
  if (g_event_intid != 0 && irq_claim_kernel(g_event_intid) != Status::kOk) g_event_intid = 0;
  g_present = true;
  kprintf(
      "keel: DMA is confined by the SMMUv3 at 0x%llx: %u stream IDs, each aborting until bound to an IoSpace; "
      "events on INTID %u\n",
      static_cast<unsigned long long>(dt.smmu.regs.base), kIommuStreams, g_event_intid);
  return true;
}

Status iommu_bind(uint32_t stream, uint64_t root_pa, uint64_t label) {
  if (!g_present || stream >= kIommuStreams) return Status::kInvalidArgument;
  if (!g_asid16 && stream + 1 > 0xff) return Status::kInvalidArgument;
  Stream& s = g_streams[stream];
  if (s.root != 0) return Status::kSlotOccupied;
  // The CD first, then the STE whose V (in its first word, written last)
  // makes the SMMU read it; then its cached STE (an invalid one is never
  // cached, but a former binding's might be) and the ASID's translations go.
  make_cd(root_pa, asid_of(stream), g_ips, arm64::kKeelMair.raw, g_cds[stream]);
  uint64_t ste[kSteWords];
  make_ste_stage1(pa_of(g_cds[stream]), ste);
  for (unsigned i = kSteWords; i-- > 0;) g_strtab[stream][i] = ste[i];
  arch::io_writes_visible();
  push(cmd_cfgi_ste(stream));
  push(cmd_tlbi_asid(asid_of(stream)));
  sync();
  s = Stream{.root = root_pa, .label = label};
  return Status::kOk;
}

void iommu_unbind(uint32_t stream) {
  if (!g_present || stream >= kIommuStreams || g_streams[stream].root == 0) return;
  g_strtab[stream][0] = 0;  // V = 0: every request aborts (and is recorded)
  arch::io_writes_visible();
  push(cmd_cfgi_ste(stream));
  push(cmd_tlbi_asid(asid_of(stream)));
  sync();
  for (unsigned i = 0; i < kSteWords; ++i) g_strtab[stream][i] = 0;
  for (unsigned i = 0; i < kCdWords; ++i) g_cds[stream][i] = 0;
  g_streams[stream].root = 0;
}

void iommu_flush_page(uint32_t stream, uint64_t iova) {
  if (!g_present || stream >= kIommuStreams) return;
  arch::io_writes_visible();  // the cleared entry before the invalidation
  push(cmd_tlbi_va(asid_of(stream), iova));
  sync();
}

void iommu_flush_stream(uint32_t stream) {
  if (!g_present || stream >= kIommuStreams) return;
  arch::io_writes_visible();
  push(cmd_tlbi_asid(asid_of(stream)));
  sync();
}

void iommu_drain_events() {
  if (!g_present) return;
  // (EVENTQ_PROD's wrap and index as our consumer index's: §6.3.29.)
  const uint32_t mask = (2u << kEventqBits) - 1;
  uint32_t cons = rd(kEventqCons) & mask;
  const uint32_t prod = rd(kEventqProd);
  if ((prod >> 31) != 0) kprintf("keel: smmu: the event queue overflowed; some events were lost\n");
  for (unsigned n = 0; n < (1u << kEventqBits) && !kEventq.empty(prod & mask, cons); ++n) {
    report(decode_event(g_eventq[kEventq.index(cons)]));
    cons = kEventq.next(cons);
  }
  wr(kEventqCons, cons | (prod & (1u << 31)));  // (acknowledging the overflow flag)
  const uint32_t gerror = rd(kGerror) ^ rd(kGerrorN);
  if (gerror != 0) {
    // EVENTQ_ABT_ERR (bit 2): the queue was full, an event was dropped (the
    // stream's own counter misses it; the fault itself was still aborted).
    if (++g_global_errors <= kMaxPrintedPerStream) {
      kprintf("keel: smmu: global error 0x%x%s%s\n", gerror,
              (gerror & 4) != 0 ? " (event queue full: events lost)" : "",
              g_global_errors == kMaxPrintedPerStream ? " (further ones counted, not printed)" : "");
    }
    wr(kGerrorN, rd(kGerror));
  }
}

void iommu_faults(uint32_t stream, uint64_t* count, uint64_t* last_iova) {
  iommu_drain_events();
  *count = stream < kIommuStreams ? g_streams[stream].faults : 0;
  *last_iova = stream < kIommuStreams ? g_streams[stream].last_iova : 0;
}

uint64_t iommu_stream_root(uint32_t stream) { return stream < kIommuStreams ? g_streams[stream].root : 0; }

}  // namespace keel
