// server_attacks — the servers' holes, tried by ordinary clients
// (system/attacks_servers.system, attacks_hog.system). One program, six tasks:
//   mem_hog       hole 8: maps one page at a time far apart, to use up the
//                 memory server's page tables, then holds them;
//   mem_leaver    hole 6: maps its own frame into a table the server made,
//                 then exits;
//   mem_victim    hole 6: gets the same tables next; hole 7: tries the token
//                 without and with a grant; a fake exit sent on its own
//                 pager endpoint;
//   mem_sharer    hole 7: shares a page, hands out the token, grants it;
//   mem_bystander hole 8: still gets tables while the hog holds its own;
//   console_pair  hole 5: two threads of one client write at once while the
//                 UART server pushes back.
#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/proto/console.h"
#include "keel/proto/memory.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"
#include "keel/text.h"
#include "keel/thread.h"
#include "kernel/lib/fmt.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace mem = keel::memory;
namespace slot = keel::abi::task_slot;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kX = 0x7000'0000;  // the page the server maps; its table also covers kX + kPage
constexpr uint64_t kShared = 0x7100'0000;
constexpr uint64_t kMarker = 0x5ec2e7'5ec2e7ull;
const sys::Endpoint server(slot::kMemory);
const sys::Endpoint channel(slot::kChannel);
const sys::CNode self(slot::kCNode);
sys::Checks g_checks("security");

void check(bool ok, const char* what, Error e = Error::kOk) { g_checks.check(ok, what, e); }
volatile uint64_t* word(uint64_t va) { return reinterpret_cast<volatile uint64_t*>(va); }

bool info_of(const char* name, mem::ClientInfo* out) {
  for (uint64_t k = 0; mem::client(server, k, out) == Error::kOk; ++k) {
    if (sys::streq(out->name, name)) return true;
  }
  return false;
}

sys::Message word_message(uint64_t label, uint64_t w) {
  sys::Message m;
  m.label = label;
  m.mr[0] = w;
  m.length = 1;
  return m;
}

// ---- mem_hog -----------------------------------------------------------------------
int hog() {
  // One page (its quota is two) at a new gigabyte each time: every round
  // needs two fresh page tables, which stay in its space after the unmap.
  uint64_t rounds = 0;
  Error e = Error::kOk;
  for (; rounds < 400; ++rounds) {
    const uint64_t va = 0x10'0000'0000ull + rounds * (1ull << 30);
    e = mem::map(server, va, 1, abi::kMapWrite);
    if (e != Error::kOk) break;
    (void)mem::unmap(server, va, 1);
  }
  sys::print("mem_hog: refused after %llu rounds (%s)\n", static_cast<unsigned long long>(rounds), abi::error_name(e));
  check(e == Error::kNotEnoughMemory && rounds * 2 <= mem::kMaxTablesPerClient,
        "hole 8: a client's page tables are limited to its own share", e);
  g_checks.summary("mem_hog");
  // Holds what it has for as long as the system runs.
  Error w = sys::Untyped(slot::kUntyped).retype(ObjectType::kNotification, 0, slot::kFirstFree);
  uint64_t bits = 0;
  for (;;) (void)sys::Notification(slot::kFirstFree).wait(&bits), (void)w;
}

// ---- mem_leaver ------------------------------------------------------------------------
int leaver() {
  // Hole 6: the server maps kX (making the tables); we put a frame of our
  // own into the same level-3 table, through our own address-space
  // capability, and exit: the server takes its tables back.
  constexpr uint64_t kFrame = slot::kFirstFree;
  Error e = mem::map(server, kX, 1, abi::kMapWrite);
  if (e == Error::kOk) e = sys::Untyped(slot::kUntyped).retype(ObjectType::kFrame4K, 0, kFrame);
  if (e == Error::kOk) e = sys::FrameCap(kFrame).map(slot::kAddressSpace, kX + kPage, abi::kMapWrite);
  if (e == Error::kOk) *word(kX + kPage) = kMarker;
  check(e == Error::kOk, "hole 6: a client maps its own page into a table the server made", e);
  g_checks.summary("mem_leaver");
  return 0;
}

