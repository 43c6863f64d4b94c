// gic_impl.h — what gic.cc shares with the two controller versions
// (gic_v2.cc: GICD + memory-mapped GICC; gic_v3.cc: GICD + redistributors +
// the ICC system registers). Internal to the GIC driver.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/arch/arm64/kernel/gic.h"

namespace keel::arm64::gic {

// One CPU's interface, as gic_init_cpu found it.
struct CpuIf {
  bool up;
  uint64_t redist;  // v3: its redistributor's RD_base
  uint64_t mpidr;   // v3: SGI routing by affinity
  uint8_t target;   // v2: its CPU interface bit for GICD_SGIR / ITARGETSR
};

extern GicRegs g_regs;
extern CpuIf g_cpus[kGicMaxCpus];

// Distributor registers (the SGI/PPI ones repeat in a v3 redistributor's SGI frame).
constexpr uint64_t kGicdCtlr = 0x000;
constexpr uint64_t kGicdIgroupr = 0x080;
constexpr uint64_t kGicdIsenabler = 0x100;
constexpr uint64_t kGicdIcenabler = 0x180;
constexpr uint64_t kGicdIpriorityr = 0x400;
constexpr uint8_t kPriority = 0x80;
constexpr uint64_t kGicrSgiBase = 0x10000;  // v3: a redistributor's SGI/PPI frame

inline volatile uint32_t& reg32(uint64_t va) { return *reinterpret_cast<volatile uint32_t*>(va); }
inline volatile uint8_t& reg8(uint64_t va) { return *reinterpret_cast<volatile uint8_t*>(va); }
inline volatile uint64_t& reg64(uint64_t va) { return *reinterpret_cast<volatile uint64_t*>(va); }

// Each version: enable the distributor; bring up a CPU's interface (returns
// the base of its SGI/PPI registers, 0 if it has none); route an SPI to CPU
// 0; raise an SGI; acknowledge and end an interrupt.
namespace v2 {
void init();
uint64_t init_cpu(CpuIf& c);
void route_spi(uint32_t intid);
void send_sgi(const CpuIf& c, uint32_t intid);
uint32_t ack();
void eoi(uint32_t intid);
}  // namespace v2
namespace v3 {
void init();
uint64_t init_cpu(CpuIf& c);
void route_spi(uint32_t intid);
void send_sgi(const CpuIf& c, uint32_t intid);
uint32_t ack();
void eoi(uint32_t intid);
}  // namespace v3

}  // namespace keel::arm64::gic
