// frame.h — the register frame every exception entry saves (vectors.S).
//
// For exceptions from EL0 it is the user thread's complete integer context:
// x0..x30, SP_EL0, ELR_EL1 (the user PC), SPSR_EL1; ESR/FAR say why the
// thread entered the kernel. Offsets are pinned: vectors.S uses them.
#pragma once

#include <stdint.h>

namespace keel::arm64 {

struct ExceptionFrame {
  uint64_t x[31];
  uint64_t sp;  // SP_EL0 for user entries; the interrupted SP for kernel ones
  uint64_t elr;
  uint64_t spsr;
  uint64_t esr;
  uint64_t far;
};
static_assert(sizeof(ExceptionFrame) == 288, "FRAME_SIZE in vectors.S");
static_assert(__builtin_offsetof(ExceptionFrame, sp) == 248, "FRAME_SP in vectors.S");
static_assert(__builtin_offsetof(ExceptionFrame, elr) == 256, "FRAME_ELR in vectors.S");
static_assert(__builtin_offsetof(ExceptionFrame, esr) == 272, "FRAME_ESR in vectors.S");

// Restores the frame at `frame` (which must be the top frame of the kernel
// stack) and erets to EL0. vectors.S.
extern "C" [[noreturn]] void return_to_user(ExceptionFrame* frame);

// Copies *frame to the top of the kernel stack and returns to EL0 with it.
extern "C" [[noreturn]] void enter_user(const ExceptionFrame* frame);

}  // namespace keel::arm64
