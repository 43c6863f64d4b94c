// crt0.S — user program entry. The kernel enters _start at EL0 with
//   SP  = abi::kUserStackTop (16-byte aligned)
//   x0  = an argument (init: its boot-info word), passed to main
// main's return value is printed, then the thread exits (Syscall::kExit).
  .text
  .global _start
_start:
  mov   x29, xzr
  mov   x30, xzr
  bl    main
  bl    libsys_after_main
1:mov   x8, #11                 // abi::Syscall::kExit
  svc   #0
  b     1b                      // not reached
