// victim — a task to be killed while it holds things (test/boot:kill_and_restart):
// pages from the memory server and a share of them; a thread blocked in a
// Call nobody will answer; and, at a priority above the console server,
// writer threads that keep the transmit buffer full, so the server holds
// its writes when init stops it. It says "victim: ready" first. After a
// kill, none of it may remain: the memory server's pages all free, no
// output of it after "kill: victim stopped", the kernel's invariants intact.
#include <stddef.h>
#include <stdint.h>

#include "keel/proto/memory.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/thread.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;
namespace mem = keel::memory;

constexpr uint64_t kVa = 0x5000'0000, kShared = 0x5100'0000;
constexpr uint64_t kEp = slot::kFirstFree, kCaller = slot::kFirstFree + 1, kWriters = slot::kFirstFree + 2;
constexpr unsigned kWriterCount = 3;
alignas(4096) uint8_t g_ipc[1 + kWriterCount][4096];
alignas(16) uint8_t g_stack[1 + kWriterCount][4096];

void caller(uint64_t) {
  sys::Message m;
  m.length = 1;
  (void)sys::Endpoint(kEp).call(m);  // nobody receives: blocked until it is destroyed
}

void writer(uint64_t t) {
  for (uint64_t n = 0;; ++n) {
    sys::print("victim: writer %llu line %llu .......................................\n",
               static_cast<unsigned long long>(t), static_cast<unsigned long long>(n));
  }
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const sys::Endpoint server(slot::kMemory);
  uint64_t token = 0;
  Error e = mem::map(server, kVa, 8, abi::kMapWrite);
  for (uint64_t i = 0; e == Error::kOk && i < 8 * 4096 / 8; ++i) reinterpret_cast<volatile uint64_t*>(kVa)[i] = i;
  if (e == Error::kOk) e = mem::share(server, kShared, 4, abi::kMapWrite, &token);
  if (e == Error::kOk) e = sys::Untyped(slot::kUntyped).retype(abi::ObjectType::kEndpoint, 0, kEp);
  if (e == Error::kOk) {
    e = sys::start_thread({.untyped = slot::kUntyped,
                           .slot = kCaller,
                           .priority = 10,
                           .entry = caller,
                           .stack_top = reinterpret_cast<uint64_t>(g_stack[0] + sizeof g_stack[0]),
                           .ipc_buffer = reinterpret_cast<uint64_t>(g_ipc[0])});
  }
  sys::print("victim: ready (%s)\n", abi::error_name(e));
  for (unsigned t = 0; e == Error::kOk && t < kWriterCount; ++t) {
    e = sys::start_thread({.untyped = slot::kUntyped,
                           .slot = kWriters + t,
                           .priority = static_cast<unsigned>(abi::start_info()->priority),
                           .entry = writer,
                           .stack_top = reinterpret_cast<uint64_t>(g_stack[1 + t] + sizeof g_stack[1 + t]),
                           .arg = t,
                           .ipc_buffer = reinterpret_cast<uint64_t>(g_ipc[1 + t])});
  }
  writer(kWriterCount);
  return 0;
}
