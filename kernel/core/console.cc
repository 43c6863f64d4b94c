#include "kernel/core/console.h"

#include "kernel/dev/pl011.h"
#include "kernel/lib/fmt.h"

namespace keel {
namespace {

dev::Pl011 g_uart;

void put(void*, const char* s, size_t n) { g_uart.write(s, n); }

}  // namespace

void console_init(uint64_t uart_va) { g_uart = dev::Pl011(uart_va); }

void console_write(const char* s, size_t n) { g_uart.write(s, n); }

void kvprintf(const char* fmt, va_list ap) { vformat(Sink{put, nullptr}, fmt, ap); }

void kprintf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}

}  // namespace keel
