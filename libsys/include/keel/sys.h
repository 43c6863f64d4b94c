// sys.h — the syscall stubs every user program calls (ABI: keel/abi.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"

// Every user program defines main; crt0 calls it (freestanding: declare the
// C linkage here so that `int main()` in a program is the symbol crt0 uses).
extern "C" int main();

namespace keel::sys {

struct SyscallResult {
  abi::Error error;
  uint64_t r1, r2, r3, r4, r5;
};

// One SVC with the ABI's register assignment; every stub goes through it.
inline SyscallResult syscall(uint64_t number, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                             uint64_t a4 = 0, uint64_t a5 = 0) {
  register uint64_t x0 asm("x0") = a0;
  register uint64_t x1 asm("x1") = a1;
  register uint64_t x2 asm("x2") = a2;
  register uint64_t x3 asm("x3") = a3;
  register uint64_t x4 asm("x4") = a4;
  register uint64_t x5 asm("x5") = a5;
  register uint64_t x8 asm("x8") = number;
  asm volatile("svc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5) : "r"(x8) : "memory");
  return SyscallResult{static_cast<abi::Error>(x0), x1, x2, x3, x4, x5};
}

inline abi::Error debug_write(const char* s, size_t n) {
  return syscall(abi::kSyscallDebugWrite, reinterpret_cast<uint64_t>(s), n).error;
}

inline abi::Error yield() { return syscall(static_cast<uint64_t>(abi::Syscall::kYield)).error; }

// printf-style output through debug_write (libsys/src/print.cc).
void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace keel::sys
