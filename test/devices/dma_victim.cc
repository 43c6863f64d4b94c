// dma_victim — memory a hostile driver's device must not reach
// (test/devices:dma_attack): 256 KiB filled with a pattern and hashed at
// start; when the attacker calls on their channel (its attack done), the
// memory is hashed again and must be unchanged.
#include <stddef.h>
#include <stdint.h>

#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"

namespace {

namespace sys = keel::sys;
namespace slot = keel::abi::task_slot;

constexpr size_t kWords = (256 << 10) / 8;
alignas(4096) volatile uint64_t g_memory[kWords];

uint64_t hash() {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < kWords; ++i) h = (h ^ g_memory[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < kWords; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    g_memory[i] = x;
  }
  const uint64_t before = hash();
  sys::print("dma_victim: 256 KiB filled, hash %llx; waiting for the attack to end\n",
             static_cast<unsigned long long>(before));
  sys::Message m;
  if (sys::Endpoint(slot::kChannel).recv(m) != keel::abi::Error::kOk) return 1;
  const uint64_t after = hash();
  sys::Checks checks("dma_victim");
  checks.report(after == before, "memory", "256 KiB hash %llx before the attack, %llx after",
                static_cast<unsigned long long>(before), static_cast<unsigned long long>(after));
  const int failed = checks.summary("dma_victim");
  sys::Message reply;
  (void)sys::Endpoint(slot::kChannel).reply_recv(reply, m);  // (answers the attacker; nothing more comes)
  return failed;
}
