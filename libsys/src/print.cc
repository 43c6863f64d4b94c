#include <stdarg.h>

#include "keel/proto/console.h"
#include "keel/sys.h"
#include "kernel/lib/fmt.h"

namespace keel::sys {
namespace {

uint64_t g_console = 0;  // endpoint slot of the UART server; 0: the kernel's debug_write
uint64_t g_debug_log = abi::init_slot::kKernelLog;

// Buffers output so that a line goes out in one debug_write.
struct LineBuf {
  char buf[256];
  size_t len = 0;
  void flush() {
    if (len > 0 && (g_console == 0 || console::write(Endpoint(g_console), buf, len) != abi::Error::kOk)) {
      (void)debug_write(buf, len);  // no console (yet), or it refused: the kernel's log still takes it
    }
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
