// trampoline.S — the one identity-mapped page: the physical stage's
// exception vectors and the MMU-on switch. boot.ld asserts it fits one page;
// TTBR0 maps exactly this page, VA == PA, so execution continues here at the
// same address before and after SCTLR_EL1.M is set.
//
// mmu_switch registers:
//   x0 TTBR0 (identity map root)   x1 TTBR1 (kernel root)
//   x2 MAIR                        x3 TCR
//   x4 SCTLR (complete value)      x5 kernel entry VA (high half)
//   x6 BootInfo VA, passed to the kernel in x0
//
// phys_vectors registers (any exception before the kernel installs its own):
//   TPIDR_EL1, TPIDRRO_EL0, TPIDR_EL0  scratch copies of x0, x1, x2
//   x1  vector slot (0..15), passed to phys_exception

#include "kernel/arch/arm64/asm_macros.h"

#include "kernel/arch/arm64/kernel/asm_offsets.h"  // PHYS_FRAME_*: generated from frame.h

  .section .trampoline.vectors, "ax"
  .balign 2048
  .global phys_vectors
phys_vectors:
  .irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  .balign 128
  msr   tpidr_el1, x0
  msr   tpidrro_el0, x1
  mov   x1, #\slot
  b     phys_exception_common
  .endr

  .section .trampoline.text, "ax"
phys_exception_common:
  msr   tpidr_el0, x2
  // If the MMU is on (a fault after the switch, before the kernel installed
  // its vectors), turn it off: this page is identity-mapped, so the next
  // fetch is from the same PA. With the MMU off the physical stack, the
  // console and phys_exception are all reachable again.
  mrs   x0, sctlr_el1
  bic   x0, x0, #1
  msr   sctlr_el1, x0
  isb                           // M = 0 in effect before the next access
  mov   x0, sp                  // the interrupted SP, reported as is
  adrp  x2, __phys_exc_stack_top
  add   x2, x2, :lo12:__phys_exc_stack_top
  mov   sp, x2                  // a stack of its own: the old SP may be the problem
  sub   sp, sp, #PHYS_FRAME_SIZE
  str   x0, [sp, #PHYS_FRAME_SP]
  mrs   x0, tpidr_el1
  str   x0, [sp, #0]
  mrs   x0, tpidrro_el0
  str   x0, [sp, #8]
  mrs   x0, tpidr_el0
  str   x0, [sp, #16]
  SAVE_X3_TO_X30 sp
  mov   x0, sp
  bl    phys_exception          // prints the decoded report; does not return
1:wfe
  b     1b

// void mmu_switch(ttbr0, ttbr1, mair, tcr, sctlr, entry, bootinfo) — no return.
// Preconditions (phys_main.cc): tables complete, preflight passed, tables
// and everything the kernel reads invalidated to PoC, DAIF masked.
  .global mmu_switch
mmu_switch:
  msr   daifset, #0xf
  msr   mair_el1, x2
  msr   tcr_el1, x3
  msr   ttbr0_el1, x0
  msr   ttbr1_el1, x1
  // Context synchronization: the MAIR/TCR/TTBR writes must be visible to
  // the translation regime before the MMU is enabled (Arm ARM D19.1,
  // "Synchronization requirements for System registers").
  isb
  // Discard any translations cached under the bootloader's regime, then
  // wait for completion (Arm ARM D8.13 "TLB maintenance": a TLBI completes
  // only at the following DSB) and resynchronize.
  tlbi  vmalle1
  dsb   nsh
  isb
  // The complete SCTLR value: M, C, I, A, SA, SA0 plus RES1 bits. Nothing
  // from the bootloader's value survives.
  msr   sctlr_el1, x4
  // The write takes effect at this ISB; the next fetch is translated, and
  // since this page is identity-mapped it is this page's next instruction.
  isb
  // Instructions fetched before the switch may sit in the I-cache under
  // the old (MMU off) attributes: drop them.
  ic    iallu
  dsb   nsh
  isb
  mov   x0, x6
  br    x5                      // to the high half: absolute VA in a register
