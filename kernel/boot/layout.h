// layout.h — keel's virtual memory layout: the one definition.
//
// 48-bit virtual addresses, 4 KiB granule. TTBR1 (top 256 TiB) is the kernel's:
//
//   0xffff_0000_0000_0000  linear map: VA = kLinearMapBase + PA (all RAM, RW+XN)
//          ...               (room for 2^47 bytes of PA, far beyond any board)
//   0xffff_fe00_0000_0000  device window (MMIO, Device-nGnRE, RW+XN)
//          ...
//   0xffff_ffff_8000_0000  kernel image (text RX, rodata R, data/bss RW+XN)
//   0xffff_ffff_ffff_ffff
//
// TTBR0 (bottom 256 TiB) holds, during boot only, the identity map of the
// one trampoline page; afterwards it belongs to user address spaces.
//
// kernel/arch/arm64/kernel/kernel.ld repeats kKernelVirtBase (linker scripts
// cannot include C++); tools/mkimage refuses a kernel ELF that disagrees.
#pragma once

#include <stdint.h>

namespace keel::layout {

constexpr uint64_t kLinearMapBase = 0xffff'0000'0000'0000ull;
constexpr uint64_t kLinearMapSize = 1ull << 46;  // max PA covered by the linear map
constexpr uint64_t kDeviceWindowBase = 0xffff'fe00'0000'0000ull;
constexpr uint64_t kDeviceWindowSize = 1ull << 39;
constexpr uint64_t kKernelVirtBase = 0xffff'ffff'8000'0000ull;
constexpr uint64_t kKernelVirtLimit = 0xffff'ffff'c000'0000ull;  // 1 GiB for the image

constexpr uint64_t kKernelStackSize = 16 * 1024;  // boot CPU's kernel stack; aligned to its size

constexpr uint64_t phys_to_linear(uint64_t pa) { return kLinearMapBase + pa; }
constexpr uint64_t linear_to_phys(uint64_t va) { return va - kLinearMapBase; }

// The kernel's pointer to the object at physical address pa (linear map).
template <typename T>
T* linear(uint64_t pa) {
  return reinterpret_cast<T*>(phys_to_linear(pa));
}

static_assert(kLinearMapBase + kLinearMapSize <= kDeviceWindowBase);
static_assert(kDeviceWindowBase + kDeviceWindowSize <= kKernelVirtBase);

}  // namespace keel::layout
