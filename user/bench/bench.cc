// bench — measures, with the PMU, the instructions and cycles of:
//   null_syscall             the cheapest syscall: Yield with nothing else to
//                            run (reads no capability, as seL4's null
//                            syscall; entry, decode, the run-queue check,
//                            return)
//   syscall_cap_check        the cheapest that reads a capability:
//                            DebugWrite of nothing (the lookup, and the
//                            exclusion of other CPUs' slow paths it needs)
//   ipc_roundtrip_same_as    Call + ReplyRecv with a server in init's address space
//   ipc_roundtrip_inter_as   the same with a server in another address space
// Averages over kRounds after a warm-up. Under QEMU -icount shift=0 the
// instruction counts repeat exactly run to run.
//
// It runs as init in the benchmark image (bazel run //:bench), or as a task
// of the system (the console's `bench`): then its untyped, program pages
// and priority are where keel/task.h says.
#include "keel/pmu.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

extern "C" char __etext[];

namespace {

// Slots: from 256 on, free both in init's CNode (its own from 192:
// keel/abi.h init_slot) and in a task's (task_slot::kFirstFree), and clear
// of init's boot frames (32..127), which a larger image would reach.
constexpr uint64_t kSlots = 256;
constexpr uint64_t kInitUt = kSlots + 0;  // as init: 4 MiB scratch untyped
constexpr uint64_t kEp = kSlots + 1;      // same-AS server endpoint
constexpr uint64_t kServer = kSlots + 2;
constexpr uint64_t kEp2 = kSlots + 3;  // inter-AS server endpoint
constexpr uint64_t kServer2 = kSlots + 4;
constexpr uint64_t kAs2 = kSlots + 5;
constexpr uint64_t kTables = kSlots + 6;  // 6 page tables: L1-L3 for code, L1-L3 for the stack
constexpr uint64_t kStack2 = kSlots + 12;
constexpr uint64_t kText2 = kSlots + 16;  // copies of init's text frame capabilities
constexpr uint64_t kText2Max = 40;
constexpr uint64_t kEp3 = kText2 + kText2Max;  // the timing server's endpoint (one-way rows)
constexpr uint64_t kServer3 = kEp3 + 1;
constexpr uint64_t kEp4 = kEp3 + 2;  // the register-only echo server (keel/testing.h)
constexpr uint64_t kServer4 = kEp3 + 3;
constexpr uint64_t kEp5 = kEp3 + 4;  // the register-only echo server in the second address space
constexpr uint64_t kServer5 = kEp3 + 5;
static_assert(kServer5 < keel::abi::task_slot::kDmaFrames, "inside a task's free range");
constexpr uint64_t kRounds = 1000;
constexpr uint64_t kStack2Va = 0x0000'7fff'0000'0000ull;

alignas(16) char server_stack[8192];

// Where things are: as init, or as a task (main decides).
uint64_t g_ut = kInitUt, g_first_frame = slot::kFirstFrame, g_priority = keel::abi::kMaxPriority;

uint64_t cycles() { return sys::pmu_cycles(); }
uint64_t instructions() { return sys::pmu_instructions(); }

// Reply-and-receive forever; touches nothing but its stack and text, so it
// runs in an address space holding only those.
[[noreturn]] void server_main(uint64_t ep_slot) {
  sys::Endpoint ep(ep_slot);
  sys::Message m;
  (void)ep.recv(m);
  for (;;) {
    m.mr[0] += 1;
    (void)ep.reply_recv(m, m);
  }
}

// The same server, reading the instruction counter where each direction
// ends and begins: right after its receive returns (the end of a one-way
// Call) and right before its ReplyRecv (the start of the reply).
volatile uint64_t g_received_at = 0, g_replying_at = 0, g_received_cycle = 0, g_replying_cycle = 0;
alignas(16) char timing_stack[8192];
alignas(16) char register_stack[4096];
[[noreturn]] void timing_server(uint64_t ep_slot) {
  sys::Endpoint ep(ep_slot);
  sys::Message m;
  (void)ep.recv(m);
  for (;;) {
    g_received_at = instructions();
    g_received_cycle = cycles();
    m.mr[0] += 1;
    g_replying_cycle = cycles();
    g_replying_at = instructions();
    (void)ep.reply_recv(m, m);
  }
}

// The profiler's window markers (bazel run //:profile -- ROW, tools/profile):
// empty and never inlined, so each is a symbol whose one instruction runs
// right before and right after the rounds a row measures. Windows in
// order: 1 null_syscall, 2 ipc_roundtrip_same_as, 3 ipc_roundtrip_inter_as,
// 4 the one-way pair (ipc_oneway_call + ipc_oneway_replyrecv),
// 5 ipc_roundtrip_registers, 6 ipc_roundtrip_registers_inter_as,
// 7 syscall_cap_check.
extern "C" [[gnu::noinline]] void bench_window_open() { asm volatile(""); }
extern "C" [[gnu::noinline]] void bench_window_close() { asm volatile(""); }

struct Sample {
  uint64_t instructions, cycles;
};

template <typename F>
Sample measure(F op) {
  for (int i = 0; i < 50; ++i) op();  // warm up
  bench_window_open();
  uint64_t i0 = instructions(), c0 = cycles();
  for (uint64_t i = 0; i < kRounds; ++i) op();
  uint64_t i1 = instructions(), c1 = cycles();
  bench_window_close();
  return Sample{(i1 - i0) / kRounds, (c1 - c0) / kRounds};
}

void row(const char* name, Sample s) {
  if (s.instructions == 0) {  // QEMU counts instructions only under -icount (bazel run //:bench)
    sys::print("%s %llu cycles (instructions: only under -icount)\n", name, static_cast<unsigned long long>(s.cycles));
    return;
  }
  sys::print("%s %llu instructions %llu cycles\n", name, static_cast<unsigned long long>(s.instructions),
             static_cast<unsigned long long>(s.cycles));
}

bool check(Error e, const char* what);

// DMA confinement's price per mapping (issue 25): a frame made DMA-visible
// in an IoSpace and taken away again — a capability copy, FrameMap into
// the IoSpace, Delete of the copy (the kernel clears the entry, issues
// CMD_TLBI_NH_VA and waits for CMD_SYNC). Only as init (IoControl) and with
// an SMMU (bench_ipc runs with --iommu); the IoSpace is bound to stream 0,
// the host bridge, which does no DMA.
void iospace_row() {
  // (Slots of init's own range, 192..255: this row runs only as init.)
  constexpr uint64_t kIo = 200, kIoTables = 201, kIoFrame = 204, kIoCopy = 205, kIova = 0x10'0000'0000;
  const sys::Untyped ut(g_ut);
  Error e = ut.retype(ObjectType::kIoSpace, 0, kIo);
  if (e == Error::kOk) e = sys::IoControl(slot::kIoControl).bind(kIo, 0, 1);
  if (e != Error::kOk) {
    sys::print("iospace_map_unmap: not measured (%s: no IOMMU, or not init)\n", keel::abi::error_name(e));
    return;
  }
  for (uint64_t level = 1; e == Error::kOk && level <= 3; ++level) {
    e = ut.retype(ObjectType::kPageTable, 0, kIoTables + level - 1);
    if (e == Error::kOk) e = sys::PageTableCap(kIoTables + level - 1).map(kIo, kIova, static_cast<unsigned>(level));
  }
  if (e == Error::kOk) e = ut.retype(ObjectType::kFrame4K, 0, kIoFrame);
  if (!check(e, "an IoSpace and its tables")) return;
  const sys::CNode cnode(slot::kCNode);
  row("iospace_map_unmap", measure([&] {
        (void)cnode.copy(kIoCopy, kIoFrame, keel::abi::kRightRead | keel::abi::kRightWrite);
        (void)sys::FrameCap(kIoCopy).map(kIo, kIova, keel::abi::kMapWrite);
        (void)cnode.remove(kIoCopy);
      }));
}

bool check(Error e, const char* what) {
  if (e != Error::kOk) sys::print("bench: %s failed: %s\n", what, keel::abi::error_name(e));
  return e == Error::kOk;
}

// A second address space holding init's text (shared, read-only) and a
// stack, with a server thread in it.
bool start_inter_as_server() {
  sys::Untyped ut(g_ut);
  sys::CNode cnode(slot::kCNode);
  const uint64_t text_start = 0x400000, text_end = reinterpret_cast<uint64_t>(__etext);
  const uint64_t text_pages = (text_end - text_start + 4095) / 4096;
  if (text_pages > kText2Max) return check(Error::kInvalidArgument, "text too large");
  bool ok = check(ut.retype(ObjectType::kAddressSpace, 0, kAs2), "address space") &&
            check(ut.retype(ObjectType::kPageTable, 0, kTables, 6), "page tables") &&
            check(ut.retype(ObjectType::kFrame4K, 0, kStack2), "stack frame") &&
            check(ut.retype(ObjectType::kEndpoint, 0, kEp2), "endpoint") &&
            check(ut.retype(ObjectType::kThread, 0, kServer2), "thread");
  for (unsigned level = 1; ok && level <= 3; ++level) {
    ok = check(sys::PageTableCap(kTables + level - 1).map(kAs2, text_start, level), "code table") &&
         check(sys::PageTableCap(kTables + 2 + level).map(kAs2, kStack2Va, level), "stack table");
  }
  for (uint64_t i = 0; ok && i < text_pages; ++i) {
    ok = check(cnode.copy(kText2 + i, g_first_frame + i, keel::abi::kRightRead), "text copy") &&
         check(sys::FrameCap(kText2 + i).map(kAs2, text_start + i * 4096, keel::abi::kMapExecute), "text map");
  }
  ok = ok && check(sys::FrameCap(kStack2).map(kAs2, kStack2Va, keel::abi::kMapWrite), "stack map");
  sys::ThreadCap th(kServer2);
  return ok && check(th.configure(slot::kCNode, kAs2, static_cast<unsigned>(g_priority)), "configure") &&
         check(th.start(reinterpret_cast<uint64_t>(server_main), kStack2Va + 4096, kEp2), "start");
}

}  // namespace

