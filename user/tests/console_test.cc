// console_test — the UART server, tested over IPC from client tasks.
// One program, several tasks (system/console_test.system, keel.system):
//   writerN       40 lines each, every line sent in three pieces: the
//                 server must still put each line out whole;
//   console_test  malformed requests, a burst larger than the transmit
//                 buffer (back-pressure: nothing lost, writers waited),
//                 and a typed line read back (the test runner types it);
//   console_check the same without the typed line (the console's `test`).
#include "keel/proto/console.h"

#include <stddef.h>
#include <stdint.h>

#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"
#include "keel/text.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace con = keel::console;
namespace slot = keel::abi::task_slot;

const sys::Endpoint server(slot::kConsole);
sys::Checks g_checks("console");

void check(bool ok, const char* what, Error e = Error::kOk) { g_checks.check(ok, what, e); }
using sys::length;
using sys::streq;

Error put(const char* s) { return con::write(server, s, length(s)); }

void writer(const char* name) {
  char num[4] = {0, 0, ' ', 0};
  for (int i = 0; i < 40; ++i) {
    num[0] = static_cast<char>('0' + i / 10);
    num[1] = static_cast<char>('0' + i % 10);
    // Three requests per line; others' lines must not land in between.
    (void)put(name);
    (void)put(" line ");
    (void)put(num);
    (void)put("abcdefghijklmnopqrstuvwxyz0123456789 :end\n");
    if (i % 8 == 0) (void)sys::yield();
  }
  sys::print("%s done\n", name);
}

Error raw(uint64_t label, uint64_t length, uint64_t n) {
  sys::Message m;
  m.label = label;
  m.mr[0] = n;
  m.length = length;
  Error e = server.call(m);
  return e == Error::kOk ? static_cast<Error>(m.label) : e;
}

void tests(bool typed) {
  check(raw(99, 1, 0) == Error::kInvalidArgument, "unknown request");
  check(raw(con::kWrite, 1, con::kMaxBytes + 1) == Error::kInvalidArgument, "write longer than a message");
  check(raw(con::kWrite, 1, 20) == Error::kInvalidArgument, "write shorter than it says");
  check(raw(con::kRead, 1, 0) == Error::kInvalidArgument, "read of nothing");
  con::Stats before{}, after{};
  Error e = con::stats(server, &before);
  // A burst bigger than the transmit buffer: every line arrives (the runner
  // checks the last one), and writers had to wait.
  char line[112];
  for (int i = 0; i < 60 && e == Error::kOk; ++i) {
    for (size_t k = 0; k < sizeof line; ++k) line[k] = static_cast<char>('a' + k % 26);
    const char* head = "console_test: burst line ";
    size_t n = 0;
    for (; head[n] != '\0'; ++n) line[n] = head[n];
    line[n++] = static_cast<char>('0' + i / 10);
    line[n++] = static_cast<char>('0' + i % 10);
    line[n++] = ' ';
    line[sizeof line - 1] = '\n';
    e = con::write(server, line, sizeof line);
  }
  if (e == Error::kOk) e = con::stats(server, &after);
  check(e == Error::kOk && after.lines >= before.lines + 60 && after.bytes >= before.bytes + 60 * sizeof line,
        "a burst larger than the buffer arrives whole", e);
  check(after.waited > before.waited, "writers waited for buffer space (back-pressure)");
  if (typed) {
    sys::print("console_test: type a line\n");
    char got[64];
    size_t n = 0;
    e = con::read_line(server, got, sizeof got, &n);
    sys::print("console_test: read '%s'\n", e == Error::kOk ? got : "");
    check(e == Error::kOk && streq(got, "hello keel"), "a typed line is read back", e);
  }
  g_checks.summary("console_test");
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const char* name = abi::start_info()->name;
  if (name[0] == 'w') {
    writer(name);
    return 0;
  }
  tests(streq(name, "console_test"));
  return g_checks.failed() == 0 ? 0 : 1;
}
