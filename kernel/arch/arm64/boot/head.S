// head.S — keel's first instructions: the Linux arm64 Image header and the
// path from the bootloader's hand-off to C++ (phys_main), MMU off throughout.
//
// Entry state (Linux arm64 boot protocol): MMU off, D-cache off, x0 = DTB PA,
// EL2 or EL1, image at a 2 MiB-aligned PA (+ text_offset = 0).
//
// Registers held across this file:
//   x19  DTB physical address (the bootloader's x0)
//   x20  exception level entered at (1 or 2)
//   x21  image base: PA of _start, which is the PIE's link address 0
//
// Everything here is PC-relative (adr/adrp): the code runs wherever it was
// loaded, before phys_relocate has fixed up absolute pointers.

#include "kernel/arch/arm64/kernel/asm_offsets.h"  // SECONDARY_*: generated from frame.h

  .section .head, "ax"
  .global _start
_start:
  b     entry                   // code0: branch past the header
  .word 0                       // code1
  .quad 0                       // text_offset: run at the 2 MiB-aligned base itself
  .quad 0                       // image_size: written by tools/mkimage (bss included)
  .quad 0xa                     // flags: little-endian, 4 KiB pages, any PA (bit 3)
  .quad 0                       // res2
  .quad 0                       // res3
  .quad 0                       // res4
  .ascii "ARM\x64"              // magic (header offset 0x38)
  .word 0                       // res5

  .text
entry:
  msr   daifset, #0xf           // all exceptions masked until the kernel unmasks
  mov   x19, x0
  adr   x21, _start
  mrs   x20, CurrentEL
  ubfx  x20, x20, #2, #2

  // Vectors before anything else can fault: they live in the trampoline
  // page, so they stay valid across the MMU switch (trampoline.S).
  adrp  x0, phys_vectors
  add   x0, x0, :lo12:phys_vectors
  cmp   x20, #2
  b.ne  1f
  msr   vbar_el2, x0
  b     2f
1:msr   vbar_el1, x0
2:isb                           // VBAR write takes effect before the next exception

  adrp  x0, __phys_stack_top    // SP of the current EL
  add   x0, x0, :lo12:__phys_stack_top
  mov   sp, x0

  // Zero .bss (not the stacks after it), 64 bytes a turn with aligned STP
  // pairs (MMU off: memory is Device, so no unaligned access may happen;
  // boot.ld aligns both ends to 64).
  adrp  x0, __bss_start
  add   x0, x0, :lo12:__bss_start
  adrp  x1, __bss_end
  add   x1, x1, :lo12:__bss_end
3:cmp   x0, x1
  b.hs  4f
  stp   xzr, xzr, [x0]
  stp   xzr, xzr, [x0, #16]
  stp   xzr, xzr, [x0, #32]
  stp   xzr, xzr, [x0, #48]
  add   x0, x0, #64
  b     3b
4:
  mov   x0, x21
  bl    phys_relocate           // absolute pointers now hold load addresses

  cmp   x20, #2
  b.ne  el1_entry
  bl    el2_setup               // C++: EL2 configured for an AArch64 EL1, SPSR_EL2 = EL1h, DAIF masked
  adr   x0, el1_entry
  msr   elr_el2, x0
  eret                          // to EL1, the same image, MMU still off

el1_entry:
  adrp  x0, phys_vectors
  add   x0, x0, :lo12:phys_vectors
  msr   vbar_el1, x0
  isb
  adrp  x0, __phys_stack_top    // SP_EL1 (the EL2 path set SP_EL2 so far)
  add   x0, x0, :lo12:__phys_stack_top
  mov   sp, x0
  mov   x29, xzr                // end of the frame-pointer chain for backtraces
  mov   x30, xzr
  mov   x0, x19
  mov   x1, x20
  mov   x2, x21
  bl    phys_main               // does not return
5:wfe
  b     5b

// Secondary CPUs: the PSCI CPU_ON entry point, MMU off, at EL2 or EL1.
// They take the same path as the boot CPU through the same trampoline,
// with the tables and register values the boot CPU already checked.
//
// Registers:
//   x0   on entry: PA of this CPU's SecondaryBoot record (kernel/core/smp.h),
//        cleaned to the point of coherency by the boot CPU
//   x19  the record's PA
//   x20  exception level entered at
  .global secondary_entry
secondary_entry:
  msr   daifset, #0xf
  mov   x19, x0
  ldr   x1, [x19, #SECONDARY_PHYS_SP]  // a small physical stack
  mov   sp, x1
  mrs   x20, CurrentEL
  ubfx  x20, x20, #2, #2
  adrp  x0, phys_vectors        // faults are reported from here on, as on the boot CPU
  add   x0, x0, :lo12:phys_vectors
  msr   vbar_el1, x0
  cmp   x20, #2
  b.ne  secondary_el1
  msr   vbar_el2, x0
  isb
  bl    el2_setup
  adr   x0, secondary_el1
  msr   elr_el2, x0
  eret
secondary_el1:
  isb                           // VBAR_EL1 in effect
  ldr   x1, [x19, #SECONDARY_PHYS_SP]
  mov   sp, x1                  // SP_EL1
  ldp   x0, x1, [x19, #0]       // TTBR0, TTBR1
  ldp   x2, x3, [x19, #16]      // MAIR, TCR
  ldp   x4, x5, [x19, #32]      // SCTLR, kernel entry VA
  ldr   x6, [x19, #48]          // argument: the record's VA
  b     mmu_switch
