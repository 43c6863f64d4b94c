// svc_checked.S — one SVC with the syscall register contract checked
// (keel/abi.h; declared in keel/testing.h): for tests and fuzzers.
//
// uint64_t keel_svc_checked(uint64_t number, const uint64_t in[7],
//                           uint64_t out[7], uint64_t foreign)
// Loads x0..x6 from in[], x8 = number; fills x7 and x9..x18 with a pattern
// they must lose (the contract zeroes them) and x19..x28 and LR with one
// they must keep; makes the SVC; stores x0..x6 in out[] and returns the
// rules broken, as bits (keel::sys::SvcViolation):
//   1  x19..x28 or LR changed        2  x7 or x9..x18 not zero
//   4  some x0..x18 equals `foreign` (another thread's value; 0: not checked)
//   8  x8 (the number) changed
  .text
  .p2align 2
  .global keel_svc_checked
  .type keel_svc_checked, %function
keel_svc_checked:
  stp   x29, x30, [sp, #-128]!
  mov   x29, sp
  stp   x19, x20, [sp, #16]
  stp   x21, x22, [sp, #32]
  stp   x23, x24, [sp, #48]
  stp   x25, x26, [sp, #64]
  stp   x27, x28, [sp, #80]
  stp   x0, x2, [sp, #96]       // the number, out
  str   x3, [sp, #112]          // foreign
  mov   x8, x0
  mov   x9, x1
  ldp   x0, x1, [x9, #0]
  ldp   x2, x3, [x9, #16]
  ldp   x4, x5, [x9, #32]
  ldr   x6, [x9, #48]
  mov   x7, #0x00ff00ff00ff00ff // must come back zero
  .irp r, 9,10,11,12,13,14,15,16,17,18
  mov   x\r, x7
  .endr
  mov   x19, #0x3c3c3c3c3c3c3c3c // must come back as it is
  .irp r, 20,21,22,23,24,25,26,27,28,30
  mov   x\r, x19
  .endr
  svc   #0
  // bit 0: x19..x28, LR
  eor   x30, x30, #0x3c3c3c3c3c3c3c3c
  .irp r, 19,20,21,22,23,24,25,26,27,28
  eor   x\r, x\r, #0x3c3c3c3c3c3c3c3c
  orr   x30, x30, x\r
  .endr
  cmp   x30, #0
  cset  x30, ne
  // bit 1: x7, x9..x18
  orr   x19, x7, x9
  .irp r, 10,11,12,13,14,15,16,17,18
  orr   x19, x19, x\r
  .endr
  cmp   x19, #0
  cset  x19, ne
  orr   x30, x30, x19, lsl #1
  // bit 2: x0..x18 against `foreign`
  ldr   x21, [sp, #112]
  mov   x20, xzr
  cbz   x21, 1f
  .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18
  cmp   x\r, x21
  cinc  x20, x20, eq
  .endr
  cmp   x20, #0
  cset  x20, ne
  orr   x30, x30, x20, lsl #2
1:// bit 3: x8; then the results
  ldp   x21, x22, [sp, #96]
  cmp   x8, x21
  cset  x20, ne
  orr   x30, x30, x20, lsl #3
  stp   x0, x1, [x22, #0]
  stp   x2, x3, [x22, #16]
  stp   x4, x5, [x22, #32]
  str   x6, [x22, #48]
  mov   x0, x30
  ldp   x19, x20, [sp, #16]
  ldp   x21, x22, [sp, #32]
  ldp   x23, x24, [sp, #48]
  ldp   x25, x26, [sp, #64]
  ldp   x27, x28, [sp, #80]
  ldp   x29, x30, [sp], #128
  ret
  .size keel_svc_checked, . - keel_svc_checked
