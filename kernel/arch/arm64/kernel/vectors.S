// vectors.S — the kernel's exception vectors (VBAR_EL1), valid from
// kernel_entry on. For now every exception is unexpected: the common path
// saves a full ExceptionFrame and calls kernel_exception, which panics.
//
// Registers:
//   TPIDRRO_EL0, SP_EL0, TPIDR_EL0  scratch copies of x0, x1, x2 while the
//       stack is chosen (no user thread exists yet; the user-space issue
//       reworks this entry path and must stop borrowing them)
//   x0  vector slot (0..15) on the way to the common path
//
// If SP is not inside the kernel stack with room for a frame (overflow, or
// a corrupt SP), the frame goes on the emergency stack instead, so the
// report still gets out rather than faulting forever.

#include "kernel/arch/arm64/asm_macros.h"

#define FRAME_SIZE 288   // static_assert'ed against ExceptionFrame in exception.cc
#define FRAME_SP   248
#define FRAME_ELR  256
#define FRAME_SPSR 264
#define FRAME_ESR  272
#define FRAME_FAR  280

  .section .text.vectors, "ax"
  .balign 2048
  .global kernel_vectors
kernel_vectors:
  .irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  .balign 128
  msr   tpidrro_el0, x0
  mov   x0, #\slot
  b     kernel_exception_common
  .endr

kernel_exception_common:
  msr   sp_el0, x1
  msr   tpidr_el0, x2
  mov   x1, sp
  adrp  x2, __kernel_stack_bottom
  add   x2, x2, :lo12:__kernel_stack_bottom
  add   x2, x2, #FRAME_SIZE
  cmp   x1, x2
  b.lo  1f                      // would overflow the stack
  adrp  x2, __kernel_stack_top
  add   x2, x2, :lo12:__kernel_stack_top
  cmp   x1, x2
  b.ls  2f
1:adrp  x2, __emergency_stack_top
  add   x2, x2, :lo12:__emergency_stack_top
  mov   sp, x2
2:sub   sp, sp, #FRAME_SIZE
  str   x1, [sp, #FRAME_SP]
  mrs   x1, tpidrro_el0
  str   x1, [sp, #0]
  mrs   x1, sp_el0
  str   x1, [sp, #8]
  mrs   x1, tpidr_el0
  str   x1, [sp, #16]
  SAVE_X3_TO_X30 sp
  mrs   x1, elr_el1
  mrs   x2, spsr_el1
  stp   x1, x2, [sp, #FRAME_ELR]
  mrs   x1, esr_el1
  mrs   x2, far_el1
  stp   x1, x2, [sp, #FRAME_ESR]
  mov   x1, x0                  // slot
  mov   x0, sp                  // frame
  bl    kernel_exception        // panics; does not return
3:wfe
  b     3b
