// crt0.S — user program entry. The kernel enters _start at EL0 with
//   SP  = abi::kUserStackTop (16-byte aligned)
//   x0  = an argument (init: its boot-info word), passed to main
// main's return value is printed; the thread then parks in WFI (allowed at
// EL0: SCTLR_EL1.nTWI = 1) until thread teardown exists.
  .text
  .global _start
_start:
  mov   x29, xzr
  mov   x30, xzr
  bl    main
  bl    libsys_after_main
1:wfi
  b     1b
