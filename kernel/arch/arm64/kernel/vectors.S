// vectors.S — the kernel's exception vectors (VBAR_EL1), valid from
// kernel_entry on. Exceptions taken at EL1 are unexpected: the common path
// saves a full ExceptionFrame and calls kernel_exception, which panics.
// Exceptions from EL0 (syscalls, user faults) go to user_exception.
//
// Registers:
//   TPIDRRO_EL0, SP_EL0, TPIDR_EL0  (EL1 exceptions only) scratch copies of
//       x0, x1, x2 while the stack is chosen: a kernel exception is fatal, so
//       the user values they held no longer matter
//   x0  vector slot (0..7) on the way to the kernel's common path
//   TPIDR_EL1  this CPU's PerCpu; its first word is the frame of the thread
//       running at EL0 (user entries save into it, returns restore from it)
//   x1  vector slot (8..15) on the way to the user common path
//
// If SP is not inside the kernel stack with room for a frame (overflow, or
// a corrupt SP), the frame goes on the emergency stack instead, so the
// report still gets out rather than faulting forever.

#include "kernel/arch/arm64/asm_macros.h"

// FRAME_*, PERCPU_*, KSTACK_SIZE (every CPU's kernel stack; kernel.ld
// asserts the boot CPU's, smp.cc sizes the others): generated from frame.h
// and layout.h.
#include "kernel/arch/arm64/kernel/asm_offsets.h"

  .section .text.vectors, "ax"
  .balign 2048
  .global kernel_vectors
kernel_vectors:
  // Slots 0-7: taken at EL1 (the kernel itself): always unexpected.
  .irp slot, 0,1,2,3,4,5,6,7
  .balign 128
  msr   tpidrro_el0, x0
  mov   x0, #\slot
  b     kernel_exception_common
  .endr
  // Slots 8-15: taken from EL0. SP is SP_EL1 = the top of the (empty)
  // kernel stack, used here only to park x0/x1 for a moment.
  .irp slot, 8,9,10,11,12,13,14,15
  .balign 128
  stp   x0, x1, [sp, #-16]!
  mov   x1, #\slot
  b     user_exception_common
  .endr

// Saves the user context straight into the current thread's frame (the
// pointer at [TPIDR_EL1], PerCpu::user_frame) and calls
// user_exception(frame, slot). That may switch threads by changing
// PerCpu::user_frame; whatever frame it names on return is restored.
user_exception_common:
  // Unwind information: the outermost kernel frame (no caller), so a
  // debugger's backtrace ends here cleanly, as the frame-pointer chain does.
  .cfi_startproc
  .cfi_undefined x30
  mrs   x0, tpidr_el1
  ldr   x0, [x0, #PERCPU_USER_FRAME]
  str   x2, [x0, #16]
  SAVE_X3_TO_X30 x0
  ldp   x2, x3, [sp], #16       // the user's x0, x1
  stp   x2, x3, [x0, #0]
  mrs   x2, sp_el0
  str   x2, [x0, #FRAME_SP]
  mrs   x2, elr_el1
  mrs   x3, spsr_el1
  stp   x2, x3, [x0, #FRAME_ELR]
  mrs   x2, esr_el1
  mrs   x3, far_el1
  stp   x2, x3, [x0, #FRAME_ESR]
  mov   x29, xzr                // kernel backtraces end here
  // The IPC fastpath (kernel/core/el0_entry.cc user_fastpath): an SVC
  // (slot 8, EC = SVC64) with x8 (still the user's) = Call or ReplyRecv.
  // It returns true having switched PerCpu::user_frame (restore it), or
  // false having changed nothing (the general path takes the syscall).
  cmp   x1, #8
  b.ne  1f
  lsr   x3, x2, #ESR_EC_SHIFT
  cmp   x3, #EC_SVC64
  b.ne  1f
  cmp   x8, #SYS_CALL
  ccmp  x8, #SYS_REPLY_RECV, #4, ne   // (Z set if x8 is either)
  b.ne  1f
  bl    user_fastpath           // (frame)
  cbnz  w0, return_to_user_current
  mrs   x0, tpidr_el1           // declined: the frame and the slot again
  ldr   x0, [x0, #PERCPU_USER_FRAME]
  mov   x1, #8
1:bl    user_exception          // (frame, slot)
  // fall through

// Restores the frame PerCpu::user_frame names and returns to EL0. The
// kernel stack is empty again (SP_EL1 at its top).
  .global return_to_user_current
return_to_user_current:
  mrs   x0, tpidr_el1
  ldr   x0, [x0, #PERCPU_USER_FRAME]
  ldp   x1, x2, [x0, #FRAME_ELR]
  msr   elr_el1, x1
  msr   spsr_el1, x2
  ldr   x1, [x0, #FRAME_SP]
  msr   sp_el0, x1
  LOAD_X0_TO_X30 x0
  eret
  .cfi_endproc

kernel_exception_common:
  .cfi_startproc
  .cfi_undefined x30  // (outermost, as above)
  msr   sp_el0, x1
  msr   tpidr_el0, x2
  mov   x1, sp
  // This CPU's kernel stack: [top - 16 KiB, top], top from its PerCpu
  // record (TPIDR_EL1, zeroed in entry.S until cpu_install sets it), or
  // the boot CPU's before that.
  mrs   x2, tpidr_el1
  cbz   x2, 3f
  ldr   x2, [x2, #PERCPU_KSTACK_TOP]
  cbnz  x2, 4f
3:adrp  x2, __kernel_stack_top
  add   x2, x2, :lo12:__kernel_stack_top
4:cmp   x1, x2
  b.hi  1f                      // not on its stack
  sub   x2, x2, #KSTACK_SIZE
  add   x2, x2, #FRAME_SIZE
  cmp   x1, x2
  b.hs  2f                      // room for the frame
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
  .cfi_endproc

// void enter_user(): the first return to EL0. Resets SP to the top of the
// kernel stack (nothing on it is needed again), then restores
// PerCpu::user_frame.
  .global enter_user
enter_user:
  mrs   x0, tpidr_el1
  ldr   x0, [x0, #PERCPU_KSTACK_TOP]  // this CPU's stack
  mov   sp, x0
  b     return_to_user_current
