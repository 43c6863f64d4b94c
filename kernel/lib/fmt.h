// fmt.h — printf-style formatting into a byte sink, for freestanding code.
//
// Supported conversions: %s %c %d %i %u %x %X %p %% with optional '0' flag,
// field width, '-' (left-justify) and length modifiers l, ll, z. Anything
// else is printed literally, never read past the argument list's intent.
// No allocation, no global state: safe with the MMU off and on the host.
#pragma once

#include <stdarg.h>
#include <stddef.h>

namespace keel {

// Where formatted bytes go. `put` is called once per output chunk.
struct Sink {
  void (*put)(void* ctx, const char* s, size_t n);
  void* ctx;
};

void vformat(Sink sink, const char* fmt, va_list ap);
void format(Sink sink, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Formats into buf (always NUL-terminated if size > 0); returns the length
// the full output would have had.
size_t snformat(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
size_t vsnformat(char* buf, size_t size, const char* fmt, va_list ap);

}  // namespace keel
