// smp_test — runs as init on several CPUs (test/boot: smp_*): threads pinned
// to CPUs with ThreadSetAffinity, and
//   cross_core_ping_pong    Calls from CPU 0 answered on the last CPU;
//   stress                  two client/server pairs per CPU, each pair split
//                           across two CPUs, thousands of round trips: every
//                           server sees each client's sequence numbers
//                           exactly once and in order, every reply matches;
//   fp_migrates             FP/SIMD registers survive moving to another CPU;
//   suspend_running_remote  a thread spinning at EL0 on another CPU is
//                           suspended (it stops) and started again;
//   delete_running_remote   a thread spinning at EL0 on another CPU is
//                           destroyed; that CPU carries on with other work;
//   revoke_blocked_remote   revoking the untyped under an endpoint wakes a
//                           thread blocked on it on another CPU;
//   delete_address_space    a thread's address space goes while it runs on
//                           another CPU;
//   affinity_errors         a CPU that is not online is refused;
//   shared_endpoint         one endpoint, a server and two clients on every
//                           CPU: same-CPU calls take the lock-free fastpath,
//                           the others the slow path, all at once on one
//                           endpoint (docs/smp.md); every client's sequence
//                           arrives exactly once, in order, every reply
//                           matches.
// Then, as the benchmark (`bazel run //:bench_smp`): the cross-core round
// trip and the throughput of independent same-CPU pairs on 1..N CPUs.
#include <stddef.h>
#include <stdint.h>

#include "keel/loader.h"
#include "keel/sys.h"
#include "keel/testing.h"
#include "keel/thread.h"
#include "keel/time.h"

extern "C" char __etext[];

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::init_slot;

// init's slots from 200 (above its untyped, which start at 128).
constexpr uint64_t kUt = 200, kDone = 201, kPingEp = 202, kPingServer = 203, kPingClient = 204, kFpThread = 205,
                   kVictim = 206, kVictimAs = 207, kDoomedUt = 208, kDoomedEp = 209, kWaiter = 210, kAfterwards = 211;
// Stress, pair p (one per CPU): endpoint, server thread, two badged client
// capabilities and two client threads.
constexpr uint64_t kStressEp = 220, kStressServer = 230, kStressClientCap = 240, kStressClient = 260;
constexpr uint64_t kSpaceSlots = 280, kSpaceSlotsEnd = 400;  // the spinner's address space
constexpr unsigned kPrio = 100;
// Shared endpoint: the endpoint, a server per CPU, two badged capabilities
// and two clients per CPU.
constexpr uint64_t kSharedEp = 410, kSharedServer = 411, kSharedClientCap = 420, kSharedClient = 440;

sys::Checks g_checks("smp");
uint64_t g_cpus = 1;

uint64_t load(const volatile uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }
void store(volatile uint64_t& v, uint64_t x) { __atomic_store_n(&v, x, __ATOMIC_RELEASE); }

using sys::now_ns;

bool start_thread(uint64_t th_slot, void (*entry)(uint64_t), char* stack, size_t size, uint64_t arg, uint64_t cpu) {
  return sys::start_thread({.untyped = kUt,
                            .slot = th_slot,
                            .priority = kPrio,
                            .cpu = cpu,
                            .entry = entry,
                            .stack_top = reinterpret_cast<uint64_t>(stack + size),
                            .arg = arg}) == Error::kOk;
}

sys::Completion g_done(kDone);
void finished() { g_done.finished(); }
void wait_done(uint64_t count) { g_done.wait_for(count); }

// ---- ping-pong ----------------------------------------------------------------
alignas(16) char g_ping_server_stack[8192];
alignas(16) char g_ping_client_stack[8192];
volatile uint64_t g_ping_ok = 0, g_ping_ns = 0;
constexpr uint64_t kPingRounds = 2000;

