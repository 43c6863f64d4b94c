// console.h — the kernel's own output (boot messages, fault reports, panics).
//
// Until user space takes the console over, output is written to the PL011
// with polled writes through the device-window mapping. KernelLogBind (the
// hand-over) redirects it to a ring that the UART server drains with
// KernelLogRead; from then on the kernel touches the UART only to report a
// panic (console_panic_mode). The ring never blocks the kernel: when full,
// the oldest bytes go and the reader is told how many were lost.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

namespace keel {

void console_init(uint64_t uart_va);
void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char* fmt, va_list ap);
void console_write(const char* s, size_t n);

// The hand-over: output goes to the log ring; `ntfn_pa`/`badge` name the
// notification to signal when it has data.
void console_log_bind(uint64_t ntfn_pa, uint64_t badge);
// Copies up to `max` bytes of the ring into buf; returns how many.
size_t console_log_read(char* buf, size_t max);
// If output arrived since the last call and a notification is bound, returns
// true with it (the caller signals it at a point where waking threads is
// safe: never from inside kprintf).
bool console_log_take_signal(uint64_t* ntfn_pa, uint64_t* badge);
// Whether output arrived since then (inline: every exit to EL0 asks).
extern bool g_console_unsignalled;
inline bool console_log_may_signal() { return g_console_unsignalled; }
// The notification at ntfn_pa is being destroyed: forget it (output keeps
// going to the ring; nobody is told).
void console_forget_notification(uint64_t ntfn_pa);
// A panic: write the UART directly again, whatever the hand-over said.
void console_panic_mode();

}  // namespace keel
