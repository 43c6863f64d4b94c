// memory_test — the memory server, tested over IPC from a client task.
// One program, three tasks (system/memory_test.system, keel.system):
//   memory_wild  faults inside a declared region (served), then outside every
//                region: the server stops it and reclaims its pages;
//   memory_peer  attaches the pages memory_test shares over their channel;
//   memory_test  map/unmap, quotas, region faults, malformed requests,
//                shared memory, and the reclaim of the other two.
#include "keel/proto/memory.h"

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
namespace mem = keel::memory;
namespace slot = keel::abi::task_slot;

constexpr uint64_t kPage = 4096;
const sys::Endpoint server(slot::kMemory);
sys::Checks g_checks("memory");

void check(bool ok, const char* what, Error e = Error::kOk) { g_checks.check(ok, what, e); }
using sys::streq;

volatile uint64_t* word(uint64_t va) { return reinterpret_cast<volatile uint64_t*>(va); }

bool info_of(const char* name, mem::ClientInfo* out) {
  for (uint64_t k = 0; mem::client(server, k, out) == Error::kOk; ++k) {
    if (streq(out->name, name)) return true;
  }
  return false;
}

bool self_info(mem::ClientInfo* out) { return info_of(abi::start_info()->name, out); }

// Yields until the memory server reports client `name` gone (bounded).
// False if it never appeared: it was not started with this task (the
// console's `run memory_test` starts only the task and its channel peer).
bool wait_gone(const char* name) {
  mem::ClientInfo c{};
  int absent = 0;
  for (int i = 0; i < 100000; ++i) {
    if (info_of(name, &c)) {
      if (!c.alive) return true;
    } else if (++absent > 200) {
      return false;
    }
    (void)sys::yield();
  }
  return true;
}

Error raw(uint64_t label, uint64_t length, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  sys::Message m = mem::message(static_cast<mem::Label>(label), a, b, c);
  m.length = length;
  return mem::request(server, m);
}

