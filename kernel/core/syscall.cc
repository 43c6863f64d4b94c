// syscall.cc — everything that enters the kernel from EL0.
//
// Syscalls are decoded here; every argument is checked before use, and the
// result goes back in x0 as an abi::Error. Any other exception from EL0 is a
// user fault: with no fault endpoints yet, the thread is stopped, the fault
// is reported decoded (with a user backtrace the runner symbolizes), and the
// kernel carries on.
#include <stdint.h>

#include "keel/abi.h"
#include "kernel/arch/arm64/esr.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/core/abi_map.h"
#include "kernel/core/console.h"
#include "kernel/core/panic.h"
#include "kernel/core/thread.h"
#include "kernel/core/uaccess.h"

namespace keel {
namespace {

Thread* g_current = nullptr;

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

abi::Error sys_debug_write(const Thread& t, uint64_t uva, uint64_t len) {
  if (len > abi::kDebugWriteMax) return abi::Error::kInvalidArgument;
  char buf[256];
  while (len > 0) {
    size_t chunk = len < sizeof buf ? len : sizeof buf;
    Status s = copy_from_user(t, uva, chunk, buf);
    if (s != Status::kOk) return to_abi(s);
    console_write(buf, chunk);
    uva += chunk;
    len -= chunk;
  }
  return abi::Error::kOk;
}

void handle_syscall(Thread* t, arm64::ExceptionFrame* f) {
  uint64_t number = f->x[8];
  abi::Error e = abi::Error::kUnknownSyscall;
  if (number == abi::kSyscallDebugWrite) {
    e = sys_debug_write(*t, f->x[0], f->x[1]);
  } else if (number == static_cast<uint64_t>(abi::Syscall::kYield)) {
    e = abi::Error::kOk;  // the only thread: yielding returns at once
  }
  f->x[0] = static_cast<uint64_t>(e);
}

[[noreturn]] void idle() {
  kprintf("keel: no runnable thread; the CPU idles (the kernel is still up)\n");
  for (;;) arm64::wfi();
}

// The user fault report: decoded like a kernel panic, but it stops only the
// thread. Backtrace frames are read with copy_from_user, never dereferenced.
void report_user_fault(const Thread& t, const arm64::ExceptionFrame& f, uint64_t slot) {
  char meaning[96];
  if (slot % 4 == 0) {
    arm64::describe_esr(f.esr, meaning, sizeof meaning);
  } else {
    meaning[0] = '\0';
  }
  uint32_t ec = arm64::esr_ec(f.esr);
  kprintf("keel: USER FAULT in thread %s: %s%s\n", t.name, slot % 4 == 0 ? meaning : "unexpected ",
          slot % 4 == 0 ? "" : arm64::vector_kind(slot));
  kprintf("  EC 0x%02x (%s)  ESR 0x%016llx  FAR 0x%016llx\n  PC 0x%016llx  SP 0x%016llx\n", ec,
          arm64::exception_class_name(ec), ull(f.esr), ull(f.far), ull(f.elr), ull(f.sp));
  kprintf("  backtrace:\n    #0 0x%016llx in %s\n", ull(f.elr), t.name);
  uint64_t fp = f.x[29];
  for (int depth = 1; depth < 16 && fp != 0 && (fp & 15) == 0; ++depth) {
    uint64_t rec[2];
    if (copy_from_user(t, fp, sizeof rec, rec) != Status::kOk || rec[1] == 0) break;
    kprintf("    #%d 0x%016llx in %s\n", depth, ull(rec[1] - 4), t.name);
    if (rec[0] <= fp) break;
    fp = rec[0];
  }
  kprintf("  end of backtrace\n");
  kprintf("keel: thread %s stopped; the kernel carries on\n", t.name);
}

}  // namespace

Thread* current_thread() { return g_current; }
void set_current_thread(Thread* t) { g_current = t; }

// Called by vectors.S for every exception from EL0, with the user's frame on
// the kernel stack. Returning resumes the (possibly rewritten) frame.
extern "C" void user_exception(arm64::ExceptionFrame* f, uint64_t slot) {
  Thread* t = g_current;
  if (t == nullptr) panic("exception from EL0 (ESR 0x%llx) with no current thread", ull(f->esr));
  if (slot == 8 && arm64::esr_ec(f->esr) == arm64::ec::kSvc64) {
    handle_syscall(t, f);
    return;
  }
  report_user_fault(*t, *f, slot);
  t->state = ThreadState::kStopped;
  g_current = nullptr;
  idle();
}

}  // namespace keel
