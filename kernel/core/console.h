// console.h — the kernel's own output (boot messages and panics).
//
// Polled PL011 writes through the device-window mapping. Until the user-space
// UART server exists this is the only console; afterwards the kernel keeps it
// for panics only.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

namespace keel {

void console_init(uint64_t uart_va);
void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char* fmt, va_list ap);
void console_write(const char* s, size_t n);

}  // namespace keel
