// greeter — the program docs/hello.md builds, step by step: a task of the
// system that prints through the UART server, takes memory from the memory
// server, and reports like every test program (keel/testing.h).
#include "keel/proto/memory.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"

namespace sys = keel::sys;
namespace abi = keel::abi;
namespace mem = keel::memory;
namespace slot = keel::abi::task_slot;

int main() {
  sys::set_console(slot::kConsole);  // print through the UART server
  sys::print("greeter: hello from task %s\n", abi::start_info()->name);

  // Four fresh pages from the memory server, mapped writable at 0x5000'0000.
  constexpr uint64_t kVa = 0x5000'0000;
  const sys::Endpoint memory(slot::kMemory);
  sys::Checks checks("greeter");
  const abi::Error e = mem::map(memory, kVa, 4, abi::kMapWrite);
  checks.check(e == abi::Error::kOk, "four pages from the memory server", e);
  if (e == abi::Error::kOk) {
    auto* words = reinterpret_cast<volatile uint64_t*>(kVa);
    bool zero = true;
    for (uint64_t i = 0; i < 4 * 4096 / 8; ++i) zero = zero && words[i] == 0;
    words[0] = 0x6b65656c;  // "keel"
    checks.check(zero && words[0] == 0x6b65656c, "they arrive zeroed and writable");
  }
  return checks.summary("greeter");
}