[[noreturn]] void ping_client(uint64_t rounds) {
  const sys::Endpoint ep(kPingEp);
  bool ok = true;
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < rounds && ok; ++i) {
    sys::Message m;
    m.mr[0] = i * 3;
    m.length = 1;
    ok = ep.call(m) == Error::kOk && m.mr[0] == i * 3 + 1;
  }
  store(g_ping_ns, (now_ns() - t0) / rounds);
  store(g_ping_ok, ok ? 1 : 2);
  finished();
  for (;;) (void)sys::yield();
}

// ---- stress -------------------------------------------------------------------
constexpr uint64_t kStressRounds = 1500;  // per client: 3000 per pair, 24000 on 8 CPUs
alignas(16) char g_stress_stacks[8][8192];
alignas(16) char g_stress_clients[16][8192];
volatile uint64_t g_stress_bad = 0;     // replies or sequence numbers that did not match
volatile uint64_t g_stress_served = 0;  // requests servers saw
volatile uint64_t g_expected[8][2];     // per endpoint, per client: the next sequence number

// Server of endpoint i: two clients (badges 1 and 2) call it; each must
// arrive with sequence numbers 0, 1, 2, ... — none lost, none twice.
[[noreturn]] void stress_server(uint64_t i) {
  const sys::Endpoint ep(kStressEp + i);
  sys::Message m;
  Error e = ep.recv(m);
  for (;;) {
    if (e == Error::kOk) {
      uint64_t who = m.badge - 1;
      if (who > 1 || m.mr[0] != g_expected[i][who]) {
        __atomic_fetch_add(&g_stress_bad, 1, __ATOMIC_RELAXED);
      } else {
        g_expected[i][who] = m.mr[0] + 1;
      }
      __atomic_fetch_add(&g_stress_served, 1, __ATOMIC_RELAXED);
      m.mr[1] = m.mr[0] ^ 0x5a5a;
      m.length = 2;
      e = ep.reply_recv(m, m);
    } else {
      e = ep.recv(m);
    }
  }
}

// Client: arg = endpoint slot of a badged copy.
[[noreturn]] void stress_client(uint64_t ep_slot) {
  const sys::Endpoint ep(ep_slot);
  for (uint64_t seq = 0; seq < kStressRounds; ++seq) {
    sys::Message m;
    m.mr[0] = seq;
    m.length = 1;
    if (ep.call(m) != Error::kOk || m.mr[0] != seq || m.mr[1] != (seq ^ 0x5a5a)) {
      __atomic_fetch_add(&g_stress_bad, 1, __ATOMIC_RELAXED);
    }
  }
  finished();
  for (;;) (void)sys::yield();
}

// ---- FP across CPUs -------------------------------------------------------------
alignas(16) char g_fp_stack[8192];
volatile uint64_t g_fp_phase = 0, g_fp_result = 0;

[[noreturn]] void fp_thread(uint64_t) {
  const uint64_t a = 0x3ff8000000000000ull;  // 1.5
  uint64_t b = 0;
  asm volatile(".arch_extension fp\n fmov d8, %0" ::"r"(a));  // live in the FP registers across the move
  store(g_fp_phase, 1);
  while (load(g_fp_phase) != 2) (void)sys::yield();  // init moves it to another CPU meanwhile
  for (int i = 0; i < 100; ++i) (void)sys::yield();  // (so that it has run over there)
  asm volatile(".arch_extension fp\n fmov %0, d8" : "=r"(b));
  store(g_fp_result, b == a ? 1 : 2);
  finished();
  for (;;) (void)sys::yield();
}

// ---- destruction across CPUs ----------------------------------------------------------
alignas(16) char g_victim_stack[8192];
alignas(16) char g_waiter_stack[8192];
alignas(16) char g_after_stack[8192];
volatile uint64_t g_spins = 0, g_waiter_result = 0;

[[noreturn]] void spinner(uint64_t) {
  for (;;) __atomic_fetch_add(&g_spins, 1, __ATOMIC_RELAXED);  // never enters the kernel by itself
}

volatile uint64_t g_waiter_ready = 0;

