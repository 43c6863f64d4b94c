// crt0.S — user program entry. The kernel enters _start at EL0 with
//   SP  = abi::kUserStackTop (16-byte aligned)
//   x0  = an argument (init: its boot-info word), passed to main
// main's return value is reported (libsys_after_main), then the thread
// exits with it as exit code (Syscall::kExit).
  .text
  .global _start
_start:
  b     0f
  // Fault injection (keel/task.h): init restarts a thread here to make it
  // fail the way a bug would. Their offsets from _start are the ABI's.
  udf   #0                      // _start + abi::kInjectUndefinedOffset
  b     .                       // _start + abi::kInjectLoopOffset
0:mov   x29, xzr
  mov   x30, xzr
  bl    main
  mov   x19, x0                 // the exit code (callee-saved across the report)
  bl    libsys_after_main
1:mov   x0, x19
  mov   x8, #11                 // abi::Syscall::kExit, x0 = exit code
  svc   #0
  b     1b                      // not reached
