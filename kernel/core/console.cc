#include "kernel/core/console.h"

#include "kernel/dev/pl011.h"
#include "kernel/lib/fmt.h"

namespace keel {
namespace {

dev::Pl011 g_uart;

// The log ring (after the hand-over). head and tail count bytes ever
// written and read; head - tail <= kLogSize.
constexpr uint64_t kLogSize = 16384;
struct Log {
  bool handed_over = false;
  uint64_t ntfn_pa = 0, badge = 0;
  uint64_t head = 0, tail = 0, lost = 0;
  char ring[kLogSize];
};
Log g_log;
}  // namespace

bool g_console_unsignalled = false;  // bytes arrived since the last console_log_take_signal

namespace {

void log_append(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (g_log.head - g_log.tail == kLogSize) {  // full: the oldest byte goes
      ++g_log.tail;
      ++g_log.lost;
    }
    g_log.ring[g_log.head++ % kLogSize] = s[i];
  }
  g_console_unsignalled = true;
}

void put(void*, const char* s, size_t n) { console_write(s, n); }

}  // namespace

void console_init(uint64_t uart_va) { g_uart = dev::Pl011(uart_va); }

void console_write(const char* s, size_t n) {
  if (g_log.handed_over) {
    log_append(s, n);
  } else {
    g_uart.write(s, n);
  }
}

void console_log_bind(uint64_t ntfn_pa, uint64_t badge) {
  g_log.ntfn_pa = ntfn_pa;
  g_log.badge = badge;
  g_log.handed_over = true;
  g_console_unsignalled = g_log.head != g_log.tail;
}

size_t console_log_read(char* buf, size_t max) {
  size_t n = 0;
  if (g_log.lost > 0 && max >= 64) {
    n = snformat(buf, max, "[keel: %llu bytes of kernel log lost]\n", static_cast<unsigned long long>(g_log.lost));
    g_log.lost = 0;
  }
  while (n < max && g_log.tail != g_log.head) buf[n++] = g_log.ring[g_log.tail++ % kLogSize];
  return n;
}

bool console_log_take_signal(uint64_t* ntfn_pa, uint64_t* badge) {
  if (!g_console_unsignalled || g_log.ntfn_pa == 0) return false;
  g_console_unsignalled = false;
  *ntfn_pa = g_log.ntfn_pa;
  *badge = g_log.badge;
  return true;
}

void console_forget_notification(uint64_t ntfn_pa) {
  if (g_log.ntfn_pa == ntfn_pa) g_log.ntfn_pa = 0;
}

void console_panic_mode() { g_log.handed_over = false; }

void kvprintf(const char* fmt, va_list ap) { vformat(Sink{put, nullptr}, fmt, ap); }

void kprintf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}

}  // namespace keel
