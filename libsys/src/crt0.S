// crt0.S — user program entry. The kernel enters _start at EL0 with
//   SP  = abi::kUserStackTop (16-byte aligned)
//   x0  = an argument (init: its boot-info word), passed to main
// main's return value is reported (libsys_after_main), then the thread
// exits with it as exit code (Syscall::kExit).
  .text
  .global _start
_start:
  mov   x29, xzr
  mov   x30, xzr
  bl    main
  mov   x19, x0                 // the exit code (callee-saved across the report)
  bl    libsys_after_main
1:mov   x0, x19
  mov   x8, #11                 // abi::Syscall::kExit, x0 = exit code
  svc   #0
  b     1b                      // not reached