[[noreturn]] void waiter(uint64_t) {
  sys::Message m;
  store(g_waiter_ready, 1);
  store(g_waiter_result, 100 + static_cast<uint64_t>(sys::Endpoint(kDoomedEp).recv(m)));
  finished();
  for (;;) (void)sys::yield();
}

[[noreturn]] void afterwards(uint64_t) {
  finished();
  for (;;) (void)sys::yield();
}

// Counts in a page of its own address space (arg: the counter's VA).
[[noreturn]] void counting_spinner(uint64_t va) {
  for (;;) __atomic_fetch_add(reinterpret_cast<volatile uint64_t*>(va), 1, __ATOMIC_RELAXED);
}

constexpr uint64_t kCounterVa = 0x5000'0000, kSpinnerStackVa = 0x5000'2000;
constexpr uint64_t kInitCounterVa = 0x5100'0000;  // the same page, as init sees it

// kVictimAs: init's text (copies of its frame capabilities, read-only), a
// counter page also mapped into init (at *init_va), and a stack page.
bool make_spinner_space(uint64_t* init_va) {
  const sys::CNode cnode(slot::kCNode);
  sys::LoadContext ctx{.cnode = slot::kCNode,
                       .untyped = kUt,
                       .caller_as = slot::kAddressSpace,
                       .scratch_va = 0,
                       .next_slot = kSpaceSlots,
                       .slot_limit = kSpaceSlotsEnd};
  const uint64_t text = 0x400000, text_pages = (reinterpret_cast<uint64_t>(__etext) - text + 4095) / 4096;
  bool ok = sys::Untyped(kUt).retype(ObjectType::kAddressSpace, 0, kVictimAs) == Error::kOk;
  for (uint64_t i = 0; ok && i < text_pages; ++i) {
    const uint64_t copy = ctx.next_slot++;
    ok = cnode.copy(copy, slot::kFirstFrame + i, abi::kRightRead) == Error::kOk &&
         sys::map_with_tables(ctx, copy, kVictimAs, text + i * 4096, abi::kMapExecute) == Error::kOk;
  }
  const uint64_t counter = ctx.next_slot++, counter2 = ctx.next_slot++, stack = ctx.next_slot++;
  ok = ok && sys::Untyped(kUt).retype(ObjectType::kFrame4K, 0, counter) == Error::kOk &&
       cnode.copy(counter2, counter, abi::kRightRead | abi::kRightWrite) == Error::kOk &&
       sys::Untyped(kUt).retype(ObjectType::kFrame4K, 0, stack) == Error::kOk &&
       sys::map_with_tables(ctx, counter, kVictimAs, kCounterVa, abi::kMapWrite) == Error::kOk &&
       sys::map_with_tables(ctx, stack, kVictimAs, kSpinnerStackVa, abi::kMapWrite) == Error::kOk &&
       sys::map_with_tables(ctx, counter2, slot::kAddressSpace, kInitCounterVa, 0) == Error::kOk;
  *init_va = kInitCounterVa;
  return ok;
}

void wait_spinning() {
  uint64_t before = load(g_spins);
  while (load(g_spins) == before) (void)sys::yield();
}