int main() {
  const keel::abi::StartInfo* task = keel::abi::start_info();
  bool ok = true;
  if (task->magic == keel::abi::kStartInfoMagic) {  // a task of the system
    sys::set_console(keel::abi::task_slot::kConsole);
    g_ut = keel::abi::task_slot::kUntyped;
    g_first_frame = keel::abi::task_slot::kImage;
    g_priority = task->priority;
    ok = task->untyped_bytes >= (1u << 20) || check(Error::kNotEnoughMemory, "its untyped (1 MiB needed)");
  } else {
    ok = check(sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 22, kInitUt), "scratch untyped");
  }
  sys::ThreadCap server(kServer);
  ok = ok && check(sys::Untyped(g_ut).retype(ObjectType::kEndpoint, 0, kEp), "endpoint") &&
       check(sys::Untyped(g_ut).retype(ObjectType::kThread, 0, kServer), "thread") &&
       check(server.configure(slot::kCNode, slot::kAddressSpace, static_cast<unsigned>(g_priority)), "configure") &&
       check(server.start(reinterpret_cast<uint64_t>(server_main),
                          reinterpret_cast<uint64_t>(server_stack) + sizeof server_stack, kEp),
             "start") &&
       start_inter_as_server();
  if (!ok) return 1;
  sys::yield();  // both servers run once and block in Recv
  sys::Endpoint ep(kEp), ep2(kEp2);
  uint64_t n = 0;
  sys::Message m{.length = 1};
  sys::print("bench: %llu rounds each\n", static_cast<unsigned long long>(kRounds));
  // (Every other thread is blocked in Recv here: Yield finds nothing to run.)
  row("null_syscall", measure([] { (void)sys::yield(); }));
  row("ipc_roundtrip_same_as", measure([&] {
        m.mr[0] = n++;
        (void)ep.call(m);
      }));
  row("ipc_roundtrip_inter_as", measure([&] {
        m.mr[0] = n++;
        (void)ep2.call(m);
      }));
  // One way each: the client's counter before Call to the server's after
  // its receive returned; the server's before ReplyRecv to the client's
  // after Call returned. Each includes libsys's packing and unpacking on
  // both sides, the SVCs and the kernel (same address space, same CPU).
  sys::ThreadCap timing(kServer3);
  if (!check(sys::Untyped(g_ut).retype(ObjectType::kEndpoint, 0, kEp3), "endpoint") ||
      !check(sys::Untyped(g_ut).retype(ObjectType::kThread, 0, kServer3), "thread") ||
      !check(timing.configure(slot::kCNode, slot::kAddressSpace, static_cast<unsigned>(g_priority)), "configure") ||
      !check(timing.start(reinterpret_cast<uint64_t>(timing_server),
                          reinterpret_cast<uint64_t>(timing_stack) + sizeof timing_stack, kEp3),
             "start")) {
    return 1;
  }
  sys::yield();
  const sys::Endpoint ep3(kEp3);
  Sample call{}, reply{};
  for (uint64_t i = 0; i < 50 + kRounds; ++i) {
    if (i == 50) bench_window_open();  // the rounds after the warm-up
    m.mr[0] = n++;
    const uint64_t before = instructions(), before_cycle = cycles();
    (void)ep3.call(m);
    const uint64_t after_cycle = cycles(), after = instructions();
    if (i < 50) continue;  // warm up
    call.instructions += g_received_at - before, call.cycles += g_received_cycle - before_cycle;
    reply.instructions += after - g_replying_at, reply.cycles += after_cycle - g_replying_cycle;
  }
  bench_window_close();
  row("ipc_oneway_call", Sample{call.instructions / kRounds, call.cycles / kRounds});
  row("ipc_oneway_replyrecv", Sample{reply.instructions / kRounds, reply.cycles / kRounds});
  // In registers both ways: sys::call_registers against the register-only
  // echo server (no Message, no IPC buffer on either side).
  sys::ThreadCap reg_server(kServer4);
  if (!check(sys::Untyped(g_ut).retype(ObjectType::kEndpoint, 0, kEp4), "endpoint") ||
      !check(sys::Untyped(g_ut).retype(ObjectType::kThread, 0, kServer4), "thread") ||
      !check(reg_server.configure(slot::kCNode, slot::kAddressSpace, static_cast<unsigned>(g_priority)), "configure") ||
      !check(reg_server.start(reinterpret_cast<uint64_t>(&sys::echo_server_registers),
                              reinterpret_cast<uint64_t>(register_stack) + sizeof register_stack, kEp4),
             "start")) {
    return 1;
  }
  sys::yield();
  sys::RegMessage rm{.info = keel::abi::message_info(0, 1)};
  row("ipc_roundtrip_registers", measure([&] { (void)sys::call_registers(kEp4, rm); }));
  // The same across address spaces: the register echo server in the second
  // space (its code is init's text, mapped there; a stack below the other
  // server's in the same page). What seL4's IPC benchmark measures.
  sys::ThreadCap reg_server2(kServer5);
  if (!check(sys::Untyped(g_ut).retype(ObjectType::kEndpoint, 0, kEp5), "endpoint") ||
      !check(sys::Untyped(g_ut).retype(ObjectType::kThread, 0, kServer5), "thread") ||
      !check(reg_server2.configure(slot::kCNode, kAs2, static_cast<unsigned>(g_priority)), "configure") ||
      !check(reg_server2.start(reinterpret_cast<uint64_t>(&sys::echo_server_registers), kStack2Va + 2048, kEp5),
             "start")) {
    return 1;
  }
  sys::yield();
  row("ipc_roundtrip_registers_inter_as", measure([&] { (void)sys::call_registers(kEp5, rm); }));
  row("syscall_cap_check", measure([] { (void)sys::debug_write(nullptr, 0); }));
  if (task->magic != keel::abi::kStartInfoMagic) iospace_row();
  const uint64_t before = rm.mr[0];
  const bool echoed = sys::call_registers(kEp4, rm) == Error::kOk && rm.mr[0] == before + 1;
  if (!echoed) sys::print("bench: the register echo server did not answer\n");
  // A reply that did not add one would mean the servers never ran.
  m.mr[0] = 41;
  bool replied = ep2.call(m) == Error::kOk && m.mr[0] == 42;
  sys::print("BENCH DONE%s\n", replied && echoed ? "" : " (a server did not answer!)");
  return replied && echoed ? 0 : 1;
}
