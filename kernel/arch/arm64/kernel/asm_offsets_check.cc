// The generated asm_offsets.h (computed on the build host) against the
// target's own layout of the same records: a mismatch does not compile.
#include <stddef.h>

#include "kernel/arch/arm64/kernel/asm_offsets.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/boot/layout.h"

namespace keel::arm64 {

static_assert(FRAME_SIZE == sizeof(ExceptionFrame));
static_assert(FRAME_SP == offsetof(ExceptionFrame, sp));
static_assert(FRAME_ELR == offsetof(ExceptionFrame, elr));
static_assert(FRAME_SPSR == offsetof(ExceptionFrame, spsr));
static_assert(FRAME_ESR == offsetof(ExceptionFrame, esr));
static_assert(FRAME_FAR == offsetof(ExceptionFrame, far));
static_assert(PHYS_FRAME_SIZE == sizeof(PhysFrame));
static_assert(PHYS_FRAME_SP == offsetof(PhysFrame, sp));
static_assert(PERCPU_USER_FRAME == offsetof(PerCpu, user_frame));
static_assert(PERCPU_KSTACK_TOP == offsetof(PerCpu, kstack_top));
static_assert(SECONDARY_PHYS_SP == offsetof(SecondaryBoot, phys_sp));
static_assert(SECONDARY_KSTACK_TOP == offsetof(SecondaryBoot, kstack_top));
static_assert(KSTACK_SIZE == layout::kKernelStackSize);

}  // namespace keel::arm64