// A thread that is running on another CPU loses its thread object, then (a
// second one) its address space; the CPU carries on and runs a new thread.
void test_destruction(uint64_t cpu) {
  const sys::CNode cnode(slot::kCNode);
  bool ok = start_thread(kVictim, spinner, g_victim_stack, sizeof g_victim_stack, 0, cpu);
  wait_spinning();
  // Suspended while it runs there: it stops; started again, it runs again.
  ok = ok && sys::ThreadCap(kVictim).suspend() == Error::kOk;
  uint64_t after = load(g_spins);
  for (int i = 0; i < 2000; ++i) (void)sys::yield();
  bool stopped = ok && load(g_spins) == after;
  ok = ok && sys::ThreadCap(kVictim).start(reinterpret_cast<uint64_t>(spinner),
                                           reinterpret_cast<uint64_t>(g_victim_stack + sizeof g_victim_stack),
                                           0) == Error::kOk;
  if (ok) wait_spinning();
  g_checks.check(ok && stopped, "suspend_running_remote");
  ok = ok && cnode.remove(kVictim) == Error::kOk;  // destroyed while it runs there
  after = load(g_spins);
  for (int i = 0; i < 2000; ++i) (void)sys::yield();
  ok = ok && load(g_spins) == after;  // it no longer runs
  ok = ok && start_thread(kAfterwards, afterwards, g_after_stack, sizeof g_after_stack, 0, cpu);
  wait_done(1);
  g_checks.check(ok, "delete_running_remote");

  // An address space of its own (init's text, one shared counter page, a
  // stack) is destroyed while its thread runs in it over there.
  const sys::ThreadCap th(kVictim);
  uint64_t counter_va = 0;
  ok = make_spinner_space(&counter_va) && sys::Untyped(kUt).retype(ObjectType::kThread, 0, kVictim) == Error::kOk &&
       th.configure(slot::kCNode, kVictimAs, kPrio) == Error::kOk && th.set_affinity(cpu) == Error::kOk &&
       th.start(reinterpret_cast<uint64_t>(counting_spinner), kSpinnerStackVa + 4096, kCounterVa) == Error::kOk;
  const volatile uint64_t& counter = *reinterpret_cast<volatile uint64_t*>(counter_va);
  uint64_t before = load(counter);
  while (ok && load(counter) == before) (void)sys::yield();
  ok = ok && cnode.revoke(kVictimAs) == Error::kOk && cnode.remove(kVictimAs) == Error::kOk;  // destroyed
  (void)cnode.remove(kAfterwards);
  ok = ok && start_thread(kAfterwards, afterwards, g_after_stack, sizeof g_after_stack, 0, cpu);
  wait_done(1);
  after = load(counter);
  for (int i = 0; i < 2000; ++i) (void)sys::yield();
  g_checks.check(ok && load(counter) == after, "delete_address_space");
  (void)cnode.remove(kVictim);
  (void)cnode.remove(kAfterwards);

  // A thread blocked on another CPU, on an endpoint whose untyped is revoked.
  // (Nothing tells init the moment it blocks: if the revoke comes first, it
  // meets an empty slot instead, which proves nothing, and init tries again.)
  bool woken = false;
  for (int attempt = 0; attempt < 5 && !woken; ++attempt) {
    store(g_waiter_ready, 0);
    store(g_waiter_result, 0);
    ok = sys::Untyped(kUt).retype(ObjectType::kUntyped, 12, kDoomedUt) == Error::kOk &&
         sys::Untyped(kDoomedUt).retype(ObjectType::kEndpoint, 0, kDoomedEp) == Error::kOk &&
         start_thread(kWaiter, waiter, g_waiter_stack, sizeof g_waiter_stack, 0, cpu);
    while (ok && load(g_waiter_ready) == 0) (void)sys::yield();
    for (int i = 0; i < 100; ++i) (void)sys::yield();  // it blocks in Recv over there
    ok = ok && cnode.revoke(kDoomedUt) == Error::kOk;
    if (ok) wait_done(1);
    woken = ok && load(g_waiter_result) == 100 + static_cast<uint64_t>(Error::kObjectDestroyed);
    bool raced = load(g_waiter_result) == 100 + static_cast<uint64_t>(Error::kInvalidCapability);
    (void)cnode.remove(kWaiter);
    (void)cnode.remove(kDoomedUt);
    if (!woken && !raced) break;
  }
  g_checks.check(woken, "revoke_blocked_remote");
}

void test_ping_pong() {
  bool ok = sys::Untyped(kUt).retype(ObjectType::kEndpoint, 0, kPingEp) == Error::kOk &&
            start_thread(kPingServer, sys::echo_server, g_ping_server_stack, sizeof g_ping_server_stack, kPingEp,
                         g_cpus - 1) &&
            start_thread(kPingClient, ping_client, g_ping_client_stack, sizeof g_ping_client_stack, kPingRounds, 0);
  if (ok) wait_done(1);
  g_checks.check(ok && load(g_ping_ok) == 1, "cross_core_ping_pong");
  (void)sys::ThreadCap(kPingClient).suspend();
}

