// smmuv3.h — the Arm SMMUv3's registers, in-memory structures and
// commands as keel uses them (Arm IHI 0070, SMMU Architecture v3: §6 the
// register map, §5.2 the Stream Table Entry, §5.4 the Context Descriptor,
// §4 commands, §7.3 event records). Portable and host-tested: only
// encoders and decoders here, no MMIO (kernel/core/iommu.cc drives it).
//
// keel's use: a linear stream table; an invalid STE (the default) aborts
// every transaction of its stream and records C_BAD_STE; a bound stream's
// STE selects stage 1 through one Context Descriptor whose TTB0 is an
// IoSpace's root table, walked in the same VMSAv8-64 4 KiB-granule format
// as the CPU's (kernel/arch/arm64/page_table.h builds both).
#pragma once

#include <stdint.h>

namespace keel::smmuv3 {

// Registers (§6.3), byte offsets from the SMMU's base. The event queue's
// producer and consumer indices are in the second 64 KiB page.
enum Reg : uint32_t {
  kIdr0 = 0x00,
  kIdr1 = 0x04,
  kIdr5 = 0x14,
  kCr0 = 0x20,
  kCr0Ack = 0x24,
  kCr1 = 0x28,
  kCr2 = 0x2c,
  kGbpa = 0x44,
  kIrqCtrl = 0x50,
  kIrqCtrlAck = 0x54,
  kGerror = 0x60,
  kGerrorN = 0x64,
  kStrtabBase = 0x80,  // 64-bit
  kStrtabBaseCfg = 0x88,
  kCmdqBase = 0x90,  // 64-bit
  kCmdqProd = 0x98,
  kCmdqCons = 0x9c,
  kEventqBase = 0xa0,  // 64-bit
  kEventqProd = 0x100a8,
  kEventqCons = 0x100ac,
};

// CR0 enables; IRQ_CTRL enables.
constexpr uint32_t kCr0SmmuEn = 1u << 0, kCr0EventqEn = 1u << 2, kCr0CmdqEn = 1u << 3;
constexpr uint32_t kIrqGerror = 1u << 0, kIrqEventq = 1u << 2;
// CR1: tables and queues Normal write-back, inner shareable (a coherent SMMU).
constexpr uint32_t kCr1WbIsh = (1u << 0) | (1u << 2) | (3u << 4) | (1u << 6) | (1u << 8) | (3u << 10);
// CR2: record C_BAD_STREAMID for stream IDs beyond the table.
constexpr uint32_t kCr2RecInvSid = 1u << 1;
// GBPA: abort incoming transactions while the SMMU is disabled (Update bit 31).
constexpr uint32_t kGbpaAbort = (1u << 31) | (1u << 20);

// ID registers, decoded.
struct Features {
  bool stage1 = false;          // IDR0.S1P
  bool aarch64_tables = false;  // IDR0.TTF includes AArch64
  bool coherent = false;        // IDR0.COHACC: table walks and queues snoop the CPU's caches
  bool asid16 = false;
  unsigned sid_bits = 0;     // IDR1.SIDSIZE
  unsigned cmdq_bits = 0;    // IDR1.CMDQS: log2 of the largest command queue
  unsigned eventq_bits = 0;  // IDR1.EVENTQS
  unsigned oas_field = 0;    // IDR5.OAS (TCR.IPS encoding)
  bool granule_4k = false;   // IDR5.GRAN4K
};
constexpr Features decode_features(uint32_t idr0, uint32_t idr1, uint32_t idr5) {
  Features f;
  f.stage1 = (idr0 >> 1) & 1;
  f.aarch64_tables = ((idr0 >> 2) & 3) == 2 || ((idr0 >> 2) & 3) == 3;
  f.coherent = (idr0 >> 4) & 1;
  f.asid16 = (idr0 >> 12) & 1;
  f.sid_bits = idr1 & 0x3f;
  f.eventq_bits = (idr1 >> 16) & 0x1f;
  f.cmdq_bits = (idr1 >> 21) & 0x1f;
  f.oas_field = idr5 & 7;
  f.granule_4k = (idr5 >> 4) & 1;
  return f;
}

// Queue base registers (§6.3.24, .26): address, log2 of the entry count,
// read/write-allocate hint (bit 62).
constexpr uint64_t queue_base(uint64_t pa, unsigned log2_entries) {
  return (uint64_t{1} << 62) | (pa & 0x000f'ffff'ffff'ffe0ull) | (log2_entries & 0x1f);
}
// STRTAB_BASE (§6.3.22) and a linear table of 2^log2_entries STEs.
constexpr uint64_t strtab_base(uint64_t pa) { return (uint64_t{1} << 62) | (pa & 0x000f'ffff'ffff'ffc0ull); }
constexpr uint32_t strtab_base_cfg_linear(unsigned log2_entries) { return log2_entries & 0x3f; }

// A queue index: log2 entries of position, then the wrap bit.
struct QueueIndex {
  unsigned bits;
  constexpr uint32_t index(uint32_t v) const { return v & ((1u << bits) - 1); }
  constexpr uint32_t wrap(uint32_t v) const { return (v >> bits) & 1; }
  constexpr bool empty(uint32_t prod, uint32_t cons) const {
    return index(prod) == index(cons) && wrap(prod) == wrap(cons);
  }
  constexpr bool full(uint32_t prod, uint32_t cons) const {
    return index(prod) == index(cons) && wrap(prod) != wrap(cons);
  }
  constexpr uint32_t next(uint32_t v) const { return (v + 1) & ((2u << bits) - 1); }
};

// ---- Stream Table Entries (§5.2): 8 doublewords ----
constexpr unsigned kSteWords = 8;
// An STE that translates its stream through stage 1 with the one Context
// Descriptor at cd_pa (S1Fmt linear, S1CDMax 0; CD fetches write-back,
// inner shareable; privileged-or-not and instruction-or-data as the
// device says). Word 0 carries V, so it is written last (ste_write_order).
inline void make_ste_stage1(uint64_t cd_pa, uint64_t out[kSteWords]) {
  for (unsigned i = 0; i < kSteWords; ++i) out[i] = 0;
  out[0] = 1 | (uint64_t{0b101} << 1) | (cd_pa & 0x000f'ffff'ffff'ffc0ull);  // V, Config = S1 translate, S2 bypass
  out[1] = (uint64_t{1} << 2) | (uint64_t{1} << 4) | (uint64_t{3} << 6);     // S1CIR, S1COR = WB; S1CSH = ISH
}

// ---- Context Descriptors (§5.4): 8 doublewords ----
constexpr unsigned kCdWords = 8;
// Stage 1 through TTB0 only (EPD1): 48-bit input addresses (T0SZ 16, a
// 4-level walk from ttb0), 4 KiB granule, walks write-back inner
// shareable, output size `ips` (IDR5.OAS), the given ASID and MAIR (the
// kernel's MAIR_EL1, so descriptors mean what they mean to the CPU).
// Faults are recorded (R) and the transaction aborted (A), never stalled.
inline void make_cd(uint64_t ttb0, uint16_t asid, unsigned ips, uint64_t mair, uint64_t out[kCdWords]) {
  for (unsigned i = 0; i < kCdWords; ++i) out[i] = 0;
  out[0] = uint64_t{16}                 // T0SZ
           | (uint64_t{0} << 6)         // TG0 = 4 KiB
           | (uint64_t{1} << 8)         // IR0 = WB
           | (uint64_t{1} << 10)        // OR0 = WB
           | (uint64_t{3} << 12)        // SH0 = inner shareable
           | (uint64_t{1} << 30)        // EPD1: no TTB1 walks
           | (uint64_t{1} << 31)        // V
           | (uint64_t{ips & 7} << 32)  // IPS
           | (uint64_t{1} << 41)        // AA64
           | (uint64_t{1} << 45)        // R: record faults
           | (uint64_t{1} << 46)        // A: abort (no stall)
           | (uint64_t{1} << 47)        // ASET: ASID not shared with the CPU's TLB maintenance
           | (uint64_t{asid} << 48);
  out[1] = ttb0 & 0x000f'ffff'ffff'fff0ull;
  out[3] = mair;
}

// ---- Commands (§4): 2 doublewords ----
enum Opcode : uint8_t {
  kCmdCfgiSte = 0x03,
  kCmdCfgiAll = 0x04,
  kCmdTlbiNhAsid = 0x11,
  kCmdTlbiNhVa = 0x12,
  kCmdTlbiNsnhAll = 0x30,
  kCmdSync = 0x46,
};
struct Command {
  uint64_t w[2] = {};
};
// The SMMU forgets its cached copy of the stream's STE (and the CD it names).
constexpr Command cmd_cfgi_ste(uint32_t sid) { return {{kCmdCfgiSte | uint64_t{sid} << 32, 1 /* leaf */}}; }
constexpr Command cmd_cfgi_all() { return {{kCmdCfgiAll, 31 /* range: all */}}; }
constexpr Command cmd_tlbi_asid(uint16_t asid) { return {{kCmdTlbiNhAsid | uint64_t{asid} << 48, 0}}; }
// One page's translation (leaf and the walk caches above it: not leaf-only).
constexpr Command cmd_tlbi_va(uint16_t asid, uint64_t va) {
  return {{kCmdTlbiNhVa | uint64_t{asid} << 48, va & 0x000f'ffff'ffff'f000ull}};
}
constexpr Command cmd_tlbi_all() { return {{kCmdTlbiNsnhAll, 0}}; }
// Completes when every command before it has (CS = SIG_NONE: the consumer
// index passing it says so).
constexpr Command cmd_sync() { return {{kCmdSync, 0}}; }
// CMDQ_CONS.ERR (§6.3.27): nonzero when the command at CONS was refused.
constexpr uint32_t cmdq_error(uint32_t cons) { return (cons >> 24) & 0x7f; }

// ---- Event records (§7.3): 4 doublewords ----
enum EventType : uint8_t {
  kEvtBadStreamId = 0x02,
  kEvtBadSte = 0x04,
  kEvtBadCd = 0x0a,
  kEvtWalkAbort = 0x0b,
  kEvtTranslation = 0x10,
  kEvtAddrSize = 0x11,
  kEvtAccess = 0x12,
  kEvtPermission = 0x13,
};
struct Event {
  uint8_t type = 0;
  uint32_t sid = 0;
  bool has_address = false;  // translation-class faults carry the input address
  uint64_t address = 0;
  bool read = false;  // RnW (translation-class faults)
};
constexpr Event decode_event(const uint64_t e[4]) {
  Event ev;
  ev.type = static_cast<uint8_t>(e[0] & 0xff);
  ev.sid = static_cast<uint32_t>(e[0] >> 32);
  ev.has_address = ev.type >= kEvtTranslation && ev.type <= kEvtPermission;
  if (ev.type == kEvtWalkAbort) ev.has_address = true;
  ev.address = ev.has_address ? e[2] : 0;
  ev.read = ev.has_address && ((e[1] >> 35) & 1) != 0;
  return ev;
}
constexpr const char* event_name(uint8_t type) {
  switch (type) {
    case kEvtBadStreamId: return "stream ID beyond the stream table";
    case kEvtBadSte: return "DMA from a stream nobody was given";
    case kEvtBadCd: return "bad context descriptor";
    case kEvtWalkAbort: return "table walk aborted";
    case kEvtTranslation: return "translation fault";
    case kEvtAddrSize: return "address size fault";
    case kEvtAccess: return "access flag fault";
    case kEvtPermission: return "permission fault";
    default: return "event";
  }
}

}  // namespace keel::smmuv3