// ---- mem_sharer ------------------------------------------------------------------------
int sharer() {
  sys::Message m;
  Error e = channel.recv(m);  // the victim says when (after its hole-6 check)
  // Hole 7: a share, its token handed out before any grant.
  uint64_t token = 0;
  if (e == Error::kOk) e = mem::share(server, kShared, 1, abi::kMapWrite, &token);
  if (e == Error::kOk) *word(kShared) = kMarker;
  m = word_message(1, token);
  if (e == Error::kOk) e = channel.send(m);  // the victim tries it without a grant
  if (e == Error::kOk) e = channel.recv(m);
  mem::ClientInfo victim{};
  if (e == Error::kOk) e = info_of("mem_victim", &victim) ? Error::kOk : Error::kInvalidArgument;
  if (e == Error::kOk) e = mem::grant(server, token, victim.id, 0);  // read-only
  Error other = mem::grant(server, token, 0, abi::kMapWrite);
  check(e == Error::kOk && other == Error::kInvalidArgument, "hole 7: the creator grants a share to one client", e);
  m = word_message(2, token);  // and now with one (sent whatever happened)
  (void)channel.send(m);
  (void)channel.recv(m);
  g_checks.summary("mem_sharer");
  return 0;
}

// ---- mem_victim ------------------------------------------------------------------------
void wait_gone(const char* name) {
  mem::ClientInfo c{};
  for (int i = 0; i < 100000 && (!info_of(name, &c) || c.alive); ++i) (void)sys::yield();
}

int victim() {
  // Hole 6: the leaver has exited (it runs above us) and its tables went
  // back to the pool. Our first request needs a table at every level: we
  // get the pool's, the leaver's level-3 table among them. The page it put
  // next to kX must not be there.
  wait_gone("mem_leaver");
  mem::ClientInfo leaver_info{};
  check(info_of("mem_leaver", &leaver_info) && !leaver_info.alive,
        "hole 6: the other client has exited and been reclaimed");
  constexpr uint64_t kProbe = slot::kFirstFree;
  Error e = mem::map(server, kX, 1, abi::kMapWrite);
  Error probe = Error::kOk;
  if (e == Error::kOk) e = sys::Untyped(slot::kUntyped).retype(ObjectType::kFrame4K, 0, kProbe);
  if (e == Error::kOk) probe = sys::FrameCap(kProbe).map(slot::kAddressSpace, kX + kPage, 0);
  check(e == Error::kOk && probe == Error::kOk,
        "hole 6: a table the server hands out holds no page of its previous client", probe);

  // Hole 7: the token alone attaches nothing.
  sys::Message m;
  e = channel.send(word_message(0, 0));  // go
  if (e == Error::kOk) e = channel.recv(m);
  const uint64_t token = m.mr[0];
  Error guess = mem::attach(server, token, kShared, abi::kMapWrite);
  Error guess_ro = mem::attach(server, token, kShared, 0);
  check(e == Error::kOk && guess == Error::kInsufficientRights && guess_ro == Error::kInsufficientRights,
        "hole 7: a share's token alone attaches nothing", guess);
  (void)channel.send(word_message(0, 0));
  e = channel.recv(m);  // granted (read-only) now
  Error write = mem::attach(server, token, kShared, abi::kMapWrite);
  Error read = mem::attach(server, token, kShared, 0);
  check(e == Error::kOk && write == Error::kInsufficientRights && read == Error::kOk && *word(kShared) == kMarker,
        "hole 7: a granted client attaches with the rights granted, no more", write);
  (void)channel.send(word_message(0, 0));

  // The pager endpoint is in our CNode (the kernel looks it up there): a
  // message on it that claims to be our exit is refused, not believed.
  sys::Message fake = word_message(abi::kFaultExit, 0);
  Error claimed = sys::Endpoint(slot::kPager).call(fake);
  if (claimed == Error::kOk) claimed = static_cast<Error>(fake.label);
  mem::ClientInfo me{};
  check(claimed == Error::kInvalidCapability && info_of("mem_victim", &me) && me.alive,
        "a client cannot send itself a fake exit on its pager endpoint", claimed);

  // Mint refuses the kernel's fault mark on a badge.
  Error mint = self.mint(slot::kFirstFree + 1, slot::kChannel, abi::kRightWrite, abi::kFaultBadge | 1);
  check(mint == Error::kInvalidArgument, "no capability carries the kernel's fault-badge bit", mint);
  g_checks.summary("mem_victim");
  return 0;
}

