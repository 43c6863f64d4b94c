// port.cc — what lwIP needs of its platform (third_party/lwip/port): the
// time in milliseconds, diagnostics, assertions, random numbers, and the
// two libc functions it calls that keel's runtime does not have.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/sys.h"
#include "keel/time.h"
#include "kernel/lib/fmt.h"
#include "lwip/sys.h"

extern "C" {

u32_t sys_now(void) { return static_cast<u32_t>(keel::sys::now_ns() / 1000000u); }

void keel_lwip_diag(const char* fmt, ...) {
  char line[160];
  va_list ap;
  va_start(ap, fmt);
  keel::vsnformat(line, sizeof line, fmt, ap);
  va_end(ap);
  keel::sys::print("netstack: lwIP: %s", line);
}

// An lwIP assertion is a bug in the stack or its port: report and stop (the
// task ends; init shows it stopped).
void keel_lwip_assert(const char* what, const char* file, int line) {
  keel::sys::print("netstack: lwIP assertion failed: %s (%s:%d)\n", what, file, line);
  __builtin_trap();
}

// TCP's initial sequence numbers and ports: xorshift seeded from the
// counter, stirred by it at each call. Not cryptographic; enough that
// sequence numbers are not predictable from a fixed start.
unsigned keel_lwip_rand(void) {
  static uint64_t state = 0;
  state ^= keel::sys::counter() + 0x9e3779b97f4a7c15ull;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<unsigned>(state >> 16);
}

int atoi(const char* s) {
  int v = 0, sign = 1;
  if (*s == '-') {
    sign = -1;
    ++s;
  }
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return sign * v;
}

int strncmp(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
    if (x == 0) return 0;
  }
  return 0;
}

}  // extern "C"