void test_stress() {
  // Pair p (one per CPU): its server on CPU p, its two clients on CPU p + 1
  // (mod N), so every round trip crosses CPUs and every CPU serves one pair.
  const sys::CNode cnode(slot::kCNode);
  bool ok = true;
  const uint64_t pairs = g_cpus;
  for (uint64_t p = 0; ok && p < pairs; ++p) {
    ok = sys::Untyped(kUt).retype(ObjectType::kEndpoint, 0, kStressEp + p) == Error::kOk &&
         start_thread(kStressServer + p, stress_server, g_stress_stacks[p], sizeof g_stress_stacks[p], p, p);
    for (uint64_t c = 0; ok && c < 2; ++c) {
      const uint64_t cap = kStressClientCap + 2 * p + c;
      ok = cnode.mint(cap, kStressEp + p, abi::kRightWrite, c + 1) == Error::kOk;
    }
  }
  uint64_t t0 = now_ns();
  for (uint64_t p = 0; ok && p < pairs; ++p) {
    for (uint64_t c = 0; ok && c < 2; ++c) {
      const uint64_t k = 2 * p + c;
      ok = start_thread(kStressClient + k, stress_client, g_stress_clients[k], sizeof g_stress_clients[k],
                        kStressClientCap + k, (p + 1) % g_cpus);
    }
  }
  if (ok) wait_done(2 * pairs);
  uint64_t ms = (now_ns() - t0) / 1000000;
  ok = ok && load(g_stress_bad) == 0 && load(g_stress_served) == 2 * pairs * kStressRounds;
  for (uint64_t p = 0; ok && p < pairs; ++p) {
    ok = g_expected[p][0] == kStressRounds && g_expected[p][1] == kStressRounds;
  }
  const uint64_t threads = 3 * pairs;
  sys::print("smp: stress: %llu threads on %llu CPUs, %llu round trips in %llu ms, %llu bad\n",
             static_cast<unsigned long long>(threads), static_cast<unsigned long long>(g_cpus),
             static_cast<unsigned long long>(load(g_stress_served)), static_cast<unsigned long long>(ms),
             static_cast<unsigned long long>(load(g_stress_bad)));
  g_checks.check(ok, "stress");
}

// ---- shared endpoint ----------------------------------------------------------------
constexpr uint64_t kSharedRounds = 250;  // per client (8 CPUs: 4000 round trips; the 2-core host is slow at 8)
// Stacks: init's image has room for no more, so these run on the stress
// clients' (suspended by then), 4 KiB each.
char* shared_stack(uint64_t i) { return g_stress_clients[i / 2] + 4096 * (i % 2); }
volatile uint64_t g_shared_bad = 0, g_shared_served = 0;
volatile uint64_t g_shared_expected[16];  // per client: the next sequence number

// A server of the shared endpoint (one per CPU): any client's request may
// come to any server; a client has one request in flight at a time, so its
// sequence is checked without a race.
[[noreturn]] void shared_server(uint64_t) {
  const sys::Endpoint ep(kSharedEp);
  sys::Message m;
  Error e = ep.recv(m);
  for (;;) {
    if (e != Error::kOk) {
      e = ep.recv(m);
      continue;
    }
    const uint64_t who = m.badge - 1;
    if (who >= 16 || m.mr[0] != g_shared_expected[who]) {
      __atomic_fetch_add(&g_shared_bad, 1, __ATOMIC_RELAXED);
    } else {
      store(g_shared_expected[who], m.mr[0] + 1);
    }
    __atomic_fetch_add(&g_shared_served, 1, __ATOMIC_RELAXED);
    m.mr[1] = m.mr[0] ^ (0x1000 + who);
    m.length = 2;
    e = ep.reply_recv(m, m);
  }
}

