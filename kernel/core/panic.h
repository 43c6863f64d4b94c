// panic.h — stopping the kernel with an explanation.
//
// Contract: prints one line starting "KERNEL PANIC:" and the reason, then a
// backtrace of kernel code addresses ("#N 0x... in kernel") that
// tools/symbolize (and the QEMU runner) turn into function names with
// file:line, then halts this CPU with interrupts masked. Never returns.
#pragma once

namespace keel {

[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Stops this CPU forever (wfe loop, DAIF masked), saying so.
[[noreturn]] void halt_cpu();
// The same without a word: another CPU is printing a panic report.
[[noreturn]] void halt_cpu_silently();

// Stops the other CPUs (an SGI; those waiting for the kernel lock see a
// flag): called first by a panic. Defined in cpu.cc. (panic.cc defines the
// rest, and kernel_exception, the report vectors.S calls.)
void cpus_halt_others();

}  // namespace keel
