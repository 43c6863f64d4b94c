// asm_macros.h — assembler macros shared by the .S files (include from .S only).
//
// SAVE_X3_TO_X30 base: stores x3..x30 at [base + 8*n], the layout of the
// first 31 words of PhysFrame and ExceptionFrame (x0..x2 are saved by the
// caller, which needs them as scratch registers first).
#pragma once

// clang-format off
.macro SAVE_X3_TO_X30 base
  stp   x3, x4, [\base, #24]
  stp   x5, x6, [\base, #40]
  stp   x7, x8, [\base, #56]
  stp   x9, x10, [\base, #72]
  stp   x11, x12, [\base, #88]
  stp   x13, x14, [\base, #104]
  stp   x15, x16, [\base, #120]
  stp   x17, x18, [\base, #136]
  stp   x19, x20, [\base, #152]
  stp   x21, x22, [\base, #168]
  stp   x23, x24, [\base, #184]
  stp   x25, x26, [\base, #200]
  stp   x27, x28, [\base, #216]
  stp   x29, x30, [\base, #232]
.endm
    
// LOAD_X2_TO_X29 base: x2..x29 from [base + 8*n], the inverse of the saves
// (the return loads x0/x1 last and LR and SP in between itself).
.macro LOAD_X2_TO_X29 base
  ldp   x2, x3, [\base, #16]
  ldp   x4, x5, [\base, #32]
  ldp   x6, x7, [\base, #48]
  ldp   x8, x9, [\base, #64]
  ldp   x10, x11, [\base, #80]
  ldp   x12, x13, [\base, #96]
  ldp   x14, x15, [\base, #112]
  ldp   x16, x17, [\base, #128]
  ldp   x18, x19, [\base, #144]
  ldp   x20, x21, [\base, #160]
  ldp   x22, x23, [\base, #176]
  ldp   x24, x25, [\base, #192]
  ldp   x26, x27, [\base, #208]
  ldp   x28, x29, [\base, #224]
.endm
    // clang-format on
