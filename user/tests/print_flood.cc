// print_flood — output is never lost: 40 threads of one task each print 8
// lines of 200 characters through sys::print, more than the console
// server's transmit buffer holds and more writers than it queues for one
// client (four). The task asks the server how many lines it wrote before
// and after: every one of the 320 arrived, and each thread's lines are in
// order (the runner checks two threads' first and last lines).
#include <stddef.h>
#include <stdint.h>

#include "keel/proto/console.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"
#include "keel/thread.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;

constexpr unsigned kThreads = 40, kLines = 8, kWidth = 200;
alignas(4096) uint8_t g_ipc[kThreads][4096];  // each thread's IPC buffer (long messages)
alignas(16) uint8_t g_stack[kThreads][4096];
uint32_t g_done = 0;  // Ordering: acq_rel by each thread at its end; the last one signals main
constexpr uint64_t kDone = slot::kFirstFree + kThreads;  // main waits on it (it runs above the server:
                                                         // it must block, not spin)

void writer(uint64_t t) {
  char text[kWidth + 1];
  for (unsigned line = 0; line < kLines; ++line) {
    for (unsigned i = 0; i < kWidth; ++i) text[i] = static_cast<char>('a' + (t + line + i) % 26);
    text[kWidth] = '\0';
    sys::print("flood t%02u line %u: %s\n", static_cast<unsigned>(t), line, text + 20);
  }
  if (__atomic_add_fetch(&g_done, 1, __ATOMIC_ACQ_REL) == kThreads) (void)sys::Notification(kDone).signal();
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  sys::Checks checks("flood");
  const sys::Endpoint con(slot::kConsole);
  keel::console::Stats before{}, after{};
  Error e = keel::console::stats(con, &before);
  if (e == Error::kOk) e = sys::Untyped(slot::kUntyped).retype(abi::ObjectType::kNotification, 0, kDone);
  for (unsigned t = 0; e == Error::kOk && t < kThreads; ++t) {
    e = sys::start_thread({.untyped = slot::kUntyped,
                           .slot = slot::kFirstFree + t,
                           .priority = static_cast<unsigned>(abi::start_info()->priority),
                           .entry = writer,
                           .stack_top = reinterpret_cast<uint64_t>(g_stack[t] + sizeof g_stack[t]),
                           .arg = t,
                           .ipc_buffer = reinterpret_cast<uint64_t>(g_ipc[t])});
  }
  uint64_t word = 0;
  if (e == Error::kOk) e = sys::Notification(kDone).wait(&word);
  if (e == Error::kOk) e = keel::console::stats(con, &after);
  checks.report(e == Error::kOk && after.lines - before.lines == uint64_t{kThreads} * kLines,
                "40 threads x 8 lines of 200 characters all arrive", "%llu lines written (%llu writes waited)",
                static_cast<unsigned long long>(after.lines - before.lines),
                static_cast<unsigned long long>(after.waited - before.waited));
  return checks.summary("print_flood");
}
