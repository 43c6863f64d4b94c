// fpsimd.S — saving and restoring a thread's FP/SIMD registers.
//
// The kernel is built with -mgeneral-regs-only and never touches these
// registers itself, so a thread's FP/SIMD state stays live in the CPU while
// it is in the kernel; kernel/core/fpu.cc switches it lazily, on the first FP use
// by a thread that does not own the registers.
// FpState layout: q0..q31 (512 bytes), then FPSR, FPCR (thread.h pins it).
//
// Registers: x0 = FpState* (advanced by 512 at the end), x1/x2 scratch.

  .arch_extension fp
  .arch_extension simd
  .text

  .global fpsimd_save
fpsimd_save:
  stp   q0, q1, [x0, #0]
  stp   q2, q3, [x0, #32]
  stp   q4, q5, [x0, #64]
  stp   q6, q7, [x0, #96]
  stp   q8, q9, [x0, #128]
  stp   q10, q11, [x0, #160]
  stp   q12, q13, [x0, #192]
  stp   q14, q15, [x0, #224]
  stp   q16, q17, [x0, #256]
  stp   q18, q19, [x0, #288]
  stp   q20, q21, [x0, #320]
  stp   q22, q23, [x0, #352]
  stp   q24, q25, [x0, #384]
  stp   q26, q27, [x0, #416]
  stp   q28, q29, [x0, #448]
  stp   q30, q31, [x0, #480]
  mrs   x1, fpsr
  mrs   x2, fpcr
  add   x0, x0, #512            // past the stp immediate range
  stp   x1, x2, [x0]
  ret

  .global fpsimd_restore
fpsimd_restore:
  ldp   q0, q1, [x0, #0]
  ldp   q2, q3, [x0, #32]
  ldp   q4, q5, [x0, #64]
  ldp   q6, q7, [x0, #96]
  ldp   q8, q9, [x0, #128]
  ldp   q10, q11, [x0, #160]
  ldp   q12, q13, [x0, #192]
  ldp   q14, q15, [x0, #224]
  ldp   q16, q17, [x0, #256]
  ldp   q18, q19, [x0, #288]
  ldp   q20, q21, [x0, #320]
  ldp   q22, q23, [x0, #352]
  ldp   q24, q25, [x0, #384]
  ldp   q26, q27, [x0, #416]
  ldp   q28, q29, [x0, #448]
  ldp   q30, q31, [x0, #480]
  add   x0, x0, #512
  ldp   x1, x2, [x0]
  msr   fpsr, x1
  msr   fpcr, x2
  ret
