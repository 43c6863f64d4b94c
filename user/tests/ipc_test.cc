// ipc_test — runs as init in a test image and exercises the kernel through
// its ABI: IPC ping-pong, badges, non-blocking send, revoke while blocked, and
// the error path of every syscall it can reach. Prints one line per test,
// "TEST <name>: PASS" or "TEST <name>: FAIL: <why>", then the summary
// (keel/testing.h).
#include "keel/sys.h"
#include "keel/testing.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

namespace {

// Slots this test uses in init's CNode (see abi.h init_slot for the rest).
constexpr uint64_t kScratchUntyped = 300;  // 1 MiB carved from the first untyped
constexpr uint64_t kEp = 301;
constexpr uint64_t kEpBadge7 = 302;
constexpr uint64_t kEpBadge9 = 303;
constexpr uint64_t kEpIdle = 304;
constexpr uint64_t kServer = 305;
constexpr uint64_t kSmallUntyped = 306;  // holds the endpoint revoked under a waiter
constexpr uint64_t kDoomedEp = 307;
constexpr uint64_t kWaiter = 308;
constexpr uint64_t kWriteOnly = 309;
constexpr uint64_t kFaultEp = 311;        // init receives its test threads' faults here
constexpr uint64_t kFaultEpBadged = 312;  // the same, badge 5: names the faulter
constexpr uint64_t kFaulter = 313;
constexpr uint64_t kFixTable = 314;  // the L3 table init maps to fix the fault
constexpr uint64_t kFixFrame = 315;
constexpr uint64_t kNtfn = 316;
constexpr uint64_t kNtfnBadge2 = 317;
constexpr uint64_t kLow = 318;
constexpr uint64_t kHigh = 319;
constexpr uint64_t kPrioEp = 321;
constexpr uint64_t kDoneNtfn = 322;
constexpr uint64_t kXferEp = 323;    // grant right: carries a capability
constexpr uint64_t kXferNtfn = 324;  // the capability that travels
constexpr uint64_t kCapReceiver = 325;
constexpr uint64_t kGotCap = 326;  // where the receiver's capability lands
constexpr uint64_t kXferEpNoGrant = 327;
constexpr uint64_t kSpare = 290;            // 290..295: scratch slots for the error cases
constexpr uint64_t kFaultVa = 0x1000'0000;  // unmapped in init's address space

const sys::CNode cnode(slot::kCNode);

alignas(16) char server_stack[8192];
alignas(16) char waiter_stack[8192];
volatile uint64_t waiter_result = ~0ull;
alignas(16) char faulter_stack[8192];
volatile uint64_t faulter_syscall_result = ~0ull;
volatile uint64_t faulter_done = 0;

sys::Checks g_checks;

void report(const char* name, bool ok, const char* why = "") {
  if (ok) {
    g_checks.check(true, name);
  } else {
    g_checks.report(false, name, "%s", why);
  }
}

// Echo server: replies with (mr0 + 1, the badge it saw).
[[noreturn]] void server_main(uint64_t ep_slot) {
  sys::Endpoint ep(ep_slot);
  sys::Message m;
  Error e = ep.recv(m);
  for (;;) {
    if (e != Error::kOk) {
      sys::print("server: recv failed: %s\n", keel::abi::error_name(e));
      for (;;) sys::yield();
    }
    sys::Message reply{.label = 0, .length = 2, .mr = {m.mr[0] + 1, m.badge}};
    e = ep.reply_recv(reply, m);
  }
}

// Blocks in Recv on an endpoint that the test then destroys.
[[noreturn]] void waiter_main(uint64_t ep_slot) {
  sys::Message m;
  waiter_result = static_cast<uint64_t>(sys::Endpoint(ep_slot).recv(m));
  for (;;) sys::yield();
}

// Writes to an unmapped page (a memory fault), then makes an unknown
// syscall (a fault too, since it has a fault endpoint).
[[noreturn]] void faulter_main(uint64_t) {
  *reinterpret_cast<volatile uint64_t*>(kFaultVa) = 0x6b65656c;
  faulter_syscall_result = static_cast<uint64_t>(sys::syscall(4242).error);
  faulter_done = 1;
  // Tell init, through the fault endpoint itself (a plain message, label 99).
  (void)sys::Endpoint(kFaultEpBadged).send(sys::Message{.label = 99, .length = 1, .mr = {faulter_syscall_result}});
  for (;;) sys::yield();
}

alignas(16) char low_stack[8192];
alignas(16) char high_stack[8192];
volatile uint64_t order_log[4];
volatile uint64_t order_len = 0;

void log_step(uint64_t step) {
  uint64_t n = order_len;
  order_log[n] = step;
  order_len = n + 1;
}

// Priority 200: waits for a message; when low's Send wakes it, it must run
// before low continues.
[[noreturn]] void high_main(uint64_t) {
  sys::Message m;
  (void)sys::Endpoint(kPrioEp).recv(m);
  log_step(1);
  (void)sys::Notification(kDoneNtfn).signal();
  for (;;) (void)sys::Endpoint(kPrioEp).recv(m);
}

// Priority 100: sends to high, then logs.
[[noreturn]] void low_main(uint64_t) {
  (void)sys::Endpoint(kPrioEp).send(sys::Message{.length = 0});
  log_step(2);
  (void)sys::Notification(kDoneNtfn).signal();
  for (;;) sys::yield();
}

alignas(4096) keel::abi::IpcBuffer receiver_ipc_buffer;
alignas(16) char receiver_stack[8192];

// Receives a capability and proves it holds it: signals through it.
[[noreturn]] void cap_receiver_main(uint64_t) {
  sys::set_ipc_buffer_pointer(&receiver_ipc_buffer);
  receiver_ipc_buffer.receive_slot = kGotCap;
  sys::Message m;
  Error e = sys::Endpoint(kXferEp).recv(m);
  if (e == Error::kOk && m.caps == 1) (void)sys::Notification(kGotCap).signal();
  for (;;) (void)sys::Endpoint(kXferEp).recv(m);
}

uint64_t stack_top(char* stack, uint64_t size) { return reinterpret_cast<uint64_t>(stack) + size; }

bool start_thread(uint64_t thread_slot, void (*entry)(uint64_t), char* stack, uint64_t size, uint64_t arg,
                  unsigned prio, uint64_t fault_ep = 0) {
  sys::ThreadCap th(thread_slot);
  return sys::Untyped(kScratchUntyped).retype(ObjectType::kThread, 0, thread_slot) == Error::kOk &&
         th.configure(slot::kCNode, slot::kAddressSpace, prio, fault_ep) == Error::kOk &&
         th.start(reinterpret_cast<uint64_t>(entry), stack_top(stack, size), arg) == Error::kOk;
}

void test_ping_pong() {
  sys::Endpoint ep(kEp);
  constexpr int kRounds = 2000;
  for (int i = 0; i < kRounds; ++i) {
    sys::Message m{.label = 1, .length = 1, .mr = {static_cast<uint64_t>(i)}};
    Error e = ep.call(m);
    if (e != Error::kOk || m.mr[0] != static_cast<uint64_t>(i) + 1 || m.length != 2) {
      sys::print("  round %d: error %s, mr0 %llu\n", i, keel::abi::error_name(e), (unsigned long long)m.mr[0]);
      report("ping_pong", false, "wrong reply");
      return;
    }
  }
  report("ping_pong", true);
}

void test_badges() {
  bool ok = cnode.mint(kEpBadge7, kEp, keel::abi::kRightWrite, 7) == Error::kOk &&
            cnode.mint(kEpBadge9, kEp, keel::abi::kRightWrite, 9) == Error::kOk;
  sys::Message a{.length = 1, .mr = {100}}, b{.length = 1, .mr = {200}}, c{.length = 1, .mr = {300}};
  ok = ok && sys::Endpoint(kEpBadge7).call(a) == Error::kOk && sys::Endpoint(kEpBadge9).call(b) == Error::kOk &&
       sys::Endpoint(kEp).call(c) == Error::kOk;
  ok = ok && a.mr[1] == 7 && b.mr[1] == 9 && c.mr[1] == 0 && a.mr[0] == 101 && b.mr[0] == 201;
  // A badge is never changed by minting again.
  ok = ok && cnode.mint(kSpare, kEpBadge7, keel::abi::kRightWrite, 8) == Error::kInvalidArgument;
  report("badges", ok, "badge not delivered as minted");
}

void test_nb_send() {
  sys::Message m{.length = 0};
  report("nb_send_without_receiver", sys::Endpoint(kEpIdle).nb_send(m) == Error::kWouldBlock, "expected would block");
}

void test_revoke_while_blocked() {
  // If a tick preempts the waiter before it reaches Recv (a loaded host makes
  // the 10 ms tick land anywhere), init revokes first and the waiter meets
  // an empty slot instead: that attempt proves nothing and is repeated.
  bool ok = false;
  Error e = Error::kOk;
  for (int attempt = 0; attempt < 5 && !ok; ++attempt) {
    waiter_result = ~0ull;
    bool set_up = sys::Untyped(kScratchUntyped).retype(ObjectType::kUntyped, 14, kSmallUntyped) == Error::kOk &&
                  sys::Untyped(kSmallUntyped).retype(ObjectType::kEndpoint, 0, kDoomedEp) == Error::kOk &&
                  start_thread(kWaiter, waiter_main, waiter_stack, sizeof waiter_stack, kDoomedEp,
                               keel::abi::kMaxPriority);  // init's own priority: yield hands it the CPU
    if (!set_up) {
      report("revoke_while_blocked", false, "setup failed");
      return;
    }
    sys::yield();  // the waiter runs and blocks in Recv
    e = cnode.revoke(kSmallUntyped);
    sys::yield();  // the waiter wakes with kObjectDestroyed and records it
    ok = e == Error::kOk && waiter_result == static_cast<uint64_t>(Error::kObjectDestroyed);
    bool raced = waiter_result == static_cast<uint64_t>(Error::kInvalidCapability);
    // Its job is done; at init's priority its yield loop would starve the
    // lower-priority threads of later tests.
    (void)sys::ThreadCap(kWaiter).suspend();
    (void)cnode.remove(kWaiter);
    (void)cnode.remove(kSmallUntyped);
    if (!ok && !raced) break;
  }
  // The endpoint's slot is empty now: using it is an invalid capability.
  sys::Message m;
  ok = ok && sys::Endpoint(kDoomedEp).nb_send(m) == Error::kInvalidCapability;
  report("revoke_while_blocked", ok, "waiter not woken with object destroyed");
}

// A memory fault and an unknown syscall reach the fault endpoint as
// messages; init fixes the first by mapping a page, and both replies resume
// the thread.
void test_fault_delivery() {
  sys::Untyped ut(kScratchUntyped);
  bool ok = ut.retype(ObjectType::kEndpoint, 0, kFaultEp) == Error::kOk &&
            cnode.mint(kFaultEpBadged, kFaultEp, keel::abi::kRightWrite, 5) == Error::kOk &&
            start_thread(kFaulter, faulter_main, faulter_stack, sizeof faulter_stack, 0, keel::abi::kMaxPriority,
                         kFaultEpBadged);
  sys::Endpoint fault_ep(kFaultEp);
  sys::Message m;
  ok = ok && fault_ep.recv(m) == Error::kOk;  // init blocks; the faulter runs and faults
  bool memory_fault_ok = ok && m.label == keel::abi::kFaultMemory && m.badge == (5 | keel::abi::kFaultBadge) &&
                         m.mr[1] == kFaultVa && ((m.mr[0] >> 26) & 0x3f) == 0x24 && m.length == 4;
  if (!memory_fault_ok) {
    sys::print("  fault message: label %llu badge %llu ESR 0x%llx FAR 0x%llx\n", (unsigned long long)m.label,
               (unsigned long long)m.badge, (unsigned long long)m.mr[0], (unsigned long long)m.mr[1]);
  }
  // Fix it: an L3 table and a frame at the faulting address (init's L1/L2
  // tables already cover it), then reply to resume the faulter.
  ok = memory_fault_ok && ut.retype(ObjectType::kPageTable, 0, kFixTable) == Error::kOk &&
       sys::PageTableCap(kFixTable).map(slot::kAddressSpace, kFaultVa, 3) == Error::kOk &&
       ut.retype(ObjectType::kFrame4K, 0, kFixFrame) == Error::kOk &&
       sys::FrameCap(kFixFrame).map(slot::kAddressSpace, kFaultVa, keel::abi::kMapWrite) == Error::kOk;
  sys::Message empty;
  ok = ok && fault_ep.reply_recv(empty, m) == Error::kOk;  // resumes it; it retries, then faults again
  bool syscall_fault_ok = ok && m.label == keel::abi::kFaultUnknownSyscall && m.badge == (5 | keel::abi::kFaultBadge);
  // Reply to resume it; it then reports through a plain message.
  ok = syscall_fault_ok && fault_ep.reply_recv(empty, m) == Error::kOk && m.label == 99 &&
       m.mr[0] == static_cast<uint64_t>(Error::kUnknownSyscall) && faulter_done == 1 &&
       *reinterpret_cast<volatile uint64_t*>(kFaultVa) == 0x6b65656c;
  ok = ok && sys::ThreadCap(kFaulter).suspend() == Error::kOk;
  report("fault_delivery", ok, "fault message wrong or thread not resumed");
}

void test_notifications() {
  sys::Untyped ut(kScratchUntyped);
  sys::Notification n(kNtfn);
  uint64_t word = 99;
  bool ok = ut.retype(ObjectType::kNotification, 0, kNtfn) == Error::kOk &&
            cnode.mint(kNtfnBadge2, kNtfn, keel::abi::kRightWrite, 2) == Error::kOk && n.poll(&word) == Error::kOk &&
            word == 0 && sys::Notification(kNtfnBadge2).signal() == Error::kOk && n.signal() == Error::kOk &&
            n.wait(&word) == Error::kOk && word == 3 &&
            sys::Notification(kNtfnBadge2).wait(&word) == Error::kInsufficientRights;
  report("notifications", ok, "signal/wait/poll words wrong");
}

// A Send that wakes a higher-priority thread hands it the CPU at once.
void test_priority_preemption() {
  sys::Untyped ut(kScratchUntyped);
  bool ok = ut.retype(ObjectType::kEndpoint, 0, kPrioEp) == Error::kOk &&
            ut.retype(ObjectType::kNotification, 0, kDoneNtfn) == Error::kOk &&
            start_thread(kHigh, high_main, high_stack, sizeof high_stack, 0, 200) &&
            start_thread(kLow, low_main, low_stack, sizeof low_stack, 0, 100);
  uint64_t word = 0;
  while (ok && order_len < 2) {  // init (255) waits; high (200) and low (100) run meanwhile
    ok = sys::Notification(kDoneNtfn).wait(&word) == Error::kOk;
  }
  ok = ok && order_len == 2 && order_log[0] == 1 && order_log[1] == 2;
  report("priority_preemption", ok, "the woken higher-priority thread did not run first");
}

// A capability sent with a message (grant right) arrives in the receiver's
// receive slot and works there.
void test_cap_transfer() {
  sys::Untyped ut(kScratchUntyped);
  bool ok = ut.retype(ObjectType::kEndpoint, 0, kXferEp) == Error::kOk &&
            ut.retype(ObjectType::kNotification, 0, kXferNtfn) == Error::kOk &&
            cnode.copy(kXferEpNoGrant, kXferEp, keel::abi::kRightWrite) == Error::kOk &&
            ut.retype(ObjectType::kThread, 0, kCapReceiver) == Error::kOk;
  sys::ThreadCap rx(kCapReceiver);
  ok = ok && rx.configure(slot::kCNode, slot::kAddressSpace, keel::abi::kMaxPriority) == Error::kOk &&
       rx.set_ipc_buffer(reinterpret_cast<uint64_t>(&receiver_ipc_buffer)) == Error::kOk &&
       rx.set_ipc_buffer(0x123) == Error::kInvalidArgument &&
       rx.start(reinterpret_cast<uint64_t>(cap_receiver_main), stack_top(receiver_stack, sizeof receiver_stack), 0) ==
           Error::kOk;
  sys::yield();  // the receiver sets its receive slot and waits
  sys::ipc_buffer()->send_cap = kXferNtfn;
  ok = ok && sys::Endpoint(kXferEpNoGrant).send(sys::Message{.length = 0, .caps = 1}) == Error::kInsufficientRights;
  ok = ok && sys::Endpoint(kXferEp).send(sys::Message{.length = 0, .caps = 1}) == Error::kOk;
  uint64_t word = 0;
  ok = ok && sys::Notification(kXferNtfn).wait(&word) == Error::kOk && word == 1;  // signalled via the copy
  ok = ok && rx.suspend() == Error::kOk;
  report("cap_transfer", ok, "the capability did not arrive or does not work");
}

// A 20-word message: 4 words in registers, 16 through the IPC buffers.
alignas(4096) keel::abi::IpcBuffer long_echo_buffer;
alignas(16) char long_echo_stack[8192];

[[noreturn]] void long_echo_main(uint64_t ep_slot) {
  sys::set_ipc_buffer_pointer(&long_echo_buffer);
  sys::Endpoint ep(ep_slot);
  sys::Message m;
  Error e = ep.recv(m);
  for (;;) {
    for (uint64_t i = 0; i < m.length; ++i) m.mr[i] += 1;  // echo, each word plus one
    if (e != Error::kOk) m.length = 0;
    e = ep.reply_recv(m, m);
  }
}

void test_long_message() {
  constexpr uint64_t kLongEp = 296, kLongEcho = 297;
  sys::ThreadCap th(kLongEcho);
  bool ok = sys::Untyped(kScratchUntyped).retype(ObjectType::kEndpoint, 0, kLongEp) == Error::kOk &&
            sys::Untyped(kScratchUntyped).retype(ObjectType::kThread, 0, kLongEcho) == Error::kOk &&
            th.configure(slot::kCNode, slot::kAddressSpace, keel::abi::kMaxPriority) == Error::kOk &&
            th.set_ipc_buffer(reinterpret_cast<uint64_t>(&long_echo_buffer)) == Error::kOk &&
            th.start(reinterpret_cast<uint64_t>(long_echo_main), stack_top(long_echo_stack, sizeof long_echo_stack),
                     kLongEp) == Error::kOk;
  sys::yield();  // the echo thread waits
  sys::Message m{.label = 5, .length = 20};
  for (uint64_t i = 0; i < 20; ++i) m.mr[i] = 1000 + i * 3;
  ok = ok && sys::Endpoint(kLongEp).call(m) == Error::kOk && m.length == 20;
  for (uint64_t i = 0; ok && i < 20; ++i) ok = m.mr[i] == 1000 + i * 3 + 1;
  // Too long is clipped to the maximum, never more.
  sys::Message big{.length = 63};
  ok = ok && sys::Endpoint(kLongEp).call(big) == Error::kOk && big.length == keel::abi::kMaxMessageWords;
  ok = ok && th.suspend() == Error::kOk;
  report("long_message", ok, "words 4.. did not travel through the IPC buffers");
}

// Reply objects: a server takes two calls, keeps both reply rights, and
// answers the second caller first; only once that caller has its answer
// (kReplyStep: it signals) does it answer the first, so the order the
// clients see does not depend on how the scheduler interleaves them.
constexpr uint64_t kReplyEp = 280, kReplyServer = 281, kR1 = 282, kR2 = 283, kClientA = 284, kClientB = 285,
                   kReplyDone = 286, kReplyStep = 87;
alignas(16) char reply_server_stack[8192];
alignas(16) char client_a_stack[8192];
alignas(16) char client_b_stack[8192];
volatile uint64_t client_result[2];
volatile uint64_t answer_order[2];
volatile uint64_t answers = 0;
volatile uint64_t second_caller = 2;  // which client's call the server received second

[[noreturn]] void reply_server_main(uint64_t) {
  sys::Endpoint ep(kReplyEp);
  sys::Message first, second;
  Error e1 = ep.recv(first, kR1);
  Error e2 = ep.recv(second, kR2);
  if (e1 == Error::kOk && e2 == Error::kOk) {
    second_caller = second.mr[0] - 1;
    (void)sys::reply(kR2, sys::Message{.length = 1, .mr = {second.mr[0] * 10}});
    uint64_t word = 0;
    (void)sys::Notification(kReplyStep).wait(&word);  // the second caller has its answer
    (void)sys::reply(kR1, sys::Message{.length = 1, .mr = {first.mr[0] * 10}});
  }
  sys::Message m;
  for (;;) (void)ep.recv(m);
}

[[noreturn]] void reply_client_main(uint64_t which) {
  sys::Message m{.length = 1, .mr = {which + 1}};
  Error e = sys::Endpoint(kReplyEp).call(m);
  client_result[which] = e == Error::kOk ? m.mr[0] : 0;
  uint64_t n = answers;
  answer_order[n] = which;
  answers = n + 1;
  (void)sys::Notification(kReplyDone).signal();
  (void)sys::Notification(kReplyStep).signal();
  for (;;) (void)sys::yield();
}

void test_reply_objects() {
  sys::Untyped ut(kScratchUntyped);
  bool ok = ut.retype(ObjectType::kEndpoint, 0, kReplyEp) == Error::kOk &&
            ut.retype(ObjectType::kReply, 0, kR1, 2) == Error::kOk &&
            ut.retype(ObjectType::kNotification, 0, kReplyDone) == Error::kOk &&
            ut.retype(ObjectType::kNotification, 0, kReplyStep) == Error::kOk &&
            start_thread(kReplyServer, reply_server_main, reply_server_stack, sizeof reply_server_stack, 0,
                         keel::abi::kMaxPriority) &&
            start_thread(kClientA, reply_client_main, client_a_stack, sizeof client_a_stack, 0, 200) &&
            start_thread(kClientB, reply_client_main, client_b_stack, sizeof client_b_stack, 1, 200);
  uint64_t word;
  while (ok && answers < 2) ok = sys::Notification(kReplyDone).wait(&word) == Error::kOk;
  ok = ok && client_result[0] == 10 && client_result[1] == 20 && answer_order[0] == second_caller &&
       answer_order[1] == 1 - second_caller;
  // An empty Reply has nobody to answer.
  ok = ok && sys::reply(kR1, sys::Message{}) == Error::kInvalidArgument;
  const uint64_t threads[] = {kReplyServer, kClientA, kClientB};
  for (uint64_t th : threads) ok = ok && sys::ThreadCap(th).suspend() == Error::kOk;
  report("reply_objects", ok, "replies did not reach the right callers in the server's order");
}

// Every syscall's error path with bad arguments.
void test_errors() {
  struct Case {
    const char* what;
    Error got;
    Error want;
  };
  sys::Message m;
  (void)cnode.copy(kWriteOnly, kEp, keel::abi::kRightWrite);
  const Case cases[] = {
      {"send on an empty slot", sys::Endpoint(kSpare + 1).send(m), Error::kInvalidCapability},
      {"send on a slot beyond the CNode", sys::Endpoint(1u << 20).send(m), Error::kInvalidSlot},
      {"call on a thread capability", sys::Endpoint(slot::kThread).call(m), Error::kInvalidCapability},
      {"recv without the read right", sys::Endpoint(kWriteOnly).recv(m), Error::kInsufficientRights},
      {"copy with more rights than the source", cnode.copy(kSpare + 2, kWriteOnly, keel::abi::kRightsAll),
       Error::kInsufficientRights},
      {"copy into an occupied slot", cnode.copy(kEp, kEpIdle, keel::abi::kRightRead), Error::kSlotOccupied},
      {"copy an untyped", cnode.copy(kSpare + 2, kScratchUntyped, keel::abi::kRightRead), Error::kInvalidCapability},
      {"move from an empty slot", cnode.move(kSpare + 3, kSpare + 4), Error::kInvalidCapability},
      {"delete an empty slot", cnode.remove(kSpare + 4), Error::kInvalidCapability},
      {"revoke beyond the CNode", cnode.revoke(1u << 20), Error::kInvalidSlot},
      {"retype an invalid type", sys::Untyped(kScratchUntyped).retype(static_cast<ObjectType>(77), 0, kSpare + 5),
       Error::kInvalidArgument},
      {"retype into an occupied slot", sys::Untyped(kScratchUntyped).retype(ObjectType::kEndpoint, 0, kEp),
       Error::kSlotOccupied},
      {"retype more than the untyped holds", sys::Untyped(kScratchUntyped).retype(ObjectType::kFrame2M, 0, kSpare + 5),
       Error::kNotEnoughMemory},
      {"retype from a non-untyped", sys::Untyped(kEp).retype(ObjectType::kEndpoint, 0, kSpare + 5),
       Error::kInvalidCapability},
      {"retype with destinations beyond the CNode",
       sys::Untyped(kScratchUntyped).retype(ObjectType::kEndpoint, 0, (1u << keel::abi::kInitCNodeBits) - 1, 2),
       Error::kInvalidSlot},
      {"invoke an unknown CNode method", sys::syscall(sys::sysno(keel::abi::Syscall::kInvoke), slot::kCNode, 999).error,
       Error::kInvalidArgument},
      {"invoke an endpoint", sys::invoke(kEp, keel::abi::CNodeCopy{}), Error::kInvalidCapability},
      {"start a thread at a kernel address",
       sys::ThreadCap(kServer).start(0xffffffff80000000ull, stack_top(server_stack, sizeof server_stack), 0),
       Error::kInvalidArgument},
      {"configure a running thread", sys::ThreadCap(kServer).configure(slot::kCNode, slot::kAddressSpace, 1),
       Error::kInvalidArgument},
      {"configure with an endpoint as CNode", sys::ThreadCap(kServer).configure(kEp, slot::kAddressSpace, 1),
       Error::kInvalidArgument},
      {"debug_write too long", sys::debug_write("x", keel::abi::kDebugWriteMax + 1), Error::kInvalidArgument},
      {"debug_write from a kernel address", sys::debug_write(reinterpret_cast<const char*>(0xffff000040000000ull), 8),
       Error::kInvalidAddress},
      {"unknown syscall", sys::syscall(4242).error, Error::kUnknownSyscall},
  };
  bool ok = true;
  for (const Case& c : cases) {
    if (c.got != c.want) {
      ok = false;
      sys::print("  %s: got %s, want %s\n", c.what, keel::abi::error_name(c.got), keel::abi::error_name(c.want));
    }
  }
  report("error_paths", ok, "an error code differs (see above)");
}

}  // namespace

int main() {
  sys::print("ipc_test: starting\n");
  bool ok = sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 20, kScratchUntyped) == Error::kOk &&
            sys::Untyped(kScratchUntyped).retype(ObjectType::kEndpoint, 0, kEp) == Error::kOk &&
            sys::Untyped(kScratchUntyped).retype(ObjectType::kEndpoint, 0, kEpIdle) == Error::kOk &&
            start_thread(kServer, server_main, server_stack, sizeof server_stack, kEp, 100);
  report("setup", ok, "could not create the server");
  if (ok) {
    test_ping_pong();
    test_badges();
    test_nb_send();
    test_revoke_while_blocked();
    test_fault_delivery();
    test_notifications();
    test_cap_transfer();
    test_long_message();
    test_reply_objects();
    test_priority_preemption();
    test_errors();
  }
  return g_checks.summary("ipc_test");
}
