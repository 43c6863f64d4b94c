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

void* memcpy(void* dst, const void* src, size_t n) {
  if (words_ok(dst, src, n)) {
    auto* d = static_cast<volatile uint64_t*>(dst);
    const auto* s = static_cast<const volatile uint64_t*>(src);
    size_t i = 0;
    // 64 bytes a turn (four LDP/STP pairs: a quarter of the loop's cost per
    // byte); volatile keeps each access a plain aligned one.
    for (; i + 8 <= n / 8; i += 8) {
      const uint64_t a = s[i], b = s[i + 1], c = s[i + 2], e = s[i + 3], f = s[i + 4], g = s[i + 5], h = s[i + 6],
                     k = s[i + 7];
      d[i] = a;
      d[i + 1] = b;
      d[i + 2] = c;
      d[i + 3] = e;
      d[i + 4] = f;
      d[i + 5] = g;
      d[i + 6] = h;
      d[i + 7] = k;
    }
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