[[noreturn]] void wild() {
  constexpr uint64_t kRegion = 0x5000'0000;
  Error e = mem::region(server, kRegion, 4 * kPage, abi::kMapWrite);
  *word(kRegion + kPage) = 42;  // a fault inside the region: a zero page appears
  sys::print("memory_wild: region fault served: %s\n", e == Error::kOk && *word(kRegion + kPage) == 42 ? "yes" : "no");
  *word(0x6000'0000) = 1;  // outside every region: the server stops this task
  sys::print("memory_wild: FAIL: still running after a fault outside every region\n");
  for (;;) sys::yield();
}

int peer() {
  const sys::Endpoint channel(slot::kChannel);
  constexpr uint64_t kAt = 0x7100'0000;
  sys::Message m;
  Error e = channel.recv(m);
  if (e == Error::kOk) e = mem::attach(server, m.mr[0], kAt, abi::kMapWrite);
  bool seen = e == Error::kOk && *word(kAt) == 0x6d656d6f72792121ull;  // what memory_test wrote
  if (seen) *word(kAt + kPage) = 0x7065657221ull;                      // an answer in the second page
  sys::Message r;                                                      // the answer travels back on the same channel
  r.label = seen ? 0 : 1;
  r.length = 0;
  (void)channel.send(r);
  return seen ? 0 : 1;
}

void tests() {
  mem::ClientInfo me{};
  // 1. map / unmap.
  constexpr uint64_t kVa = 0x4000'0000;
  Error e = mem::map(server, kVa, 4, abi::kMapWrite);
  bool zero = e == Error::kOk && *word(kVa) == 0 && *word(kVa + 3 * kPage + 8) == 0;
  if (zero) *word(kVa + 2 * kPage) = 0x1234;
  check(zero && *word(kVa + 2 * kPage) == 0x1234, "map gives zeroed writable pages", e);
  check(self_info(&me) && me.pages == 4, "pages held counted");
  e = mem::unmap(server, kVa, 4);
  check(e == Error::kOk && self_info(&me) && me.pages == 0, "unmap frees them", e);
  e = mem::unmap(server, kVa, 4);
  check(e == Error::kInvalidAddress, "unmapping what is not mapped is refused", e);
  e = mem::map(server, kVa, 4, abi::kMapWrite);  // the same frames again (the free list)
  bool clean = e == Error::kOk;
  for (uint64_t i = 0; clean && i < 4; ++i) clean = *word(kVa + i * kPage) == 0;
  check(clean, "reused pages are zero again", e);
  (void)mem::unmap(server, kVa, 4);

  // 2. quota (256 KiB = 64 pages).
  e = mem::map(server, kVa, 64, abi::kMapWrite);
  if (e == Error::kOk) *word(kVa + 63 * kPage) = 7;
  Error over = mem::map(server, kVa + 64 * kPage, 1, abi::kMapWrite);
  check(e == Error::kOk && over == Error::kNotEnoughMemory, "a request beyond the quota is refused", over);
  check(self_info(&me) && me.pages == 64 && *word(kVa + 63 * kPage) == 7, "a refused request changes nothing");
  (void)mem::unmap(server, kVa, 64);

  // 3. on-demand regions.
  constexpr uint64_t kRegion = 0x5000'0000;
  e = mem::region(server, kRegion, 16 * kPage, abi::kMapWrite);
  for (uint64_t i = 0; i < 3; ++i) *word(kRegion + i * 4 * kPage) = i + 1;
  check(e == Error::kOk && self_info(&me) && me.faults == 3 && me.pages == 3 && *word(kRegion + 8 * kPage) == 3,
        "faults inside a region map zero pages", e);
  e = mem::region(server, kRegion + 8 * kPage, kPage, 0);
  check(e == Error::kInvalidAddress, "overlapping regions are refused", e);

  // 4. malformed requests.
  check(raw(99, 3) == Error::kInvalidArgument, "unknown request");
  check(raw(mem::kMap, 1, kVa) == Error::kInvalidArgument, "short message");
  check(mem::map(server, kVa + 12, 1, 0) == Error::kInvalidAddress, "unaligned address");
  check(mem::map(server, 0xffff'0000'0000'0000ull, 1, 0) == Error::kInvalidAddress, "kernel address");
  check(mem::map(server, abi::kUserLimit - kPage, 2, 0) == Error::kInvalidAddress, "range past user space");
  check(mem::map(server, kVa, 0, 0) == Error::kInvalidArgument, "zero pages");
  check(mem::map(server, kVa, mem::kMaxPages + 1, 0) == Error::kInvalidArgument, "too many pages");
  check(mem::map(server, kVa, 1, abi::kMapExecute) == Error::kInvalidArgument, "executable pages");
  check(mem::map(server, 0x400000, 1, 0) == Error::kInvalidAddress, "over its own program");
  check(raw(mem::kRegister, 4, 5, 100) == Error::kInsufficientRights, "init-only request");
  check(mem::attach(server, 0x1234500, kVa, 0) == Error::kInvalidArgument, "made-up share token");
  check(self_info(&me) && me.pages == 3, "nothing changed by refused requests");

  // 5. shared memory with memory_peer (over the channel init made).
  constexpr uint64_t kShared = 0x7000'0000;
  uint64_t token = 0;
  e = mem::share(server, kShared, 2, abi::kMapWrite, &token);
  if (e == Error::kOk) *word(kShared) = 0x6d656d6f72792121ull;
  mem::ClientInfo peer_info{};  // the token names the share; the grant lets the peer attach
  if (e == Error::kOk) e = info_of("memory_peer", &peer_info) ? Error::kOk : Error::kInvalidArgument;
  if (e == Error::kOk) e = mem::grant(server, token, peer_info.id, abi::kMapWrite);
  // (memory_peer has the higher priority: it runs as soon as the token
  // arrives, answers, and exits before this continues.)
  const sys::Endpoint channel(slot::kChannel);
  sys::Message m;
  m.label = 1;
  m.mr[0] = token;
  m.length = 1;
  Error ce = e == Error::kOk ? channel.send(m) : e;
  if (ce == Error::kOk) ce = channel.recv(m);
  check(ce == Error::kOk && m.label == 0 && *word(kShared + kPage) == 0x7065657221ull,
        "pages shared with another client, both ways", ce);

  // 6. reclaim: the peer has exited, memory_wild was stopped. (On one CPU
  // both happened already; when the system puts them on other CPUs, wait.)
  wait_gone("memory_peer");
  const bool wild_ran = wait_gone("memory_wild");
  mem::ClientInfo other{};
  check(info_of("memory_peer", &other) && !other.alive && !other.killed && other.exit_code == 0 && other.pages == 0,
        "an exited client's pages are reclaimed");
  if (wild_ran) {
    check(info_of("memory_wild", &other) && !other.alive && other.killed && other.pages == 0 && other.faults == 1,
          "a fault outside every region stops the client and reclaims");
  } else {
    g_checks.report(true, "a fault outside every region stops the client and reclaims",
                    "not checked: memory_wild was not started with this run");
  }
  check(*word(kShared) == 0x6d656d6f72792121ull, "shared pages outlive the peer's exit");
  mem::Stats st{};
  check(mem::stats(server, &st) == Error::kOk && st.managed > 0 && st.free < st.managed, "statistics");
  g_checks.summary("memory_test");
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const char* name = abi::start_info()->name;
  if (streq(name, "memory_wild")) wild();
  if (streq(name, "memory_peer")) return peer();
  tests();
  return g_checks.failed() == 0 ? 0 : 1;
}
