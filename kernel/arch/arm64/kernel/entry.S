// entry.S — the kernel's first instructions, at its high-half link address.
//
// Entered from the trampoline with the MMU on, DAIF masked:
//   x0  BootInfo VA (linear map), preserved into kernel_main
// SP still holds the physical stage's (now unmapped) physical stack pointer.
//
// Order matters: SP first, then VBAR. A fault between the two lands in the
// physical stage's vectors (still valid: TTBR0 maps the trampoline page),
// which turn the MMU off and report it. After VBAR, the kernel's vectors
// always find a valid SP.

#include "kernel/arch/arm64/kernel/asm_offsets.h"  // SECONDARY_*: generated from frame.h

  .section .text.entry, "ax"
  .global kernel_entry
kernel_entry:
  .cfi_startproc
  .cfi_undefined x30            // the outermost frame: backtraces end here
  adrp  x1, __kernel_stack_top
  add   x1, x1, :lo12:__kernel_stack_top
  mov   sp, x1
  msr   tpidr_el1, xzr          // no PerCpu record yet (vectors.S checks; reset value is UNKNOWN)
  adrp  x1, kernel_vectors
  add   x1, x1, :lo12:kernel_vectors
  msr   vbar_el1, x1
  isb                           // new VBAR in effect before any exception can be taken
  mov   x29, xzr                // end of the frame-pointer chain
  mov   x30, xzr
  bl    kernel_main             // does not return
1:wfe
  b     1b
  .cfi_endproc

// A secondary CPU's first high-half instructions, from the trampoline:
//   x0  VA of its SecondaryBoot record (kernel/core/smp.h)
// Same order as the boot CPU: SP first, then VBAR.
  .global secondary_kernel_entry
secondary_kernel_entry:
  .cfi_startproc
  .cfi_undefined x30
  ldr   x1, [x0, #SECONDARY_KSTACK_TOP]
  mov   sp, x1
  msr   tpidr_el1, xzr          // (as above, until cpu_install)
  adrp  x1, kernel_vectors
  add   x1, x1, :lo12:kernel_vectors
  msr   vbar_el1, x1
  isb
  mov   x29, xzr
  mov   x30, xzr
  bl    secondary_main
1:wfe
  b     1b
  .cfi_endproc
