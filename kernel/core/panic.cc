// panic.cc — stopping the kernel with an explanation (panic.h), and what
// the kernel does with an exception it did not expect: a decoded KERNEL
// PANIC report (kernel_exception, called by vectors.S).
#include "kernel/core/panic.h"

#include <stdarg.h>
#include <stdint.h>

#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/esr.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/core/console.h"
#include "kernel/lib/fmt.h"

namespace keel::arm64 {
namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// Ordering: none needed; a second panic on this CPU (a fault while
// panicking) only has to notice that it is not the first.
int g_panic_depth = 0;

bool on_stack(uint64_t fp, arch::StackBounds s) { return fp >= s.lo && fp + 16 <= s.hi; }

// This CPU's kernel stack, as vectors.S finds it: from its PerCpu record
// (TPIDR_EL1) once that exists, the boot CPU's before.
arch::StackBounds own_stack() {
  const arch::StackBounds boot = arch::boot_stack();
  const PerCpu* c = arch::this_percpu_or_null();
  const uint64_t top = c != nullptr ? c->kstack_top : 0;
  if (top == 0) return boot;
  return {top - (boot.hi - boot.lo), top};
}

// Walks AAPCS64 frame records {previous fp, lr} from fp. Return addresses
// are printed minus 4: the call instruction, so file:line names the call.
void print_backtrace(uint64_t pc, uint64_t fp) {
  kprintf("  backtrace:\n");
  if (pc != 0) kprintf("    #0 0x%016llx in kernel\n", ull(pc));
  const arch::StackBounds stack = own_stack();
  for (int depth = 1; depth < 32 && (fp & 15) == 0; ++depth) {
    if (!on_stack(fp, stack) && !on_stack(fp, arch::emergency_stack())) {
      break;
    }
    const auto* rec = reinterpret_cast<const uint64_t*>(fp);
    if (rec[1] == 0) break;
    kprintf("    #%d 0x%016llx in kernel\n", depth, ull(rec[1] - 4));
    if (rec[0] <= fp) break;  // frames grow upward as we unwind; anything else is corrupt
    fp = rec[0];
  }
  kprintf("  end of backtrace\n");
}

}  // namespace

extern "C" [[noreturn]] void kernel_exception(ExceptionFrame* f, uint64_t slot) {
  console_panic_mode();  // straight to the UART, even after the hand-over
  cpus_halt_others();
  if (++g_panic_depth > 1) {
    kprintf("\nKERNEL PANIC: nested exception while panicking (ESR 0x%llx ELR 0x%llx FAR 0x%llx)\n", ull(f->esr),
            ull(f->elr), ull(f->far));
    halt_cpu();
  }
  char meaning[96];
  if (slot % 4 == 0) {
    describe_esr(f->esr, meaning, sizeof meaning);
  } else {
    snformat(meaning, sizeof meaning, "unexpected %s", arm64::vector_kind(slot));
  }
  uint32_t ec = esr_ec(f->esr);
  kprintf("\nKERNEL PANIC: %s\n", meaning);
  kprintf("  exception: %s from %s; EC 0x%02x (%s)\n", arm64::vector_kind(slot), arm64::vector_origin(slot), ec,
          exception_class_name(ec));
  kprintf("  ESR 0x%016llx  FAR 0x%016llx\n  ELR 0x%016llx  SPSR 0x%016llx  SP 0x%016llx\n", ull(f->esr), ull(f->far),
          ull(f->elr), ull(f->spsr), ull(f->sp));
  if (!on_stack(f->sp - 16, own_stack())) {
    kprintf("  note: SP was outside the kernel stack; this report ran on the emergency stack\n");
  }
  for (int i = 0; i < 31; i += 4) {
    kprintf(" ");
    for (int j = i; j < i + 4 && j < 31; ++j) kprintf(" x%-2d 0x%016llx", j, ull(f->x[j]));
    kprintf("\n");
  }
  print_backtrace(f->elr, f->frame_pointer());
  halt_cpu();
}

}  // namespace keel::arm64

namespace keel {

void halt_cpu() {
  arch::mask_interrupts();
  kprintf("keel: CPU halted.\n");
  halt_cpu_silently();
}

void halt_cpu_silently() { arch::halt(); }

void panic(const char* fmt, ...) {
  arch::mask_interrupts();
  console_panic_mode();  // straight to the UART, even after the hand-over
  cpus_halt_others();    // one report, and no CPU runs on in a broken kernel
  kprintf("\nKERNEL PANIC: ");
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
  kprintf("\n");
  arm64::print_backtrace(0, reinterpret_cast<uint64_t>(__builtin_frame_address(0)));
  halt_cpu();
}

}  // namespace keel
