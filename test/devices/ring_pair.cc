// ring_pair — the driver/client queue on real memory and notifications: two
// tasks joined by a channel with `shared = 16K` (system/ring_pair.system),
// possibly on two CPUs. The pair's first task produces 200,000 descriptors
// into a keel::ring::Ring in the shared page, the other consumes them and
// returns each buffer offset through a second ring; each side sleeps on its
// notification when it must and wakes the other only when asked; at most
// 64 buffers are lent out at once. The
// consumer checks that nothing is lost, duplicated or reordered.
#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/ring.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;

struct Desc {
  uint64_t seq;
  uint32_t offset, length;
};
using Queue = keel::ring::Ring<Desc, 64>;
struct Shared {
  Queue to_consumer;  // requests
  Queue to_producer;  // buffers handed back
};
constexpr uint64_t kCount = 200'000;

sys::Checks g_checks("ring");

// Waits on this task's notification until `ready` holds.
template <class Ready>
void sleep_until(Ready ready) {
  while (!ready()) {
    uint64_t word = 0;
    (void)sys::Notification(slot::kSharedWait).wait(&word);
  }
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const abi::StartInfo* info = abi::start_info();
  if (info->shared_size < sizeof(Shared)) {
    g_checks.report(false, "shared memory", "%llu bytes, need %zu", static_cast<unsigned long long>(info->shared_size),
                    sizeof(Shared));
    return g_checks.summary("ring_pair");
  }
  auto* shared = reinterpret_cast<Shared*>(info->shared_va);
  const sys::Notification wake(slot::kSharedWake);
  uint64_t sleeps = 0, signals = 0;
  if (info->shared_first != 0) {  // producer
    // At most 64 buffers lent out: a buffer is reused only after it came
    // back (pushing a descriptor hands its buffer over).
    uint64_t in_flight = 0;
    for (uint64_t i = 0; i < kCount;) {
      bool signal = false;
      Desc back{};
      while (shared->to_producer.pop(&back, &signal)) --in_flight;  // buffers returned
      if (in_flight == Queue::capacity()) {
        if (shared->to_producer.prepare_wait()) {
          ++sleeps;
          sleep_until([&] { return !shared->to_producer.prepare_wait(); });
        }
        continue;
      }
      if (shared->to_consumer.push(Desc{i, static_cast<uint32_t>(i % 64) * 64, 64}, &signal)) {
        ++in_flight;
        ++i;
        if (signal) {
          ++signals;
          (void)wake.signal();
        }
      }
    }
    sys::print("ring_pair: producer sent %llu, slept %llu times, signalled %llu times\n",
               static_cast<unsigned long long>(kCount), static_cast<unsigned long long>(sleeps),
               static_cast<unsigned long long>(signals));
    return 0;
  }
  uint64_t expect = 0, bad = 0;  // consumer
  while (expect < kCount) {
    Desc d{};
    bool signal = false;
    if (shared->to_consumer.pop(&d, &signal)) {
      if (signal) (void)wake.signal();
      bad += d.seq != expect || d.offset != static_cast<uint32_t>(expect % 64) * 64 ? 1 : 0;
      ++expect;
      bool back_signal = false;
      (void)shared->to_producer.push(Desc{d.seq, d.offset, 0}, &back_signal);  // (the buffer goes back)
      if (back_signal) (void)wake.signal();
      continue;
    }
    if (shared->to_consumer.prepare_wait()) {
      ++sleeps;
      sleep_until([&] { return !shared->to_consumer.prepare_wait(); });
    }
  }
  g_checks.report(bad == 0 && expect == kCount, "200000 descriptors through shared memory, in order",
                  "%llu received, %llu out of place, consumer slept %llu times",
                  static_cast<unsigned long long>(expect), static_cast<unsigned long long>(bad),
                  static_cast<unsigned long long>(sleeps));
  return g_checks.summary("ring_pair");
}
