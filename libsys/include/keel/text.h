// text.h — the few string helpers user programs need (no libc here).
#pragma once

#include <stddef.h>

namespace keel::sys {

constexpr bool streq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

constexpr bool starts_with(const char* s, const char* prefix) {
  while (*prefix != '\0' && *s == *prefix) ++s, ++prefix;
  return *prefix == '\0';
}

// The value of `key=value` among space-separated words (boot arguments),
// copied into out (NUL-terminated); false if the key is absent.
constexpr bool word_value(const char* words, const char* key, char* out, size_t size) {
  for (const char* w = words; *w != '\0';) {
    while (*w == ' ') ++w;
    const char* k = key;
    const char* p = w;
    while (*k != '\0' && *p == *k) ++p, ++k;
    if (*k == '\0' && *p == '=') {
      size_t n = 0;
      for (++p; *p != '\0' && *p != ' ' && n + 1 < size; ++p) out[n++] = *p;
      if (size > 0) out[n] = '\0';
      return true;
    }
    while (*w != '\0' && *w != ' ') ++w;
  }
  return false;
}

constexpr size_t length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

}  // namespace keel::sys
