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
  // Slot 8 (synchronous) tells an SVC from a fault first: an SVC takes
  // svc_entry with x0/x1 parked the same way.
  .irp slot, 8,9,10,11,12,13,14,15
  .balign 128
  stp   x0, x1, [sp, #-16]!
  .if \slot == 8
  mrs   x0, esr_el1
  lsr   x0, x0, #ESR_EC_SHIFT
  cmp   x0, #EC_SVC64
  b.eq  svc_entry
  .endif
  mov   x1, #\slot
  b     user_exception_common
  .endr

// Saves the user context straight into the current thread's frame (the
// pointer at [TPIDR_EL1], PerCpu::user_frame) and calls
// user_exception(frame, slot). That may switch threads by changing
// PerCpu::user_frame; whatever frame it names on return is restored.
//
// An SVC follows the syscall register contract (keel/abi.h): x0..x6 and x8
// are its arguments, x19..x29, LR and SP are preserved, x7 and x9..x18 are
// the caller's to lose — they are not saved, and come back zero (their
// frame slots are kept zero — cleared on an SVC after a full save left
// values there, ExceptionFrame::x9_x18_live — or the short return loads
// zero into them): no
// thread ever sees another's values or the kernel's there. Interrupts and
// faults arrive unasked and save everything.
// The rest of an SVC's frame for the general path (svc_ipc saves its own
// frame in one go): zero for
// x9..x18 (only if a full save left values there: x9_x18_live), the
// callee-saved registers, SP, ELR, SPSR. ESR only where the general path
// needs it (SVC_SAVE_ESR); FAR means nothing for an SVC.
// Zero for x9..x18's frame slots (x9_x18_live: a full save left a thread's
// values there); both SVC paths, svc_ipc's out of its straight line.
.macro SVC_ZERO_X9_X18 base
  stp   xzr, xzr, [\base, #72]
  stp   xzr, xzr, [\base, #88]
  stp   xzr, xzr, [\base, #104]
  stp   xzr, xzr, [\base, #120]
  stp   xzr, xzr, [\base, #136]
  str   xzr, [\base, #FRAME_X9_X18_LIVE]
.endm
.macro SVC_SAVE_REST base
  ldr   x2, [\base, #FRAME_X9_X18_LIVE]
  cbz   x2, 7f
  SVC_ZERO_X9_X18 \base
7:stp   x19, x20, [\base, #152]
  stp   x21, x22, [\base, #168]
  stp   x23, x24, [\base, #184]
  stp   x25, x26, [\base, #200]
  stp   x27, x28, [\base, #216]
  str   x29, [\base, #232]      // (LR is saved already)
  mrs   x2, sp_el0
  str   x2, [\base, #FRAME_SP]
  mrs   x2, elr_el1
  mrs   x3, spsr_el1
  stp   x2, x3, [\base, #FRAME_ELR]
  mov   x29, xzr                // kernel backtraces end here
.endm
.macro SVC_SAVE_ESR base
  mrs   x2, esr_el1
  stp   x2, xzr, [\base, #FRAME_ESR]
.endm

user_exception_common:
  // Unwind information: the outermost kernel frame (no caller), so a
  // debugger's backtrace ends here cleanly, as the frame-pointer chain does.
  // (The SVC paths below are in the same region: their labels are local
  // except the two a profile names, svc_entry and svc_ipc.)
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
  mov   x2, #1
  str   x2, [x0, #FRAME_X9_X18_LIVE]  // x9..x18 hold the thread's values now
  mov   x29, xzr                // kernel backtraces end here
.Luser_general:                 // x0 = the frame (saved), x1 = the slot
  bl    user_exception          // (frame, slot)
  b     return_to_user_current

svc_entry:                      // an SVC; the user's x0/x1 are parked
  // Call (1) and ReplyRecv (5), the two with x8 & ~4 == 1, go to the IPC
  // fastpath's entry, which saves what it needs itself. (x9 is the
  // caller's to lose: keel/abi.h.)
  .if SYS_CALL != 1 || SYS_REPLY_RECV != 5
  .error "svc_entry tells Call and ReplyRecv apart by bit 2"
  .endif
  and   x9, x8, #~4
  cmp   x9, #1
  b.eq  svc_ipc
  mrs   x0, tpidr_el1
  ldr   x0, [x0, #PERCPU_USER_FRAME]
  // Its arguments, and LR (the calls below overwrite it).
  stp   x2, x3, [x0, #16]
  stp   x4, x5, [x0, #32]
  stp   x6, xzr, [x0, #48]      // (x7 given up: zero)
  str   x8, [x0, #64]
  ldp   x2, x3, [sp], #16       // the user's x0, x1
  stp   x2, x3, [x0, #0]
  str   x30, [x0, #240]
  // The short path (fast_paths.cc user_short_*): a syscall that needs no
  // switch and no big lock. x19..x29 are still the user's: C code
  // preserves them, so they need no save and no restore. Each returns the
  // frame (done) or null (declined). No short path for the others.
  cmp   x8, #SYS_YIELD
  b.ne  1f
  bl    user_short_yield        // (frame)
2:cbz   x0, .Lsvc_declined
  ldp   x2, x3, [x0, #16]
  ldp   x4, x5, [x0, #32]
  ldp   x6, x7, [x0, #48]       // (x7 = 0)
  ldr   x8, [x0, #64]
  ldr   x30, [x0, #240]
  adr   x9, svc_zeros
  ldp   x10, x11, [x9]
  ldp   x12, x13, [x9]
  ldp   x14, x15, [x9]
  ldp   x16, x17, [x9]
  ldp   x18, x9, [x9]
  ldp   x0, x1, [x0, #0]
  eret
1:cmp   x8, #SYS_DEBUG_WRITE
  b.ne  .Lsvc_general
  bl    user_short_debug_write  // (frame)
  b     2b
.Lsvc_declined:                 // the short path changed nothing
  mrs   x0, tpidr_el1
  ldr   x0, [x0, #PERCPU_USER_FRAME]
.Lsvc_general:                  // x0 = the frame
  SVC_SAVE_REST x0
  SVC_SAVE_ESR x0
  mov   x1, #8
  b     .Luser_general

svc_ipc:                        // Call or ReplyRecv; the user's x0/x1 are parked
  // The IPC fastpath (kernel/core/fast_paths.cc user_fastpath_call,
  // user_fastpath_reply_recv, one entry each). First the whole SVC frame
  // but ESR — the arguments, x8, zero for x7 (and for x9..x18 if a full
  // save left values there), the callee-saved registers, LR, SP, ELR,
  // SPSR — with x7 as the frame's address and x10..x12 as scratch (the
  // caller's to lose). The fastpath takes the arguments and the frame in
  // x0..x7 and returns the frame it switched PerCpu::user_frame to
  // (restore it), or null having changed nothing (the general path takes
  // the syscall). It is a leaf compiled without frame records, so x29
  // stays the user's until the general path.
  mrs   x7, tpidr_el1
  ldr   x7, [x7, #PERCPU_USER_FRAME]
  ldp   x0, x1, [sp], #16       // the user's x0, x1
  stp   x0, x1, [x7, #0]
  stp   x2, x3, [x7, #16]
  stp   x4, x5, [x7, #32]
  stp   x6, xzr, [x7, #48]      // (x7 given up: zero)
  str   x8, [x7, #64]
  ldr   x10, [x7, #FRAME_X9_X18_LIVE]
  cbnz  x10, 8f
7:stp   x19, x20, [x7, #152]
  stp   x21, x22, [x7, #168]
  stp   x23, x24, [x7, #184]
  stp   x25, x26, [x7, #200]
  stp   x27, x28, [x7, #216]
  stp   x29, x30, [x7, #232]
  mrs   x10, sp_el0
  mrs   x11, elr_el1
  mrs   x12, spsr_el1
  str   x10, [x7, #FRAME_SP]
  stp   x11, x12, [x7, #FRAME_ELR]
  tbnz  x8, #2, 1f              // ReplyRecv
  bl    user_fastpath_call      // (x0..x6: the arguments, IpcArgs; x7: the frame) -> the frame to restore, or null
  cbnz  x0, .Lrestore_x0
  b     2f
1:bl    user_fastpath_reply_recv
  cbnz  x0, .Lrestore_x0
2:mrs   x0, tpidr_el1           // declined: the frame and the slot again
  ldr   x0, [x0, #PERCPU_USER_FRAME]
  mov   x29, xzr                // kernel backtraces end here
  SVC_SAVE_ESR x0
  mov   x1, #8
  b     .Luser_general
8:SVC_ZERO_X9_X18 x7            // x9..x18 held a thread's values (a full save): zero now
  b     7b

// Restores the frame PerCpu::user_frame names and returns to EL0. The
// kernel stack is empty again (SP_EL1 at its top).
  .global return_to_user_current
return_to_user_current:
  mrs   x0, tpidr_el1
  ldr   x0, [x0, #PERCPU_USER_FRAME]
.Lrestore_x0:                   // x0 = the frame to restore
  .if FRAME_SP != 248
  .error "the return loads LR (x30, at 240) and SP in one LDP"
  .endif
  ldp   x1, x2, [x0, #FRAME_ELR]
  msr   elr_el1, x1
  msr   spsr_el1, x2
  ldp   x30, x1, [x0, #240]     // LR and SP
  msr   sp_el0, x1
  LOAD_X2_TO_X29 x0
  ldp   x0, x1, [x0, #0]
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

// Zeros for the short return: x9..x18 in five LDPs of this pair (fewer
// instructions than ten MOVs).
  .balign 16
svc_zeros:
  .quad 0, 0
