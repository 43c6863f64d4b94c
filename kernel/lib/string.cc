// string.cc — the mem* functions the compiler may call in freestanding code.
//
// Aligned 8-byte words when destination, source and length allow, bytes
// otherwise: both work with the MMU off, where every data access is Device
// memory and an unaligned access faults. Accesses go through volatile
// pointers so the compiler cannot turn these loops back into calls to
// themselves. Target-only (the host has its own libc).
#include <stddef.h>
#include <stdint.h>

extern "C" {

static bool words_ok(const void* a, const void* b, size_t n) {
  return ((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) | n) & 7) == 0;
}

void* memset(void* dst, int c, size_t n) {
  if (words_ok(dst, dst, n)) {
    uint64_t v = static_cast<unsigned char>(c) * 0x0101010101010101ull;
    auto* d = static_cast<volatile uint64_t*>(dst);
    for (size_t i = 0; i < n / 8; ++i) d[i] = v;
    return dst;
  }
  auto* d = static_cast<volatile unsigned char*>(dst);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<unsigned char>(c);
  return dst;
}

// (no_builtin: the 64-byte loop below uses plain accesses, so the
// optimizer must not turn it back into a call to memcpy itself.)
__attribute__((no_builtin("memcpy"))) void* memcpy(void* dst, const void* src, size_t n) {
  if (words_ok(dst, src, n)) {
    size_t i = 0;
    // 64 bytes a turn as aligned register pairs (LDP/STP of 8-byte words:
    // aligned for Device memory too, with the MMU off).
    auto* pd = static_cast<uint64_t*>(dst);
    const auto* ps = static_cast<const uint64_t*>(src);
    for (; i + 8 <= n / 8; i += 8) {
      const uint64_t a = ps[i], b = ps[i + 1], c = ps[i + 2], e = ps[i + 3], f = ps[i + 4], g = ps[i + 5],
                     h = ps[i + 6], k = ps[i + 7];
      pd[i] = a;
      pd[i + 1] = b;
      pd[i + 2] = c;
      pd[i + 3] = e;
      pd[i + 4] = f;
      pd[i + 5] = g;
      pd[i + 6] = h;
      pd[i + 7] = k;
    }
    auto* d = static_cast<volatile uint64_t*>(dst);
    const auto* s = static_cast<const volatile uint64_t*>(src);
    for (; i < n / 8; ++i) d[i] = s[i];
    return dst;
  }
  auto* d = static_cast<volatile unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (size_t i = 0; i < n; ++i) d[i] = s[i];
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<volatile unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d < s) {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  } else {
    for (size_t i = n; i > 0; --i) d[i - 1] = s[i - 1];
  }
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

}  // extern "C"
