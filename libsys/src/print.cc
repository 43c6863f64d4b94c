#include <stdarg.h>

#include "keel/proto/console.h"
#include "keel/sys.h"
#include "kernel/lib/fmt.h"

namespace keel::sys {
namespace {

uint64_t g_console = 0;  // endpoint slot of the UART server; 0: the kernel's debug_write
uint64_t g_debug_log = abi::init_slot::kKernelLog;

// Writers of one task take turns: a count of writers wanting the console
// and a notification the one leaving signals when others wait (a binary
// semaphore is enough: only the writer holding the turn signals, and it
// holds it until a waiter takes the one signal). So a task has at most one
// Write outstanding, and the console server (which holds up to four per
// client and refuses a fifth) never refuses it.
uint64_t g_turns_slot = 0;  // 0: no turns (a single-threaded program)
uint32_t g_writers = 0;     // Ordering: acq_rel read-modify-writes only

void take_turn() {
  if (g_turns_slot == 0) return;
  if (__atomic_fetch_add(&g_writers, 1, __ATOMIC_ACQ_REL) > 0) {
    uint64_t word = 0;
    (void)Notification(g_turns_slot).wait(&word);  // the writer before us signals when it is done
  }
}
void end_turn() {
  if (g_turns_slot == 0) return;
  if (__atomic_fetch_sub(&g_writers, 1, __ATOMIC_ACQ_REL) > 1) (void)Notification(g_turns_slot).signal();
}

// Buffers output so that a line goes out in one debug_write.
struct LineBuf {
  char buf[256];
  size_t len = 0;
  void flush() {
    if (len == 0) return;
    take_turn();
    if (g_console == 0 || console::write(Endpoint(g_console), buf, len) != abi::Error::kOk) {
      (void)debug_write(buf, len);  // no console (yet), or it refused: the kernel's log still takes it
    }
    end_turn();
    len = 0;
  }
};

void put(void* ctx, const char* s, size_t n) {
  auto* b = static_cast<LineBuf*>(ctx);
  for (size_t i = 0; i < n; ++i) {
    if (b->len == sizeof b->buf) b->flush();
    b->buf[b->len++] = s[i];
  }
}

}  // namespace

uint64_t debug_log_slot() { return g_debug_log; }
void set_debug_log(uint64_t kernel_log_slot) { g_debug_log = kernel_log_slot; }

void set_console(uint64_t endpoint_slot) { g_console = endpoint_slot; }

abi::Error enable_print_turns(uint64_t untyped, uint64_t notification_slot) {
  if (g_turns_slot != 0) return abi::Error::kOk;
  abi::Error e = Untyped(untyped).retype(abi::ObjectType::kNotification, 0, notification_slot);
  // (Set before a second thread exists: the caller is the only writer now.)
  if (e == abi::Error::kOk) g_turns_slot = notification_slot;
  return e;
}

void print(const char* fmt, ...) {
  LineBuf b;
  va_list ap;
  va_start(ap, fmt);
  vformat(Sink{put, &b}, fmt, ap);
  va_end(ap);
  b.flush();
}

}  // namespace keel::sys

extern "C" void libsys_after_main(int rc) { keel::sys::print("user: main returned %d\n", rc); }
