#include "kernel/lib/fmt.h"

#include <stdint.h>

namespace keel {
namespace {

void emit_padded(Sink sink, const char* s, size_t n, int width, bool left, char pad) {
  size_t w = width > 0 ? static_cast<size_t>(width) : 0;
  if (!left) {
    for (size_t i = n; i < w; ++i) sink.put(sink.ctx, &pad, 1);
  }
  sink.put(sink.ctx, s, n);
  if (left) {
    char sp = ' ';
    for (size_t i = n; i < w; ++i) sink.put(sink.ctx, &sp, 1);
  }
}

size_t to_digits(char* out, uint64_t v, unsigned base, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v != 0);
  for (size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace

void vformat(Sink sink, const char* fmt, va_list ap) {
  const char* run = fmt;
  while (*fmt != '\0') {
    if (*fmt != '%') {
      ++fmt;
      continue;
    }
    if (fmt > run) sink.put(sink.ctx, run, static_cast<size_t>(fmt - run));
    const char* spec = fmt++;
    bool left = false;
    char pad = ' ';
    for (;; ++fmt) {
      if (*fmt == '-') {
        left = true;
      } else if (*fmt == '0') {
        pad = '0';
      } else {
        break;
      }
    }
    int width = 0;
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    int longs = 0;
    bool size_t_len = false;
    while (*fmt == 'l') {
      ++longs;
      ++fmt;
    }
    if (*fmt == 'z') {
      size_t_len = true;
      ++fmt;
    }
    char buf[32];
    size_t n = 0;
    auto take_unsigned = [&]() -> uint64_t {
      if (size_t_len) return va_arg(ap, size_t);
      if (longs >= 2) return va_arg(ap, unsigned long long);
      if (longs == 1) return va_arg(ap, unsigned long);
      return va_arg(ap, unsigned int);
    };
    switch (*fmt) {
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (s == nullptr) s = "(null)";
        size_t len = 0;
        while (s[len] != '\0') ++len;
        emit_padded(sink, s, len, width, left, ' ');
        break;
      }
      case 'c':
        buf[0] = static_cast<char>(va_arg(ap, int));
        emit_padded(sink, buf, 1, width, left, ' ');
        break;
      case 'd':
      case 'i': {
        int64_t v;
        if (size_t_len || longs >= 1) {
          v = longs >= 2 ? va_arg(ap, long long) : va_arg(ap, long);
        } else {
          v = va_arg(ap, int);
        }
        uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        if (v < 0) buf[n++] = '-';
        n += to_digits(buf + n, mag, 10, false);
        emit_padded(sink, buf, n, width, left, pad);
        break;
      }
      case 'u':
        n = to_digits(buf, take_unsigned(), 10, false);
        emit_padded(sink, buf, n, width, left, pad);
        break;
      case 'x':
      case 'X':
        n = to_digits(buf, take_unsigned(), 16, *fmt == 'X');
        emit_padded(sink, buf, n, width, left, pad);
        break;
      case 'p':
        buf[0] = '0';
        buf[1] = 'x';
        n = 2 + to_digits(buf + 2, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), 16, false);
        emit_padded(sink, buf, n, width, left, pad);
        break;
      case '%': sink.put(sink.ctx, "%", 1); break;
      default:
        // Unknown conversion: print the spec literally; consume no argument.
        if (*fmt == '\0') {
          sink.put(sink.ctx, spec, static_cast<size_t>(fmt - spec));
          return;
        }
        sink.put(sink.ctx, spec, static_cast<size_t>(fmt + 1 - spec));
        break;
    }
    run = ++fmt;
  }
  if (fmt > run) sink.put(sink.ctx, run, static_cast<size_t>(fmt - run));
}

void format(Sink sink, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vformat(sink, fmt, ap);
  va_end(ap);
}

namespace {
struct BufSink {
  char* buf;
  size_t size;
  size_t len;
};
void buf_put(void* ctx, const char* s, size_t n) {
  auto* b = static_cast<BufSink*>(ctx);
  for (size_t i = 0; i < n; ++i, ++b->len) {
    if (b->size > 0 && b->len < b->size - 1) b->buf[b->len] = s[i];
  }
}
}  // namespace

size_t vsnformat(char* buf, size_t size, const char* fmt, va_list ap) {
  BufSink b{buf, size, 0};
  vformat(Sink{buf_put, &b}, fmt, ap);
  if (size > 0) buf[b.len < size ? b.len : size - 1] = '\0';
  return b.len;
}

size_t snformat(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const size_t n = vsnformat(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

}  // namespace keel
