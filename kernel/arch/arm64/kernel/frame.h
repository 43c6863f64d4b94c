// frame.h — the records the kernel's assembly shares with C++: the register
// frame every exception entry saves (vectors.S), the boot stage's frame
// (trampoline.S), the per-CPU record's architectural part and a secondary
// CPU's boot record (head.S, entry.S).
//
// For exceptions from EL0 the frame is the user thread's complete integer
// context: x0..x30, SP_EL0, ELR_EL1 (the user PC), SPSR_EL1; ESR/FAR say why
// the thread entered the kernel. The assembly takes every offset and size
// from asm_offsets.h, generated from these definitions at build time
// (asm_offsets_gen.cc); asm_offsets_check.cc checks the target's layout
// against it.
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
  // Nonzero when x9..x18 above hold live values (a full save: an interrupt
  // or a fault); zero when they are zero. An SVC's entry zeroes them only
  // if this says so (keel/abi.h: they come back zero), then clears it.
  uint64_t x9_x18_live;
  uint64_t pad_;  // (16-byte multiple: kernel entries put a frame on the stack)

  // The registers the kernel names outside the syscall ABI (keel/abi.h's
  // SyscallView names x0..x6): these and the views are the only places
  // that index x[] by number.
  uint64_t syscall_number() const { return x[8]; }   // SVC: x8
  void set_syscall_number(uint64_t n) { x[8] = n; }  // (as an SVC leaves it: host tests)
  uint64_t frame_pointer() const { return x[29]; }
  void set_entry_argument(uint64_t v) { x[0] = v; }  // x0 at a thread's first instruction
};
static_assert(sizeof(ExceptionFrame) % 16 == 0, "kernel entries keep SP 16-byte aligned");
static_assert(__builtin_offsetof(ExceptionFrame, esr) + 8 == __builtin_offsetof(ExceptionFrame, far) &&
                  __builtin_offsetof(ExceptionFrame, elr) + 8 == __builtin_offsetof(ExceptionFrame, spsr),
              "vectors.S saves ELR/SPSR and ESR/FAR in pairs (stp)");

// What the boot stage's exception entry saves (trampoline.S, MMU off): the
// general registers and the interrupted SP.
struct PhysFrame {
  uint64_t x[31];
  uint64_t sp;
};

// A thread's FP/SIMD registers (fpsimd.S): q0..q31, FPSR, FPCR.
struct alignas(16) FpState {  // (q-register pairs naturally aligned)
  uint64_t q[64];
  uint64_t fpsr;
  uint64_t fpcr;
};
static_assert(sizeof(FpState) == 528 && __builtin_offsetof(FpState, fpsr) == 512, "fpsimd.S layout");

extern "C" void fpsimd_save(FpState* s);
extern "C" void fpsimd_restore(const FpState* s);

// What the architecture keeps per CPU, reached through TPIDR_EL1: the start
// of the kernel's per-CPU record (kernel/core/cpu.h Cpu extends it with the
// core's state). vectors.S reads user_frame on every entry from and return
// to EL0, and enter_user reads kstack_top.
struct PerCpu {
  ExceptionFrame* user_frame;  // the frame of the thread this CPU runs at EL0 (null: idle)
  uint64_t kstack_top;         // this CPU's kernel stack
  uint64_t index;              // 0 .. cpus - 1 (the boot CPU is 0)
  uint64_t mpidr;
};

// A secondary CPU's boot record: read by head.S (with the MMU off: the boot
// CPU cleans it to PoC) and by entry.S; written by kernel/core/smp.cc.
struct SecondaryBoot {
  uint64_t ttbr0, ttbr1, mair, tcr, sctlr;
  uint64_t entry;       // VA of secondary_kernel_entry
  uint64_t arg;         // VA of this record
  uint64_t phys_sp;     // PA of a small stack for the MMU-off part
  uint64_t kstack_top;  // VA of its kernel stack
  uint64_t cpu;         // keel's number for it (the boot CPU is 0)
  uint64_t mpidr;
  uint64_t pad[5];  // one 128-byte line per record
};
static_assert(sizeof(SecondaryBoot) == 128);

// Restores PerCpu::user_frame and erets to EL0 (vectors.S). SP_EL1 keeps
// its value across the eret and the next entry from EL0 starts there, so the
// kernel stack must hold nothing still needed.
extern "C" [[noreturn]] void return_to_user_current();

// The first return to EL0: resets the kernel stack, then as above.
extern "C" [[noreturn]] void enter_user();

}  // namespace keel::arm64