// ---- mem_bystander -------------------------------------------------------------------
int bystander() {
  // Hole 8: the hog (above us) holds every table it could get; we still
  // get ours, in a region that needs new ones at every level.
  Error e = mem::map(server, 0x20'0000'0000ull, 1, abi::kMapWrite);
  if (e == Error::kOk) e = mem::map(server, 0x30'0000'0000ull, 1, abi::kMapWrite);
  check(e == Error::kOk, "hole 8: another client's table exhaustion does not reach us", e);
  g_checks.summary("mem_bystander");
  return 0;
}

// ---- console_pair ------------------------------------------------------------------------
alignas(16) uint8_t g_stack[8192];
alignas(4096) abi::IpcBuffer g_ipc2;           // the second thread's own IPC buffer (long writes travel through it)
sys::Completion g_done(slot::kFirstFree + 1);  // (a notification: the waiter blocks, it does not spin above the server)
uint64_t g_failed_writes = 0;

void write_lines(uint64_t who) {
  if (who == 2) sys::set_ipc_buffer_pointer(&g_ipc2);
  // 40 lines of 70 bytes: more than the 1 KiB buffer, so one thread's write
  // waits while the other writes.
  for (int i = 0; i < 40; ++i) {
    char line[96];
    size_t n = keel::snformat(line, sizeof line, "pair%llu: line %d of 40 %s\n", static_cast<unsigned long long>(who),
                              i + 1, "..................................................");
    Error e = keel::console::write(sys::Endpoint(slot::kConsole), line, n);
    if (e != Error::kOk) __atomic_fetch_add(&g_failed_writes, 1, __ATOMIC_ACQ_REL);
  }
  if (who == 2) {
    g_done.finished();
    uint64_t bits = 0;
    for (;;) (void)sys::Notification(slot::kFirstFree + 2).wait(&bits);
  }
}

int pair() {
  // Above the UART server and with a 1 KiB transmit buffer: both threads
  // meet back-pressure, each while the other one's write waits.
  Error e = sys::Untyped(slot::kUntyped).retype(ObjectType::kNotification, 0, slot::kFirstFree + 1, 2);
  if (e == Error::kOk) {
    e = sys::start_thread(sys::ThreadSpec{.untyped = slot::kUntyped,
                                          .slot = slot::kFirstFree,
                                          .priority = static_cast<unsigned>(abi::start_info()->priority),
                                          .entry = write_lines,
                                          .stack_top = reinterpret_cast<uint64_t>(g_stack + sizeof g_stack),
                                          .arg = 2,
                                          .ipc_buffer = reinterpret_cast<uint64_t>(&g_ipc2)});
  }
  write_lines(1);
  if (e == Error::kOk) g_done.wait_for(1);
  const uint64_t failed = __atomic_load_n(&g_failed_writes, __ATOMIC_ACQUIRE);
  check(e == Error::kOk && failed == 0, "hole 5: two threads of one client write at once; every write is answered",
        failed != 0 ? Error::kInvalidArgument : e);
  g_checks.summary("console_pair");
  return 0;
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const char* name = abi::start_info()->name;
  if (sys::streq(name, "mem_hog")) return hog();
  if (sys::streq(name, "mem_sharer")) return sharer();
  if (sys::streq(name, "mem_leaver")) return leaver();
  if (sys::streq(name, "mem_victim")) return victim();
  if (sys::streq(name, "console_pair")) return pair();
  if (sys::streq(name, "mem_bystander")) return bystander();
  sys::print("server_attacks: unknown task %s\n", name);
  return 1;
}
