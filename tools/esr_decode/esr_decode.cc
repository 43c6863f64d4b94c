// esr_decode — prints what an ESR_ELx value means, with keel's own decoder
// (kernel/arch/arm64/esr.cc). Used by the gdb command keel-esr.
//
//   esr_decode 0x96000044
//   -> EC 0x25 data abort, same EL: translation fault, level 0, on data write
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernel/arch/arm64/esr.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: esr_decode ESR_VALUE (hex, e.g. 0x96000044)\n");
    return 2;
  }
  char* end = nullptr;
  unsigned long long esr = std::strtoull(argv[1], &end, 16);
  if (end == argv[1] || *end != '\0') {
    std::fprintf(stderr, "esr_decode: '%s' is not a hex number\n", argv[1]);
    return 2;
  }
  char meaning[128];
  keel::arm64::describe_esr(esr, meaning, sizeof meaning);
  uint32_t ec = keel::arm64::esr_ec(esr);
  std::printf("ESR 0x%llx: EC 0x%02x %s: %s\n", esr, ec, keel::arm64::exception_class_name(ec), meaning);
  return 0;
}