[[noreturn]] void shared_client(uint64_t k) {
  const sys::Endpoint ep(kSharedClientCap + k);
  for (uint64_t seq = 0; seq < kSharedRounds; ++seq) {
    sys::Message m;
    m.mr[0] = seq;
    m.length = 1;
    if (ep.call(m) != Error::kOk || m.mr[0] != seq || m.mr[1] != (seq ^ (0x1000 + k))) {
      __atomic_fetch_add(&g_shared_bad, 1, __ATOMIC_RELAXED);
    }
  }
  finished();
  for (;;) (void)sys::yield();
}

void test_shared_endpoint() {
  const sys::CNode cnode(slot::kCNode);
  bool ok = sys::Untyped(kUt).retype(ObjectType::kEndpoint, 0, kSharedEp) == Error::kOk;
  for (uint64_t k = 0; ok && k < 2 * g_cpus; ++k) ok = sys::ThreadCap(kStressClient + k).suspend() == Error::kOk;
  for (uint64_t p = 0; ok && p < g_cpus; ++p) {
    ok = start_thread(kSharedServer + p, shared_server, shared_stack(p), 4096, p, p);
  }
  const uint64_t clients = 2 * g_cpus;
  for (uint64_t k = 0; ok && k < clients; ++k) {
    ok = cnode.mint(kSharedClientCap + k, kSharedEp, abi::kRightWrite, k + 1) == Error::kOk &&
         start_thread(kSharedClient + k, shared_client, shared_stack(8 + k), 4096, k, k % g_cpus);
  }
  if (ok) wait_done(clients);
  ok = ok && load(g_shared_bad) == 0 && load(g_shared_served) == clients * kSharedRounds;
  for (uint64_t k = 0; ok && k < clients; ++k) ok = load(g_shared_expected[k]) == kSharedRounds;
  sys::print("smp: shared endpoint: %llu servers, %llu clients, %llu round trips, %llu bad\n",
             static_cast<unsigned long long>(g_cpus), static_cast<unsigned long long>(clients),
             static_cast<unsigned long long>(load(g_shared_served)),
             static_cast<unsigned long long>(load(g_shared_bad)));
  g_checks.check(ok, "shared_endpoint");
}

}  // namespace

int main() {
  const abi::InitBootInfo* info = sys::init_boot_info();
  g_cpus = info->cpus_online;
  sys::print("smp: %llu of %llu CPUs online\n", static_cast<unsigned long long>(g_cpus),
             static_cast<unsigned long long>(info->cpu_count));
  bool ok = sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 22, kUt) == Error::kOk &&
            sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kDone) == Error::kOk;
  if (!ok || g_cpus < 2) {
    sys::print("smp: needs at least 2 CPUs and 4 MiB\n");
    return 1;
  }
  g_checks.check(sys::ThreadCap(slot::kThread).set_affinity(g_cpus) == Error::kInvalidArgument &&
                     sys::ThreadCap(slot::kThread).set_affinity(99) == Error::kInvalidArgument,
                 "affinity_errors");
  test_ping_pong();
  sys::print("smp: cross-core round trip %llu ns (CPU 0 to CPU %llu)\n",
             static_cast<unsigned long long>(load(g_ping_ns)), static_cast<unsigned long long>(g_cpus - 1));
  test_stress();
  test_shared_endpoint();
  // (It starts on the last CPU: init, at a higher priority, spins on CPU 0.)
  ok = start_thread(kFpThread, fp_thread, g_fp_stack, sizeof g_fp_stack, 0, g_cpus - 1);
  while (ok && load(g_fp_phase) != 1) (void)sys::yield();
  ok = ok && sys::ThreadCap(kFpThread).set_affinity(0) == Error::kOk;
  store(g_fp_phase, 2);
  if (ok) wait_done(1);
  g_checks.check(ok && load(g_fp_result) == 1, "fp_migrates");
  test_destruction(g_cpus - 1);
  g_checks.summary("smp_test");
  return g_checks.failed() == 0 ? 0 : 1;
}
