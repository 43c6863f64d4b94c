// smp_bench — runs as init on several CPUs (bazel run //:bench_smp) and
// prints, in wall time (the generic timer):
//   the cross-core IPC round trip (client on CPU 0, server on CPU 1) next to
//   the same-core one (both on CPU 1), and
//   the throughput of k independent same-CPU client/server pairs, one pair
//   on each of CPUs 0..k-1, for k = 1..N: how IPC scales with CPUs under
//   the big kernel lock.
// Under QEMU these are emulator numbers: vCPUs are host threads, so the
// scaling stops at the host's core count.
#include <stddef.h>
#include <stdint.h>

#include "keel/sys.h"
#include "keel/testing.h"
#include "keel/thread.h"
#include "keel/time.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::init_slot;

constexpr uint64_t kUt = 200, kDone = 201, kEps = 210, kServers = 220, kClients = 230;  // 230.. one per client made
constexpr uint64_t kMaxCpus = keel::abi::kMaxCpus, kPairRounds = 4000, kLatencyRounds = 2000;
constexpr unsigned kPrio = 100;

alignas(16) char g_server_stacks[kMaxCpus + 1][8192];
alignas(16) char g_client_stacks[kMaxCpus][8192];
volatile uint64_t g_start[kMaxCpus], g_end[kMaxCpus];
sys::Completion g_done(kDone);
uint64_t g_next_client = kClients;

bool start_thread(uint64_t th_slot, void (*entry)(uint64_t), char* stack, size_t size, uint64_t arg, uint64_t cpu) {
  return sys::start_thread({.untyped = kUt,
                            .slot = th_slot,
                            .priority = kPrio,
                            .cpu = cpu,
                            .entry = entry,
                            .stack_top = reinterpret_cast<uint64_t>(stack + size),
                            .arg = arg}) == Error::kOk;
}

// arg: endpoint slot | rounds << 16 | index << 48.
[[noreturn]] void client(uint64_t arg) {
  const sys::Endpoint ep(arg & 0xffff);
  const uint64_t rounds = (arg >> 16) & 0xffffffff, index = arg >> 48;
  sys::Message m;
  m.length = 1;
  g_start[index] = sys::now_ns();
  for (uint64_t i = 0; i < rounds; ++i) (void)ep.call(m);
  g_end[index] = sys::now_ns();
  g_done.finished();
  for (;;) (void)sys::yield();
}

uint64_t client_arg(uint64_t ep, uint64_t rounds, uint64_t index) { return ep | rounds << 16 | index << 48; }

// Average round trip (ns) of a client on `client_cpu` calling the server of endpoint `ep`.
uint64_t round_trip(uint64_t ep, uint64_t client_cpu) {
  if (!start_thread(g_next_client++, client, g_client_stacks[0], sizeof g_client_stacks[0],
                    client_arg(ep, kLatencyRounds, 0), client_cpu)) {
    return 0;
  }
  g_done.wait_for(1);
  return (g_end[0] - g_start[0]) / kLatencyRounds;
}

}  // namespace

int main() {
  const uint64_t cpus = sys::init_boot_info()->cpus_online < kMaxCpus ? sys::init_boot_info()->cpus_online : kMaxCpus;
  bool ok = cpus >= 2 && sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 22, kUt) == Error::kOk &&
            sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kDone) == Error::kOk;
  // A server on every CPU (endpoint kEps + i), and one more on CPU 1 for the latency pair.
  for (uint64_t i = 0; ok && i <= cpus; ++i) {
    const uint64_t cpu = i < cpus ? i : 1;
    ok = sys::Untyped(kUt).retype(ObjectType::kEndpoint, 0, kEps + i) == Error::kOk &&
         start_thread(kServers + i, sys::echo_server, g_server_stacks[i], sizeof g_server_stacks[i], kEps + i, cpu);
  }
  if (!ok) {
    sys::print("bench_smp: needs at least 2 CPUs (and 4 MiB); setup failed\n");
    return 1;
  }
  const uint64_t cross = round_trip(kEps + cpus, 0), same = round_trip(kEps + cpus, 1);
  sys::print("bench_smp: ipc round trip: cross-core (CPU 0 -> CPU 1) %llu ns, same-core (CPU 1) %llu ns\n",
             static_cast<unsigned long long>(cross), static_cast<unsigned long long>(same));
  sys::print("bench_smp: independent same-CPU pairs, %llu round trips each\n",
             static_cast<unsigned long long>(kPairRounds));
  sys::print("bench_smp: cpus  round-trips/s  per-cpu/s  speedup\n");
  uint64_t base = 0;
  for (uint64_t k = 1; k <= cpus; ++k) {
    for (uint64_t i = 0; i < k; ++i) {
      (void)start_thread(g_next_client++, client, g_client_stacks[i], sizeof g_client_stacks[i],
                         client_arg(kEps + i, kPairRounds, i), i);
    }
    g_done.wait_for(k);
    uint64_t first = g_start[0], last = g_end[0];
    for (uint64_t i = 1; i < k; ++i) {
      first = g_start[i] < first ? g_start[i] : first;
      last = g_end[i] > last ? g_end[i] : last;
    }
    const uint64_t per_s = k * kPairRounds * 1000000000ull / (last - first + 1);
    if (k == 1) base = per_s;
    sys::print("bench_smp: %4llu  %13llu  %9llu  %4llu.%02llu\n", static_cast<unsigned long long>(k),
               static_cast<unsigned long long>(per_s), static_cast<unsigned long long>(per_s / k),
               static_cast<unsigned long long>(per_s / base),
               static_cast<unsigned long long>(per_s * 100 / base % 100));
  }
  sys::print("BENCH SMP DONE\n");
  return 0;
}
