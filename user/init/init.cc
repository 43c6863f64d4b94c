// init — the root task. It starts the system its description declares
// (boot module "system", keel/system.h):
//   1. checks the description against the image's modules;
//   2. keeps a pool of untyped memory for making tasks and gives the rest of
//      RAM to the memory server;
//   3. starts the console server (which takes the kernel's console over), then
//      the memory server, each in its own CNode and address space;
//   4. prints the ready line through the console server;
//   5. starts the boot drivers and clients, then runs the console (help lists
//      commands).
//
// Drivers get their devices from the DTB the kernel hands init: each
// `device = SPEC` line of the description is looked up (keel/devices.h), and
// the driver gets a device frame for every page of the node's registers,
// mapped at task_slot's kDeviceVa window, and an IrqHandler per interrupt,
// bound to its notification. Init names no device itself.
//
// Every task is made from its own untyped block (revoked and reused when it
// is run again) and registered with the memory server, which is its pager:
// it hears of the task's faults and exit, reclaims its memory, and then
// signals init's exit notification (badge bit 1 << id).
#include <stddef.h>
#include <stdint.h>

#include "keel/devices.h"
#include "keel/loader.h"
#include "keel/proto/clock.h"
#include "keel/proto/console.h"
#include "keel/proto/disk.h"
#include "keel/proto/memory.h"
#include "keel/proto/pci.h"
#include "keel/sys.h"
#include "keel/system.h"
#include "keel/task.h"
#include "keel/text.h"
#include "keel/thread.h"
#include "keel/time.h"
#include "kernel/lib/fmt.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace sd = keel::sysdesc;
namespace islot = keel::abi::init_slot;
namespace tslot = keel::abi::task_slot;

// init's own CNode (2^10 slots): 1..127 and the untyped from 128 are the
// kernel's (abi.h); init uses the rest.
constexpr uint64_t kEpConsole = 200, kEpMemory = 201, kExitNtfn = 202, kConsole = 203, kMemory = 204, kPool = 205;
constexpr uint64_t kChannels = 208;                        // + task index (< sd::kMaxTasks = 16)
constexpr uint64_t kTaskSlots = 224;                       // + 6 * task index: block, CNode, AS, thread, own untyped
constexpr uint64_t kOwnTables = 320, kOwnTablesEnd = 330;  // tables for init's scratch mapping
constexpr uint64_t kScratch = 330, kScratchEnd = 530;      // the loader's frames for a task (<= 800 KiB)
constexpr uint64_t kScratchTables = 530, kScratchTablesEnd = 578;  // and the task's page tables
constexpr uint64_t kSplit = 578, kSplitEnd = 642;                  // halves of the RAM block the pool comes from
constexpr uint64_t kDriverEps = 642;                               // + task index: a driver's endpoint
constexpr uint64_t kIrqHandlers = 658, kIrqHandlersEnd = 722;      // the IrqHandlers init took for drivers
constexpr uint64_t kDevSlots = 722, kDevSlotsEnd = 1018;           // device untyped pieces and frames
// The thread that asks drivers for the console (date, disk), its go
// notification and its badged wake-up of the main thread (kQueryBit).
constexpr uint64_t kQueryThread = 1018, kQueryGo = 1019, kQuerySignal = 1020;
// The console reader thread, the notification that lets it read the next
// line, and its badged wake-up of init's main thread (kExitNtfn, kLineBit).
constexpr uint64_t kReaderThread = 1021, kReaderGo = 1022, kReaderSignal = 1023;
static_assert(kChannels + sd::kMaxTasks <= kTaskSlots && kTaskSlots + uint64_t{6} * sd::kMaxTasks <= kOwnTables &&
                  kDriverEps + sd::kMaxTasks <= kIrqHandlers,
              "init's slot ranges do not overlap");
constexpr uint64_t kScratchVa = 0x2000'0000;
constexpr unsigned kPoolBits = 24;  // 16 MiB for making tasks

const sys::CNode self(islot::kCNode);

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

using sys::starts_with;
using sys::streq;

const abi::InitBootInfo* g_info = nullptr;
const sd::System* g_sys = nullptr;
uint64_t g_memory_index = 0, g_console_index = 0;

enum class TaskState { kNotStarted, kRunning, kExited, kStopped };
struct TaskRun {
  TaskState state = TaskState::kNotStarted;
  bool made = false;         // its untyped block exists (it ran before)
  bool quarantined = false;  // a device of it did not reset: its block (DMA memory) is never reused
  uint64_t entry = 0;        // its program's entry (crash injection's offsets are from it)
  uint32_t pci_claimed = 0;  // bit d: its device d is a PCI function the bus task gave it
  uint32_t pci_bdf[sd::kMaxDevices] = {};
};
TaskRun g_tasks[sd::kMaxTasks];

uint64_t task_id(uint64_t index) { return index + 2; }  // 1 is init
// Clients and drivers: paged by the memory server, which hears of their
// faults and exit (the servers are on their own).
bool paged_role(sd::Role r) { return r == sd::Role::kClient || r == sd::Role::kDriver; }
// In the exit notification (bit id: task id exited): Ctrl-C at the console.
constexpr uint64_t kInterruptBit = 1;  // (bit 0: no task has id 0)
// And: the console reader has a line (task ids stop at 31); init's timer.
constexpr uint64_t kLineBit = uint64_t{1} << 40;
constexpr uint64_t kTimerTickBit = uint64_t{1} << 41;
constexpr uint64_t kQueryBit = uint64_t{1} << 42;  // the query thread is done
// Init's channel of the user timer (the restarts' back-off) and its
// badged copy of kExitNtfn.
constexpr uint64_t kInitTimer = 206, kInitTimerSignal = 207;
uint64_t task_slot(uint64_t index, uint64_t what) { return kTaskSlots + 6 * index + what; }
enum : uint64_t { kBlock = 0, kCNode = 1, kAs = 2, kThread = 3, kOwnUntyped = 4, kDma = 5 };

const abi::BootModule* find_module(const char* name) {
  for (uint64_t i = 0; i < g_info->module_count && i < 16; ++i) {
    if (streq(g_info->modules[i].name, name)) return &g_info->modules[i];
  }
  return nullptr;
}

bool terminated(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '\0') return i > 0;
  }
  return false;
}

// The description as packed by tools/sysdesc, checked again here: the
// image could have been put together by something else.
const char* check_system(const abi::BootModule* mod) {
  if (mod == nullptr) return "the image has no module named 'system'";
  if (mod->size < sizeof(sd::System)) return "module 'system' is too small";
  const auto* s = reinterpret_cast<const sd::System*>(mod->va);
  if (s->magic != sd::kMagic) return "module 'system' is not a system description (bad magic)";
  if (s->version != sd::kVersion) return "unsupported system description version";
  if (s->task_count == 0 || s->task_count > sd::kMaxTasks) return "task count out of range";
  int memory = 0, console = 0;
  for (uint64_t i = 0; i < s->task_count; ++i) {
    const sd::Task& t = s->tasks[i];
    if (!terminated(t.name, sd::kNameSize) || !terminated(t.program, sd::kNameSize)) return "bad task name";
    if (find_module(t.program) == nullptr) return "a task's program is not in the image";
    if (t.priority < 1 || t.priority > 254) return "a task's priority is out of range";
    if (t.untyped_bytes != 0 && (t.untyped_bytes < 4096 || (t.untyped_bytes & (t.untyped_bytes - 1)) != 0)) {
      return "a task's untyped size is not a power of two";
    }
    if (t.role > sd::Role::kDriver) return "a task's role is unknown";
    if (t.role == sd::Role::kMemoryServer) g_memory_index = i, ++memory;
    if (t.role == sd::Role::kConsoleServer) g_console_index = i, ++console;
    const bool server = t.role == sd::Role::kMemoryServer || t.role == sd::Role::kConsoleServer;
    if (server && t.start != sd::Start::kBoot) return "a server does not start at boot";
    if (t.role == sd::Role::kConsoleServer && (t.buffer_bytes < 1024 || t.buffer_bytes > 65536)) {
      return "bad console buffer size";
    }
    const bool drives = t.role == sd::Role::kDriver || t.role == sd::Role::kConsoleServer;
    const bool stacked = t.role == sd::Role::kDriver && t.disk[0] != '\0';  // (over another driver)
    if (t.device_count > sd::kMaxDevices || (drives && t.device_count == 0 && !stacked) ||
        (!drives && t.device_count != 0)) {
      return "bad device lines";
    }
    if (t.timer != 0 && t.role != sd::Role::kDriver) return "only a driver has the timer";
    if (t.start > sd::Start::kWithNet) return "a task's start is unknown";
    for (uint32_t d = 0; d < t.device_count; ++d) {
      if (!terminated(t.devices[d], sd::kDeviceSpecSize)) return "bad device spec";
    }
  }
  if (memory != 1 || console != 1) return "need exactly one memory server and one console server";
  g_sys = s;
  return nullptr;
}

unsigned log2_up(uint64_t v) {
  unsigned b = 0;
  while ((uint64_t{1} << b) < v) ++b;
  return b;
}

// ---- memory for tasks ------------------------------------------------------------
// RAM untyped for the memory server (slots in init's CNode).
uint64_t g_give[tslot::kMemoryUntypedMax];
uint64_t g_give_count = 0, g_give_bytes = 0;

void give(uint64_t slot, unsigned bits) {
  if (g_give_count < tslot::kMemoryUntypedMax) {
    g_give[g_give_count++] = slot;
    g_give_bytes += uint64_t{1} << bits;
  }
}

// The pool is carved from the largest RAM block the kernel did not use for
// init itself (the first one has init's objects at its start, so it cannot
// be halved) by halving it; the other halves and every other RAM block go
// to the memory server.
Error make_pool() {
  const abi::BootUntyped* best = nullptr;
  for (uint64_t i = 0; i < g_info->untyped_count; ++i) {
    const abi::BootUntyped& u = g_info->untyped[i];
    if (u.device == 0 && u.slot != islot::kFirstUntyped && (best == nullptr || u.size_bits > best->size_bits)) {
      best = &u;
    }
  }
  if (best == nullptr || best->size_bits < kPoolBits) return Error::kNotEnoughMemory;
  uint64_t cur = best->slot, next = kSplit;
  for (unsigned bits = static_cast<unsigned>(best->size_bits); bits > kPoolBits; --bits) {
    if (next + 2 > kSplitEnd) return Error::kNotEnoughMemory;
    Error e = sys::Untyped(cur).retype(ObjectType::kUntyped, bits - 1, next, 2);
    if (e != Error::kOk) return e;
    give(next, bits - 1);
    cur = next + 1;
    next += 2;
  }
  for (uint64_t i = 0; i < g_info->untyped_count; ++i) {
    const abi::BootUntyped& u = g_info->untyped[i];
    if (u.device == 0 && &u != best) give(u.slot, static_cast<unsigned>(u.size_bits));
  }
  return self.move(kPool, cur);
}

// ---- device memory -------------------------------------------------------------------
// The device untyped the kernel gave init, split on demand: a piece that
// covers a page a driver needs is halved (keeping both halves) down to at
// most 64 KiB, then made into 4 KiB frames all at once (retype allocates
// in address order from an untouched untyped, so frame k is at base + k
// pages). Frames stay init's; drivers get copies.
struct DevPiece {
  uint64_t slot = 0, base = 0;
  unsigned bits = 0;
  bool split = false;
  uint64_t first_frame = 0;  // its frames' first slot once framed (0: not yet)
  unsigned frame_bits = 12;  // 12: 4 KiB frames, 21: 2 MiB frames
};
constexpr size_t kMaxPieces = 128;
DevPiece g_pieces[kMaxPieces];
size_t g_piece_count = 0;
uint64_t g_next_dev_slot = kDevSlots;
constexpr unsigned kFramedBits = 16;    // pieces made into 4 KiB frames: 64 KiB
constexpr unsigned kFramed2MBits = 24;  // pieces made into 2 MiB frames: 16 MiB
constexpr uint64_t kMaxDevicePages =
    64;  // per register range a driver is given in 4 KiB frames (init's slots are finite)
// A larger range (2 MiB aligned: a PCI host bridge's ECAM) is mapped with
// 2 MiB frames, at most this much of it; the task is told what was mapped.
constexpr uint64_t kMaxLargeDeviceBytes = uint64_t{16} << 20;

void device_memory_init() {
  for (uint64_t i = 0; i < g_info->untyped_count && g_piece_count < kMaxPieces; ++i) {
    const abi::BootUntyped& u = g_info->untyped[i];
    if (u.device != 0) g_pieces[g_piece_count++] = {.slot = u.slot, .base = u.base, .bits = unsigned(u.size_bits)};
  }
}

// The slot (in init's CNode) of a frame of 2^frame_bits bytes (12 or 21)
// for the device memory at pa. kInvalidAddress: no device untyped covers
// it (not device memory, or hardware the kernel keeps); kNotEnoughMemory:
// init's slots ran out; kInvalidArgument: the memory there was made into
// frames of the other size already.
Error device_frame(uint64_t pa, unsigned frame_bits, uint64_t* frame) {
  pa &= ~((uint64_t{1} << frame_bits) - 1);
  const unsigned framed = frame_bits == 12 ? kFramedBits : kFramed2MBits;
  for (;;) {
    DevPiece* p = nullptr;
    for (size_t i = 0; i < g_piece_count && p == nullptr; ++i) {
      DevPiece& c = g_pieces[i];
      if (!c.split && pa >= c.base && pa - c.base < (uint64_t{1} << c.bits)) p = &c;
    }
    if (p == nullptr) return Error::kInvalidAddress;
    if (p->first_frame != 0) {
      if (p->frame_bits != frame_bits) return Error::kInvalidArgument;
      *frame = p->first_frame + ((pa - p->base) >> frame_bits);
      return Error::kOk;
    }
    if (p->bits <= framed) {
      if (p->bits < frame_bits) return Error::kInvalidArgument;
      const uint64_t n = uint64_t{1} << (p->bits - frame_bits);
      if (g_next_dev_slot + n > kDevSlotsEnd) return Error::kNotEnoughMemory;
      // (One Retype makes at most 2 MiB of objects: 2 MiB frames one per
      // call, still in address order from the untouched piece.)
      Error e =
          frame_bits == 12 ? sys::Untyped(p->slot).retype(ObjectType::kFrame4K, 0, g_next_dev_slot, n) : Error::kOk;
      for (uint64_t k = 0; frame_bits != 12 && e == Error::kOk && k < n; ++k) {
        e = sys::Untyped(p->slot).retype(ObjectType::kFrame2M, 0, g_next_dev_slot + k);
      }
      if (e != Error::kOk) return e;
      p->first_frame = g_next_dev_slot;
      p->frame_bits = frame_bits;
      g_next_dev_slot += n;
      continue;
    }
    if (g_next_dev_slot + 2 > kDevSlotsEnd || g_piece_count + 2 > kMaxPieces) return Error::kNotEnoughMemory;
    Error e = sys::Untyped(p->slot).retype(ObjectType::kUntyped, p->bits - 1, g_next_dev_slot, 2);
    if (e != Error::kOk) return e;
    p->split = true;
    const uint64_t half = uint64_t{1} << (p->bits - 1);
    g_pieces[g_piece_count++] = {.slot = g_next_dev_slot, .base = p->base, .bits = p->bits - 1};
    g_pieces[g_piece_count++] = {.slot = g_next_dev_slot + 1, .base = p->base + half, .bits = p->bits - 1};
    g_next_dev_slot += 2;
  }
}
Error device_page(uint64_t pa, uint64_t* frame) { return device_frame(pa, 12, frame); }

// A channel's shared memory and its two notifications, made once per pair
// (the first start of either end) from the pool; the ends get copies.
struct SharedPair {
  bool made = false;
  uint64_t first_frame = 0, frames = 0;
  uint64_t notify[2] = {};  // [0]: the pair's first task waits on it, [1]: the second
};
SharedPair g_pairs[sd::kMaxTasks];

Error shared_pair(uint64_t first, uint64_t bytes, SharedPair** out) {
  SharedPair& p = g_pairs[first];
  *out = &p;
  if (p.made) return Error::kOk;
  const uint64_t frames = bytes / 4096;
  if (g_next_dev_slot + frames + 2 > kDevSlotsEnd) return Error::kNotEnoughMemory;
  const sys::Untyped pool(kPool);
  Error e = pool.retype(ObjectType::kFrame4K, 0, g_next_dev_slot, frames);
  if (e == Error::kOk) e = pool.retype(ObjectType::kNotification, 0, g_next_dev_slot + frames, 2);
  if (e != Error::kOk) return e;
  p = SharedPair{.made = true,
                 .first_frame = g_next_dev_slot,
                 .frames = frames,
                 .notify = {g_next_dev_slot + frames, g_next_dev_slot + frames + 1}};
  g_next_dev_slot += frames + 2;
  return Error::kOk;
}

// Each driver's notification (its interrupts and its clients' wake-ups
// signal it), made once: it outlives restarts, so clients' wake-up
// capabilities to it stay good.
uint64_t g_task_ntfn[sd::kMaxTasks] = {};

Error task_notification(uint64_t index, uint64_t* slot) {
  if (g_task_ntfn[index] == 0) {
    if (g_next_dev_slot + 1 > kDevSlotsEnd) return Error::kNotEnoughMemory;
    Error e = sys::Untyped(kPool).retype(ObjectType::kNotification, 0, g_next_dev_slot);
    if (e != Error::kOk) return e;
    g_task_ntfn[index] = g_next_dev_slot++;
  }
  *slot = g_task_ntfn[index];
  return Error::kOk;
}

// A disk connection (client index -> its driver): kConnBytes of shared
// frames, physically contiguous (one retype from the pool), and the
// notification the driver wakes the client with. Made once.
struct DiskConn {
  bool made = false;
  uint64_t first_frame = 0, notify = 0, pa = 0;
};
DiskConn g_disk_conns[sd::kMaxTasks];

Error disk_conn(uint64_t client, DiskConn** out) {
  DiskConn& c = g_disk_conns[client];
  *out = &c;
  if (c.made) return Error::kOk;
  const uint64_t frames = abi::kConnBytes / 4096;
  if (g_next_dev_slot + frames + 1 > kDevSlotsEnd) return Error::kNotEnoughMemory;
  const sys::Untyped pool(kPool);
  Error e = pool.retype(ObjectType::kFrame4K, 0, g_next_dev_slot, frames);
  if (e == Error::kOk) e = pool.retype(ObjectType::kNotification, 0, g_next_dev_slot + frames);
  uint64_t pa = 0;
  for (uint64_t i = 0; e == Error::kOk && i < frames; ++i) {
    uint64_t p = 0;
    e = sys::FrameCap(g_next_dev_slot + i).address(&p);
    if (i == 0) pa = p;
    if (e == Error::kOk && p != pa + i * 4096) e = Error::kInvalidAddress;  // (one retype: never)
  }
  if (e != Error::kOk) return e;
  c = DiskConn{.made = true, .first_frame = g_next_dev_slot, .notify = g_next_dev_slot + frames, .pa = pa};
  g_next_dev_slot += frames + 1;
  return Error::kOk;
}

// The clients of driver `driver`, in description order (connection i).
uint64_t disk_clients(uint64_t driver, uint64_t* out) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < g_sys->task_count && n < abi::kMaxConns; ++i) {
    if (streq(g_sys->tasks[i].disk, g_sys->tasks[driver].name)) out[n++] = i;
  }
  return n;
}

// Maps a connection's frames at va in the task being made (scratch copies).
Error map_conn(const DiskConn& c, uint64_t as, uint64_t va, sys::LoadContext& ctx) {
  Error e = Error::kOk;
  for (uint64_t i = 0; e == Error::kOk && i < abi::kConnBytes / 4096; ++i) {
    const uint64_t copy = ctx.next_slot++;
    e = self.copy(copy, c.first_frame + i, abi::kRightRead | abi::kRightWrite);
    if (e == Error::kOk) e = sys::map_with_tables(ctx, copy, as, va + i * 4096, abi::kMapWrite);
  }
  return e;
}

// IrqHandlers init took, by INTID (a driver restarted gets the same one),
// and the task that has it: an interrupt is one task's (a second task
// whose device shares it is refused, not silently rebound).
struct TakenIrq {
  uint64_t intid = 0, slot = 0, owner = 0;
};
TakenIrq g_irqs[kIrqHandlersEnd - kIrqHandlers];
size_t g_irq_count = 0;

Error irq_handler(uint64_t intid, uint64_t owner, uint64_t* slot) {
  for (size_t i = 0; i < g_irq_count; ++i) {
    if (g_irqs[i].intid == intid) {
      if (g_irqs[i].owner != owner) return Error::kSlotOccupied;
      *slot = g_irqs[i].slot;
      return Error::kOk;
    }
  }
  if (g_irq_count == kIrqHandlersEnd - kIrqHandlers) return Error::kNotEnoughMemory;
  const uint64_t s = kIrqHandlers + g_irq_count;
  Error e = sys::IrqControl(islot::kIrqControl).get(intid, s);
  if (e != Error::kOk) return e;
  g_irqs[g_irq_count++] = {intid, s, owner};
  *slot = s;
  return Error::kOk;
}

const void* dtb() { return reinterpret_cast<const void*>(g_info->dtb_va); }

// With the boot argument keel.boot_report=NAME (bazel run //:bench), the
// time from reset to the ready line as a benchmark row: the virtual counter
// under QEMU -icount shift=0,sleep=off, where the virtual clock advances one
// nanosecond per guest instruction (on every CPU), so this counts the
// instructions all CPUs executed since reset, to the counter's resolution
// (16 at 62.5 MHz) — plus any time the clock skips to a timer while every
// CPU waits for an interrupt. Never inlined: its first instruction is where
// the profiler's boot window ends (bazel run //:profile -- boot).
[[gnu::noinline]] void report_boot_time() {
  char name[40];
  if (!sys::word_value(g_info->bootargs, "keel.boot_report", name, sizeof name)) return;
  uint64_t ticks, freq;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(ticks));
  asm volatile("mrs %0, cntfrq_el0" : "=r"(freq));
  const uint64_t ns = freq == 0 ? 0 : ticks / freq * 1'000'000'000ull + ticks % freq * 1'000'000'000ull / freq;
  sys::print("%s %llu instructions %llu cycles\n", name, ull(ns), ull(ns));
}

// ---- starting a task -------------------------------------------------------------------
// Into CNode `cn` (a slot of init's): copy / mint / move from init's own CNode.
Error put_copy(uint64_t cn, uint64_t dst, uint64_t src, uint8_t rights = abi::kRightsAll) {
  return sys::CNode(cn).copy(dst, src, rights, islot::kCNode);
}
Error put_mint(uint64_t cn, uint64_t dst, uint64_t src, uint8_t rights, uint64_t badge) {
  return sys::CNode(cn).mint(dst, src, rights, badge, islot::kCNode);
}
Error put_move(uint64_t cn, uint64_t dst, uint64_t src) { return sys::CNode(cn).move(dst, src, islot::kCNode); }

uint64_t task_index(const char* name) {
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    if (streq(g_sys->tasks[i].name, name)) return i;
  }
  return sd::kMaxTasks;
}

// The task at the other end of index's channel (either may declare it), or
// sd::kMaxTasks.
uint64_t channel_peer(uint64_t index) {
  const sd::Task& t = g_sys->tasks[index];
  uint64_t peer = t.channel[0] != '\0' ? task_index(t.channel) : sd::kMaxTasks;
  for (uint64_t i = 0; i < g_sys->task_count && peer == sd::kMaxTasks; ++i) {
    if (streq(g_sys->tasks[i].channel, t.name)) peer = i;  // the other end declared it
  }
  return peer;
}

Error write_start_info(sys::LoadContext& ctx, uint64_t frame, const abi::StartInfo& si) {
  uint64_t copy = ctx.next_slot++;
  Error e = self.copy(copy, frame, abi::kRightRead | abi::kRightWrite);
  if (e == Error::kOk) e = sys::map_with_tables(ctx, copy, islot::kAddressSpace, kScratchVa, abi::kMapWrite);
  if (e != Error::kOk) return e;
  auto* dst = reinterpret_cast<volatile uint8_t*>(kScratchVa);
  const auto* src = reinterpret_cast<const uint8_t*>(&si);
  for (size_t i = 0; i < sizeof si; ++i) dst[i] = src[i];
  return self.remove(copy);  // unmaps it from init
}

// A driver's devices (its description's `device` lines), into the task
// being made: frames mapped in its space (copies of init's, left in
// scratch slots that go to its CNode with its image's frames), one
// notification (task_slot::kDeviceNotification) its interrupts signal, an
// IrqHandler per interrupt, and what it needs to know in its start info.
// A device the DTB lacks is refused with a message; nothing is given then.
// Interrupt i of the task's device d: init's IrqHandler for it (kept
// across restarts), bound to the task's notification with the device's bit,
// a copy in its CNode at task_slot::kDeviceIrq, and its INTID in the start
// info. An interrupt another task has is refused with a message.
Error give_device_irq(uint64_t index, uint32_t d, uint32_t i, uint64_t intid, uint64_t cn, uint64_t ntfn,
                      sys::LoadContext& ctx, abi::DeviceInfo& info) {
  uint64_t handler = 0;
  Error e = irq_handler(intid, index, &handler);
  if (e == Error::kSlotOccupied) {
    sys::print("init: task %s: device '%s' interrupt %llu is another task's\n", g_sys->tasks[index].name,
               g_sys->tasks[index].devices[d], ull(intid));
  }
  const uint64_t badged = ctx.next_slot++;
  if (e == Error::kOk) e = self.mint(badged, ntfn, abi::kRightWrite, abi::device_irq_bit(d, i));
  if (e == Error::kOk) e = sys::IrqHandler(handler).set_notification(badged);
  if (e == Error::kOk) e = self.remove(badged);
  if (e == Error::kOk) e = put_copy(cn, abi::task_slot::kDeviceIrq + abi::kMaxDeviceIrqs * d + i, handler);
  if (e == Error::kOk) info.intid[info.irq_count++] = intid;
  return e;
}

// The PCI bus task (the running driver that `serves = pci`), or kMaxTasks.
uint64_t pci_bus_task() {
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    if ((g_sys->tasks[i].serves & sd::kServePci) != 0 && g_tasks[i].state == TaskState::kRunning) return i;
  }
  return sd::kMaxTasks;
}

// The PCI functions the task was given back to the bus task: bus
// mastering and decode off before its memory is reused (a function that
// no longer answers is forgotten all the same: the bus task is trusted to
// have done it, and if it is gone there is nobody to ask).
void release_pci(uint64_t index) {
  TaskRun& run = g_tasks[index];
  const uint64_t bus = pci_bus_task();
  for (uint32_t d = 0; d < sd::kMaxDevices; ++d) {
    if ((run.pci_claimed & (1u << d)) == 0) continue;
    if (bus < sd::kMaxTasks) {
      const Error e = keel::pcibus::release(sys::Endpoint(kDriverEps + bus), run.pci_bdf[d]);
      if (e != Error::kOk) {
        sys::print("init: %s: the PCI bus task did not release its function (%s)\n", g_sys->tasks[index].name,
                   abi::error_name(e));
      }
    }
    run.pci_claimed &= ~(1u << d);
  }
}

// The IoSpaces of the task being made (scratch slots; 0: none), into
// which give_dma maps its DMA memory; they go to its CNode at the end.
uint64_t g_making_io[sd::kMaxDevices] = {};
// Whether every device of the task being made is dma-coherent (its DTB
// node says so; a PCI function: its host bridge), as give_devices found.
bool g_making_coherent = true;
bool g_iommu_absent = false;  // (learnt from the first Bind: the kernel's boot log says which)

// Behind an IOMMU: an IoSpace from the task's block, bound to the
// function's stream (its every DMA is translated through it from now on;
// until now it was aborted), labelled with the task's id for the kernel's
// fault reports. Without an IOMMU, nothing (the device reaches all memory).
Error give_io_space(uint64_t index, uint32_t d, uint64_t stream, const sys::Untyped& ut, sys::LoadContext& ctx) {
  if (g_iommu_absent) return Error::kOk;
  const uint64_t io = ctx.next_slot++;
  Error e = ut.retype(ObjectType::kIoSpace, 0, io);
  if (e == Error::kOk) e = sys::IoControl(islot::kIoControl).bind(io, stream, task_id(index));
  if (e == Error::kInvalidArgument && stream < 256) {  // no IOMMU (a stream the table covers is refused only then)
    g_iommu_absent = true;
    (void)self.remove(io);
    return Error::kOk;
  }
  if (e != Error::kOk) {
    sys::print("init: task %s: its device's DMA stream 0x%llx cannot be given an IoSpace (%s)\n",
               g_sys->tasks[index].name, ull(stream), abi::error_name(e));
    return e;
  }
  g_making_io[d] = io;
  return Error::kOk;
}

// Device d of the task, a PCI function (`device = pci:...`): claimed from
// the bus task (which turns on its decode and bus mastering), its memory
// BARs mapped one after another in the device's window, its INTx as an
// IrqHandler like any device interrupt, and a copy of the bus task's
// endpoint badged with the function for its config space.
Error give_pci_device(uint64_t index, uint32_t d, uint64_t cn, uint64_t as, uint64_t ntfn, const sys::Untyped& ut,
                      sys::LoadContext& ctx, abi::DeviceInfo& info) {
  const sd::Task& t = g_sys->tasks[index];
  const uint64_t bus = pci_bus_task();
  if (bus == sd::kMaxTasks) {
    sys::print("init: task %s: device '%s' needs the PCI bus task (a running driver with 'serves = pci')\n", t.name,
               t.devices[d]);
    return Error::kInvalidArgument;
  }
  keel::pci::Match match;
  if (const char* why = keel::pci::parse_match(t.devices[d], &match)) {
    sys::print("init: task %s: device '%s': %s\n", t.name, t.devices[d], why);
    return Error::kInvalidArgument;
  }
  keel::pcibus::Claimed c;
  Error e = keel::pcibus::claim(sys::Endpoint(kDriverEps + bus), match, task_id(index), &c);
  if (e != Error::kOk) {
    sys::print("init: task %s: no PCI function '%s' for it (%s)\n", t.name, t.devices[d],
               e == Error::kSlotOccupied ? "another task has it" : "not on the bus");
    return Error::kInvalidArgument;
  }
  g_tasks[index].pci_claimed |= 1u << d;
  keel::pci::Host host;  // (DMA coherence: as its host bridge says)
  g_making_coherent &=
      keel::pci::find_host(dtb(), g_info->dtb_size, 0, &host) == keel::Status::kOk && host.dma_coherent;
  g_tasks[index].pci_bdf[d] = c.bdf;
  info.pci = 1;
  (void)keel::snformat(info.path, sizeof info.path, "pci %02x:%02x.%u", c.bdf >> 8, (c.bdf >> 3) & 0x1f, c.bdf & 7);
  info.pci_bdf = c.bdf;
  info.pci_id = uint32_t{c.vendor} << 16 | c.device;
  info.pci_class = c.class_code;
  info.pci_stream = c.stream;
  uint64_t va = abi::kDeviceVa + d * abi::kDeviceWindow;
  for (unsigned b = 0; e == Error::kOk && b < 6; ++b) {
    if (c.bar_size[b] == 0) continue;
    const uint64_t pages = (c.bar_size[b] + 0xfff) / 4096;
    if (pages > kMaxDevicePages || (c.bar_address[b] & 0xfff) != 0) {
      sys::print("init: task %s: device '%s' BAR%u is %llu KiB; init maps at most %llu KiB\n", t.name, t.devices[d], b,
                 ull(c.bar_size[b] >> 10), ull(kMaxDevicePages * 4));
      return Error::kInvalidArgument;
    }
    info.bar_va[b] = va;
    info.bar_pa[b] = c.bar_address[b];
    info.bar_size[b] = c.bar_size[b];
    for (uint64_t i = 0; e == Error::kOk && i < pages; ++i, va += 4096) {
      uint64_t frame = 0;
      e = device_page(c.bar_address[b] + i * 4096, &frame);
      if (e == Error::kInvalidAddress) {
        sys::print("init: task %s: device '%s' BAR%u at 0x%llx is not device memory user space may have\n", t.name,
                   t.devices[d], b, ull(c.bar_address[b]));
      }
      const uint64_t copy = ctx.next_slot++;
      if (e == Error::kOk) e = self.copy(copy, frame, abi::kRightRead | abi::kRightWrite);
      if (e == Error::kOk) e = sys::map_with_tables(ctx, copy, as, va, abi::kMapWrite);
    }
  }
  if (e == Error::kOk && c.intid != 0) {
    e = give_device_irq(index, d, 0, c.intid, cn, ntfn, ctx, info);
  }
  if (e == Error::kOk) {
    e = put_mint(cn, tslot::kPciConfig + d, kDriverEps + bus, abi::kRightWrite, keel::pcibus::kDriverBadge | c.bdf);
  }
  if (e == Error::kOk && c.stream != keel::pcibus::kNoStream) e = give_io_space(index, d, c.stream, ut, ctx);
  return e;
}

Error give_devices(uint64_t index, uint64_t cn, uint64_t as, const sys::Untyped& ut, sys::LoadContext& ctx,
                   abi::StartInfo* si) {
  const sd::Task& t = g_sys->tasks[index];
  keel::devices::Device dev[sd::kMaxDevices];
  for (uint32_t d = 0; d < t.device_count; ++d) {
    if (keel::pci::is_spec(t.devices[d])) continue;  // (found through the bus task)
    const char* why = "";
    keel::Status st = keel::devices::find(dtb(), g_info->dtb_size, t.devices[d], &dev[d], &why, g_info->stdout_path);
    if (st == keel::Status::kNotFound) {
      sys::print("init: task %s: no enabled node '%s' in this machine's DTB%s%s\n", t.name, t.devices[d],
                 why[0] != '\0' ? ": " : "", why);
      return Error::kInvalidArgument;
    }
    if (st != keel::Status::kOk) {
      sys::print("init: task %s: device '%s': %s (%s)\n", t.name, t.devices[d], keel::status_name(st), why);
      return Error::kInvalidArgument;
    }
    g_making_coherent &= dev[d].dma_coherent;
  }
  uint64_t ntfn = 0;
  Error e = task_notification(index, &ntfn);
  for (uint32_t d = 0; e == Error::kOk && d < t.device_count; ++d) {
    abi::DeviceInfo& info = si->devices[si->device_count++];
    for (size_t c = 0; c + 1 < sizeof info.spec && t.devices[d][c] != '\0'; ++c) info.spec[c] = t.devices[d][c];
    if (keel::pci::is_spec(t.devices[d])) {
      e = give_pci_device(index, d, cn, as, ntfn, ut, ctx, info);
      continue;
    }
    for (size_t c = 0; c + 1 < sizeof info.path && dev[d].path[c] != '\0'; ++c) info.path[c] = dev[d].path[c];
    uint64_t va = abi::kDeviceVa + d * abi::kDeviceWindow;
    for (size_t r = 0; e == Error::kOk && r < dev[d].range_count && r < abi::kMaxDeviceRanges; ++r) {
      const keel::dtb::Range& range = dev[d].ranges[r];
      const uint64_t first = range.base & ~uint64_t{0xfff}, end = (range.base + range.size + 0xfff) & ~uint64_t{0xfff};
      constexpr uint64_t k2M = uint64_t{1} << 21;
      if (end - first > kMaxDevicePages * 4096 && (range.base & (k2M - 1)) == 0 && (range.size & (k2M - 1)) == 0) {
        // Large and 2 MiB aligned: 2 MiB frames, at most kMaxLargeDeviceBytes.
        const uint64_t size = range.size < kMaxLargeDeviceBytes ? range.size : kMaxLargeDeviceBytes;
        info.ranges[info.range_count++] = {.va = va, .pa = range.base, .size = size};
        for (uint64_t off = 0; e == Error::kOk && off < size; off += k2M, va += k2M) {
          uint64_t frame = 0;
          e = device_frame(range.base + off, 21, &frame);
          const uint64_t copy = ctx.next_slot++;
          if (e == Error::kOk) e = self.copy(copy, frame, abi::kRightRead | abi::kRightWrite);
          if (e == Error::kOk) e = sys::map_with_tables(ctx, copy, as, va, abi::kMapWrite);
        }
        if (e != Error::kOk) {
          sys::print("init: task %s: device '%s': its %llu MiB range could not be mapped (%s)\n", t.name, t.devices[d],
                     ull(range.size >> 20), abi::error_name(e));
        }
        va = (va + 0xfff) & ~uint64_t{0xfff};
        continue;
      }
      if (end - first > kMaxDevicePages * 4096) {
        sys::print("init: task %s: device '%s' has %llu KiB of registers; init maps at most %llu KiB per range\n",
                   t.name, t.devices[d], ull(range.size >> 10), ull(kMaxDevicePages * 4));
        return Error::kInvalidArgument;
      }
      info.ranges[info.range_count++] = {.va = va + (range.base - first), .pa = range.base, .size = range.size};
      for (uint64_t pa = first; e == Error::kOk && pa < end; pa += 4096, va += 4096) {
        uint64_t frame = 0;
        e = device_page(pa, &frame);
        if (e == Error::kInvalidAddress) {
          sys::print("init: task %s: device '%s' page 0x%llx is not device memory user space may have\n", t.name,
                     t.devices[d], ull(pa));
        }
        const uint64_t copy = ctx.next_slot++;
        if (e == Error::kOk) e = self.copy(copy, frame, abi::kRightRead | abi::kRightWrite);
        if (e == Error::kOk) e = sys::map_with_tables(ctx, copy, as, va, abi::kMapWrite);
      }
    }
    for (size_t i = 0; e == Error::kOk && i < dev[d].irq_count && i < abi::kMaxDeviceIrqs; ++i) {
      e = give_device_irq(index, d, static_cast<uint32_t>(i), dev[d].irqs[i].intid, cn, ntfn, ctx, info);
    }
  }
  if (e == Error::kOk) e = put_copy(cn, tslot::kDeviceNotification, ntfn);
  return e;
}

// The bus task's read-only copy of the DTB (it reads the host bridge from
// it): the header and blocks up to the end of the last of them — QEMU's
// totalsize is 1 MiB of mostly padding — with totalsize set to that.
constexpr uint64_t kMaxDtbCopy = uint64_t{64} << 10;
Error give_dtb(uint64_t as, sys::LoadContext& ctx, abi::StartInfo* si) {
  const auto* d = static_cast<const uint8_t*>(dtb());
  auto be32 = [&](size_t at) {
    return uint32_t{d[at]} << 24 | uint32_t{d[at + 1]} << 16 | uint32_t{d[at + 2]} << 8 | d[at + 3];
  };
  // (the kernel parsed it at boot: the header is sound)
  const uint64_t structs = uint64_t{be32(8)} + be32(36), strings = uint64_t{be32(12)} + be32(32);
  const uint64_t used = structs > strings ? structs : strings;
  if (used > g_info->dtb_size || used > kMaxDtbCopy) {
    sys::print("init: the DTB holds %llu KiB; the bus task's copy holds at most %llu KiB\n", ull(used >> 10),
               ull(kMaxDtbCopy >> 10));
    return Error::kInvalidArgument;
  }
  static uint8_t page[4096];  // (init's main thread only)
  Error e = Error::kOk;
  for (uint64_t off = 0; e == Error::kOk && off < used; off += 4096) {
    const size_t len = used - off < 4096 ? used - off : 4096;
    for (size_t i = 0; i < len; ++i) page[i] = d[off + i];
    if (off == 0) {  // totalsize (big-endian) = what is copied
      for (unsigned b = 0; b < 4; ++b) page[4 + b] = static_cast<uint8_t>(used >> (24 - 8 * b));
    }
    e = sys::load_page(ctx, as, abi::kDtbVa + off, page, len, 0);
  }
  si->dtb_va = abi::kDtbVa;
  si->dtb_size = used;
  return e;
}

// The user timer (`timer = yes`): its IrqHandler (init keeps the original,
// so a restarted driver gets it again), signalling the driver's
// notification with abi::kTimerBit.
Error give_timer(uint64_t index, uint64_t cn, sys::LoadContext& ctx) {
  uint64_t ntfn = 0, handler = 0;
  Error e = task_notification(index, &ntfn);
  if (e == Error::kOk) e = irq_handler(abi::kTimerIntid, index, &handler);
  const uint64_t badged = ctx.next_slot++;
  if (e == Error::kOk) e = self.mint(badged, ntfn, abi::kRightWrite, abi::kTimerBit);
  if (e == Error::kOk) e = sys::IrqHandler(handler).set_notification(badged);
  if (e == Error::kOk) e = self.remove(badged);
  if (e == Error::kOk) e = put_copy(cn, tslot::kTimer, handler);
  if (e != Error::kOk) sys::print("init: task %s: no timer (%s)\n", g_sys->tasks[index].name, abi::error_name(e));
  return e;
}

// A driver's DMA memory: the untyped `dma` (physically contiguous: one
// block of the pool) made into frames in address order, mapped from
// kDmaVa, the frames into its CNode from task_slot::kDmaFrames. Write-back
// if every device it has is dma-coherent (its DTB says so), else
// non-cacheable (the kernel cleans the lines first).
Error give_dma(const sd::Task& t, uint64_t dma, uint64_t cn, uint64_t as, sys::LoadContext& ctx, abi::StartInfo* si) {
  const bool coherent = g_making_coherent;  // (give_devices found the devices)
  const uint64_t flags = abi::kMapWrite | (coherent ? 0 : abi::kMapUncached);
  const uint64_t frames = t.dma_bytes / 4096;
  Error e = frames > tslot::kDmaFramesMax ? Error::kInvalidArgument : Error::kOk;
  for (uint64_t i = 0; e == Error::kOk && i < frames; ++i) {
    const uint64_t f = ctx.next_slot;  // (a scratch slot, moved out at once)
    e = sys::Untyped(dma).retype(ObjectType::kFrame4K, 0, f);
    if (e == Error::kOk && i == 0) e = sys::FrameCap(f).address(&si->dma_pa);
    if (e == Error::kOk) e = sys::map_with_tables(ctx, f, as, abi::kDmaVa + i * 4096, flags);
    // The devices' view: a copy of the frame in each IoSpace, at the same
    // offset from kDmaIova (the copy goes to the task's CNode with the
    // scratch slots; deleting it unmaps the page from the device).
    for (uint32_t d = 0; e == Error::kOk && d < sd::kMaxDevices; ++d) {
      if (g_making_io[d] == 0) continue;
      if (ctx.next_slot == f) ++ctx.next_slot;  // (f's scratch slot stays f's until it moves)
      const uint64_t copy = ctx.next_slot++;
      e = self.copy(copy, f, abi::kRightRead | abi::kRightWrite);
      if (e == Error::kOk)
        e = sys::map_with_tables(ctx, copy, g_making_io[d], abi::kDmaIova + i * 4096, abi::kMapWrite);
    }
    if (e == Error::kOk) e = put_move(cn, tslot::kDmaFrames + i, f);
  }
  if (e != Error::kOk) return e;
  bool io = false;
  for (uint64_t slot : g_making_io) io |= slot != 0;
  si->dma_iova = io ? abi::kDmaIova : si->dma_pa;
  si->dma_va = abi::kDmaVa;
  si->dma_size = t.dma_bytes;
  si->dma_uncached = coherent ? 0 : 1;
  return Error::kOk;
}

// A channel's shared memory, mapped into the task being made (copies of
// the pair's frames, left in scratch slots that go to its CNode), and its
// two notifications: its own to wait on, the other end's to wake it.
Error give_shared(uint64_t index, uint64_t peer, uint64_t cn, uint64_t as, sys::LoadContext& ctx, abi::StartInfo* si) {
  const sd::Task &t = g_sys->tasks[index], &u = g_sys->tasks[peer];
  const uint64_t bytes = t.shared_bytes > u.shared_bytes ? t.shared_bytes : u.shared_bytes;
  const uint64_t first = index < peer ? index : peer;
  SharedPair* p = nullptr;
  Error e = shared_pair(first, bytes, &p);
  for (uint64_t i = 0; e == Error::kOk && i < p->frames; ++i) {
    const uint64_t copy = ctx.next_slot++;
    e = self.copy(copy, p->first_frame + i, abi::kRightRead | abi::kRightWrite);
    if (e == Error::kOk) e = sys::map_with_tables(ctx, copy, as, abi::kSharedVa + i * 4096, abi::kMapWrite);
  }
  const unsigned me = index == first ? 0 : 1;
  if (e == Error::kOk) e = put_copy(cn, tslot::kSharedWait, p->notify[me], abi::kRightRead | abi::kRightWrite);
  if (e == Error::kOk) e = put_copy(cn, tslot::kSharedWake, p->notify[1 - me], abi::kRightWrite);
  if (e != Error::kOk) return e;
  si->shared_va = abi::kSharedVa;
  si->shared_size = p->frames * 4096;
  si->shared_first = me == 0 ? 1 : 0;
  return Error::kOk;
}

// Disk connections: a client's (its partition of a driver's disk) and a
// block driver's (one per client naming it). The client gets the shared
// memory, its completion notification and a badged wake-up of the
// driver's notification; the driver the same memory and a wake-up of each
// client, the partitions in its start info.
Error give_disks(uint64_t index, uint64_t cn, uint64_t as, sys::LoadContext& ctx, abi::StartInfo* si) {
  const sd::Task& t = g_sys->tasks[index];
  Error e = Error::kOk;
  if (t.disk[0] != '\0') {
    const uint64_t driver = task_index(t.disk);
    uint64_t clients[abi::kMaxConns];
    const uint64_t n = driver == sd::kMaxTasks ? 0 : disk_clients(driver, clients);
    uint64_t conn = n;
    for (uint64_t k = 0; k < n; ++k) conn = clients[k] == index ? k : conn;
    if (conn == n) return Error::kInvalidArgument;
    DiskConn* c = nullptr;
    uint64_t drv_ntfn = 0, wake = ctx.next_slot++;
    e = disk_conn(index, &c);
    if (e == Error::kOk) e = task_notification(driver, &drv_ntfn);
    if (e == Error::kOk) e = map_conn(*c, as, abi::kDiskVa, ctx);
    if (e == Error::kOk) e = put_copy(cn, tslot::kDiskWait, c->notify, abi::kRightRead | abi::kRightWrite);
    if (e == Error::kOk) e = self.mint(wake, drv_ntfn, abi::kRightWrite, abi::conn_bit(conn));
    if (e == Error::kOk) e = put_move(cn, tslot::kDiskWake, wake);
    if (e == Error::kOk) si->disk_va = abi::kDiskVa;
  }
  if (t.role == sd::Role::kDriver) {
    uint64_t clients[abi::kMaxConns];
    const uint64_t n = disk_clients(index, clients);
    for (uint64_t k = 0; e == Error::kOk && k < n; ++k) {
      DiskConn* c = nullptr;
      const uint64_t va = abi::kConnVa + k * abi::kConnBytes;
      e = disk_conn(clients[k], &c);
      if (e == Error::kOk) e = map_conn(*c, as, va, ctx);
      if (e == Error::kOk && g_sys->tasks[clients[k]].role == sd::Role::kDriver) {
        // A driver as the client waits on its own notification: the wake-up
        // sets abi::kUpstreamBit there.
        uint64_t client_ntfn = 0;
        const uint64_t wake = ctx.next_slot++;
        e = task_notification(clients[k], &client_ntfn);
        if (e == Error::kOk) e = self.mint(wake, client_ntfn, abi::kRightWrite, abi::kUpstreamBit);
        if (e == Error::kOk) e = put_move(cn, tslot::kConnWake + k, wake);
      } else if (e == Error::kOk) {
        e = put_copy(cn, tslot::kConnWake + k, c->notify, abi::kRightWrite);
      }
      // Its devices reach the connection directly (the driver's data moves
      // between the client's memory and the disk): behind an IOMMU, mapped in
      // each IoSpace, and the device's address is that IOVA.
      uint64_t device_address = c->pa;
      for (uint32_t d = 0; e == Error::kOk && d < sd::kMaxDevices; ++d) {
        if (g_making_io[d] == 0) continue;
        device_address = abi::kConnIova + k * abi::kConnBytes;
        e = map_conn(*c, g_making_io[d], device_address, ctx);
      }
      const sd::Task& u = g_sys->tasks[clients[k]];
      if (e == Error::kOk) {
        si->conns[si->conn_count++] = {.client_id = task_id(clients[k]),
                                       .va = va,
                                       .pa = device_address,
                                       .part_offset = u.disk_offset,
                                       .part_size = u.disk_size};
      }
    }
  }
  return e;
}

// ---- the watchdog (`watchdog = 2s`) --------------------------------------------------
// Init pings a running driver that has a watchdog every watchdog_ms / 2
// (abi::kWatchdogBit in its notification); sys::driver_wait answers on
// task_slot::kWatchdog, a write-only copy of g_watchdog_ntfn badged with
// the task's id bit. One that has missed two pings in a row and not
// answered for watchdog_ms — it loops, or is blocked somewhere else — is
// failed like a faulted one (supervise). Init runs above every task, so a
// driver spinning at its own priority cannot keep the watchdog from running.
struct Watch {
  uint64_t ping = 0;         // slot: its notification, badged kWatchdogBit (made once)
  uint64_t answered_ns = 0;  // its last answer (or start)
  uint64_t next_ns = 0;      // the next ping (0: not watched now)
  unsigned missed = 0;       // pings sent since its last answer
};
Watch g_watch[sd::kMaxTasks];
uint64_t g_watchdog_ntfn = 0;  // slot (made with the first watched task)
uint64_t g_answered = 0;       // answers polled from it, not yet looked at (task id bits)

uint64_t watch_period_ns(const sd::Task& t) { return uint64_t{t.watchdog_ms} * 1'000'000 / 2; }

Error give_watchdog(uint64_t index, uint64_t cn) {
  Watch& w = g_watch[index];
  uint64_t ntfn = 0;
  Error e = task_notification(index, &ntfn);
  if (e == Error::kOk && g_watchdog_ntfn == 0) {
    if (g_next_dev_slot + 1 > kDevSlotsEnd) return Error::kNotEnoughMemory;
    e = sys::Untyped(kPool).retype(ObjectType::kNotification, 0, g_next_dev_slot);
    if (e == Error::kOk) g_watchdog_ntfn = g_next_dev_slot++;
  }
  if (e == Error::kOk && w.ping == 0) {
    if (g_next_dev_slot + 1 > kDevSlotsEnd) return Error::kNotEnoughMemory;
    e = self.mint(g_next_dev_slot, ntfn, abi::kRightWrite, abi::kWatchdogBit);
    if (e == Error::kOk) w.ping = g_next_dev_slot++;
  }
  if (e == Error::kOk)
    e = put_mint(cn, tslot::kWatchdog, g_watchdog_ntfn, abi::kRightWrite, uint64_t{1} << task_id(index));
  if (e != Error::kOk) return e;
  const uint64_t now = sys::now_ns();
  g_answered &= ~(uint64_t{1} << task_id(index));  // (a previous instance's answer)
  w.answered_ns = now;
  w.missed = 0;
  w.next_ns = now + watch_period_ns(g_sys->tasks[index]);
  return Error::kOk;
}

Error make_task(uint64_t index) {
  const sd::Task& t = g_sys->tasks[index];
  const uint64_t id = task_id(index);
  TaskRun& run = g_tasks[index];
  const uint64_t block = task_slot(index, kBlock), cn = task_slot(index, kCNode), as = task_slot(index, kAs),
                 th = task_slot(index, kThread), own = task_slot(index, kOwnUntyped);
  const bool memory_server = t.role == sd::Role::kMemoryServer, console_server = t.role == sd::Role::kConsoleServer;
  const bool paged = paged_role(t.role);
  const unsigned cnode_bits = memory_server ? abi::kMemoryServerCNodeBits : abi::kTaskCNodeBits;
  // Its block: its own untyped and DMA memory first, the larger at offset 0
  // (powers of two, so both aligned without a gap), then the CNode and
  // room for image, tables and stack: 512 KiB, or the program's pages and
  // 128 KiB when that is more (the network stack's lwIP pools).
  const abi::BootModule* module = find_module(t.program);
  const uint64_t image = sys::program_pages(reinterpret_cast<const uint8_t*>(module->va), module->size) * 4096;
  const uint64_t room = image + (128u << 10) > (512u << 10) ? image + (128u << 10) : (512u << 10);
  const uint64_t bytes = t.untyped_bytes + t.dma_bytes + (uint64_t{64} << cnode_bits) + room;
  Error e = Error::kOk;
  if (!run.made) {
    e = sys::Untyped(kPool).retype(ObjectType::kUntyped, log2_up(bytes), block);
    if (e != Error::kOk) return e;
    run.made = true;
  } else {
    if (paged) {  // what the memory server gave it goes back first
      sys::Message m = keel::memory::message(keel::memory::kRelease, id);
      (void)keel::memory::request(sys::Endpoint(kMemory), m);
    }
    e = self.revoke(block);  // everything made for its last run
    if (e != Error::kOk) return e;
  }
  const sys::Untyped ut(block);
  const uint64_t dma = task_slot(index, kDma);
  const bool dma_first = t.dma_bytes > t.untyped_bytes;
  if (dma_first) e = ut.retype(ObjectType::kUntyped, log2_up(t.dma_bytes), dma);
  if (e == Error::kOk && t.untyped_bytes != 0) e = ut.retype(ObjectType::kUntyped, log2_up(t.untyped_bytes), own);
  if (e == Error::kOk && !dma_first && t.dma_bytes != 0) e = ut.retype(ObjectType::kUntyped, log2_up(t.dma_bytes), dma);
  if (e == Error::kOk) e = ut.retype(ObjectType::kCNode, cnode_bits, cn);
  if (e == Error::kOk) e = ut.retype(ObjectType::kAddressSpace, 0, as);
  if (e == Error::kOk) e = ut.retype(ObjectType::kThread, 0, th);
  if (e != Error::kOk) return e;

  // The program, its IPC buffer and its start-info page.
  sys::LoadContext ctx{.cnode = islot::kCNode,
                       .untyped = block,
                       .caller_as = islot::kAddressSpace,
                       .scratch_va = kScratchVa,
                       .next_slot = kScratch,
                       .slot_limit = kScratchEnd,
                       .next_table = kScratchTables,
                       .table_limit = kScratchTablesEnd};
  const abi::BootModule* mod = find_module(t.program);
  sys::LoadedProgram prog;
  e = sys::load_program(ctx, reinterpret_cast<const uint8_t*>(mod->va), mod->size, as, &prog);
  uint64_t ipc = ctx.next_slot++, info = ctx.next_slot++;
  if (e == Error::kOk) e = ut.retype(ObjectType::kFrame4K, 0, ipc);
  if (e == Error::kOk) e = ut.retype(ObjectType::kFrame4K, 0, info);
  if (e == Error::kOk) e = sys::map_with_tables(ctx, ipc, as, abi::kIpcBufferVa, abi::kMapWrite);
  abi::StartInfo si{};
  si.magic = abi::kStartInfoMagic;
  for (size_t i = 0; i < sizeof si.name - 1 && t.name[i] != '\0'; ++i) si.name[i] = t.name[i];
  si.id = id;
  si.priority = t.priority;
  si.cpu_count = g_info->cpus_online;
  si.memory_bytes = g_info->memory_bytes;
  si.quota_bytes = t.quota_bytes;
  si.untyped_bytes = t.untyped_bytes;
  si.buffer_bytes = t.buffer_bytes;
  if (memory_server) {
    si.untyped_count = g_give_count;
    si.untyped_bytes_total = g_give_bytes;
  }
  for (uint64_t& slot : g_making_io) slot = 0;
  g_making_coherent = true;
  if (e == Error::kOk && (t.serves & sd::kServePci) != 0) e = give_dtb(as, ctx, &si);
  if (e == Error::kOk && t.device_count != 0) e = give_devices(index, cn, as, ut, ctx, &si);
  if (e == Error::kOk && t.dma_bytes != 0) e = give_dma(t, dma, cn, as, ctx, &si);
  if (e == Error::kOk && t.timer != 0) e = give_timer(index, cn, ctx);
  if (e == Error::kOk && t.role == sd::Role::kDriver && t.device_count == 0) {
    // A stacked driver's notification (give_devices puts a device driver's):
    // its upstream driver, its clients and its timer signal it.
    uint64_t own = 0;
    e = task_notification(index, &own);
    if (e == Error::kOk) e = put_copy(cn, tslot::kDeviceNotification, own);
  }
  if (e == Error::kOk) e = give_disks(index, cn, as, ctx, &si);
  const uint64_t peer = channel_peer(index);
  if (e == Error::kOk && peer < sd::kMaxTasks && (t.shared_bytes | g_sys->tasks[peer].shared_bytes) != 0) {
    e = give_shared(index, peer, cn, as, ctx, &si);
  }
  if (e == Error::kOk) e = write_start_info(ctx, info, si);
  if (e == Error::kOk) e = sys::map_with_tables(ctx, info, as, abi::kStartInfoVa, 0);
  if (e != Error::kOk) return e;
  for (uint32_t d = 0; d < sd::kMaxDevices; ++d) {  // (its IoSpaces first: fixed slots)
    if (g_making_io[d] != 0 && put_move(cn, tslot::kIoSpace + d, g_making_io[d]) != Error::kOk)
      return Error::kInvalidArgument;
  }
  // Its pages' capabilities go to its own CNode: frames (empty slots are
  // the scratch copies, deleted again), then tables (empty: dropped spares).
  uint64_t d = tslot::kImage;
  for (uint64_t s = kScratch; s < ctx.next_slot && d < tslot::kImageMax; ++s) {
    if (put_move(cn, d, s) == Error::kOk) ++d;
  }
  for (uint64_t s = kScratchTables; s < ctx.next_table && d < tslot::kImageMax; ++s) {
    if (put_move(cn, d, s) == Error::kOk) ++d;
  }

  // Its capabilities.
  e = put_copy(cn, tslot::kCNode, cn);
  if (e == Error::kOk) e = put_copy(cn, tslot::kThread, th);
  if (e == Error::kOk) e = put_copy(cn, tslot::kAddressSpace, as);
  if (e == Error::kOk && (t.caps & sd::kCapMemory) != 0) {
    e = put_mint(cn, tslot::kMemory, kEpMemory, abi::kRightWrite | abi::kRightGrant, id);
  }
  if (e == Error::kOk && (t.caps & sd::kCapConsole) != 0) {
    e = put_mint(cn, tslot::kConsole, kEpConsole, abi::kRightWrite | abi::kRightGrant, id);
  }
  if (e == Error::kOk && paged) {
    e = put_mint(cn, tslot::kPager, kEpMemory, abi::kRightWrite, id | abi::kPagerBadge);
  }
  if (e == Error::kOk && t.untyped_bytes != 0) e = put_move(cn, tslot::kUntyped, own);
  if (e == Error::kOk && peer < sd::kMaxTasks) {
    // One endpoint per pair, in the slot of the pair's first task; whichever starts first makes it.
    uint64_t ch = kChannels + (index < peer ? index : peer);
    Error made = sys::Untyped(kPool).retype(ObjectType::kEndpoint, 0, ch);
    if (made != Error::kOk && made != Error::kSlotOccupied) e = made;
    if (e == Error::kOk) e = put_copy(cn, tslot::kChannel, ch);
  }
  if (e == Error::kOk && console_server) {
    e = put_copy(cn, tslot::kServerEndpoint, kEpConsole);
    if (e == Error::kOk) e = put_copy(cn, tslot::kKernelLog, islot::kKernelLog);
    // Ctrl-C: the console server sets the interrupt bit in init's exit notification.
    if (e == Error::kOk) e = put_mint(cn, tslot::kConsoleInterrupt, kExitNtfn, abi::kRightWrite, kInterruptBit);
  }
  if (e == Error::kOk && t.role == sd::Role::kDriver) {
    // The endpoint it serves (made once: a restarted driver serves the same one).
    Error made = sys::Untyped(kPool).retype(ObjectType::kEndpoint, 0, kDriverEps + index);
    if (made != Error::kOk && made != Error::kSlotOccupied) e = made;
    if (e == Error::kOk) e = put_copy(cn, tslot::kServerEndpoint, kDriverEps + index);
  }
  if (e == Error::kOk && memory_server) {
    e = put_copy(cn, tslot::kServerEndpoint, kEpMemory);
    for (uint64_t i = 0; e == Error::kOk && i < g_give_count; ++i)
      e = put_move(cn, tslot::kMemoryUntyped + i, g_give[i]);
  }
  if (e != Error::kOk) return e;

  // Clients and drivers: the memory server learns of them (and pages for them).
  if (paged) {
    const uint64_t mcn = task_slot(g_memory_index, kCNode);
    const uint64_t at = tslot::kMemoryClients + 4 * id;
    for (uint64_t k = 0; k < 3; ++k) (void)sys::CNode(mcn).remove(at + k);  // a previous run's (if any)
    e = put_copy(mcn, at, as);
    if (e == Error::kOk) e = put_copy(mcn, at + 1, th);
    if (e == Error::kOk) e = put_mint(mcn, at + 2, kExitNtfn, abi::kRightWrite, uint64_t{1} << id);
    sys::Message m = keel::memory::message(keel::memory::kRegister, id, t.quota_bytes / 4096);
    m.mr[2] = m.mr[3] = 0;
    for (size_t i = 0; i < 15 && t.name[i] != '\0'; ++i)
      m.mr[2 + i / 8] |= uint64_t{uint8_t(t.name[i])} << (8 * (i % 8));
    m.length = 4;
    if (e == Error::kOk) e = keel::memory::request(sys::Endpoint(kMemory), m);
    if (e != Error::kOk) return e;
  }

  const sys::ThreadCap thread(th);
  e = thread.configure(cn, as, t.priority, paged ? tslot::kPager : 0);
  if (e == Error::kOk && thread.set_affinity(t.cpu) != Error::kOk) e = thread.set_affinity(0);  // not online: CPU 0
  if (e == Error::kOk) e = thread.set_ipc_buffer(abi::kIpcBufferVa);
  if (e == Error::kOk && t.watchdog_ms != 0) e = give_watchdog(index, cn);
  if (e == Error::kOk) e = thread.start(prog.entry, prog.stack_top, abi::kStartInfoVa);
  if (e == Error::kOk) {
    run.state = TaskState::kRunning;
    run.entry = prog.entry;
  }
  return e;
}

// Makes and starts the task; a failure part-way leaves nothing behind: the
// scratch slots are emptied and everything made from its block revoked, so
// the next task (or this one again) starts from a clean state.
Error start_task(uint64_t index) {
  if (g_tasks[index].quarantined) return Error::kObjectDestroyed;
  Error e = make_task(index);
  if (e == Error::kOk) return e;
  for (uint64_t s = kScratch; s < kScratchEnd; ++s) (void)self.remove(s);
  for (uint64_t s = kScratchTables; s < kScratchTablesEnd; ++s) (void)self.remove(s);
  if (g_tasks[index].made) (void)self.revoke(task_slot(index, kBlock));
  release_pci(index);
  return e;
}

// Quiets a stopped driver's devices the way its description says
// (`reset = OFFSET`): 0 written at that register of each device's first
// range through a mapping of init's own, read back until it is 0 (at most
// kResetPolls reads). Before any memory they could still write by DMA is
// reused. False if a device did not read back 0.
constexpr unsigned kResetPolls = 100000;
bool reset_devices(const sd::Task& t) {
  if (t.reset_offset == ~uint64_t{0}) return true;
  bool quiet = true;
  for (uint32_t d = 0; d < t.device_count; ++d) {
    keel::devices::Device dev;
    if (keel::devices::find(dtb(), g_info->dtb_size, t.devices[d], &dev) != keel::Status::kOk || dev.range_count == 0 ||
        t.reset_offset + 4 > dev.ranges[0].size) {
      continue;
    }
    const uint64_t pa = dev.ranges[0].base + t.reset_offset;
    uint64_t frame = 0;
    const uint64_t copy = kScratch;  // (free between task starts)
    Error e = device_page(pa, &frame);
    if (e == Error::kOk) e = self.copy(copy, frame, abi::kRightRead | abi::kRightWrite);
    if (e == Error::kOk) e = sys::FrameCap(copy).map(islot::kAddressSpace, kScratchVa, abi::kMapWrite);
    if (e == Error::kOk) {
      auto* reg = reinterpret_cast<volatile uint32_t*>(kScratchVa + (pa & 0xfff));
      *reg = 0;
      unsigned polls = 0;
      while (*reg != 0 && ++polls < kResetPolls) {
      }
      if (*reg != 0) quiet = false;
    }
    (void)self.remove(copy);  // (unmaps it)
    if (e != Error::kOk) quiet = false;
  }
  return quiet;
}

// A real stop. First everything made from its block is revoked — CNode,
// address space, every thread, all it made from its own untyped — so
// nothing of it runs any more (its threads, above the servers perhaps,
// would otherwise starve the very servers init asks next). Then its
// devices are reset, before any memory they could still write by DMA is
// given out again (the block's memory is reused only by its next start);
// then the console and memory servers forget it (its unfinished output and
// waiting requests; its pages, shares and grants), so a new task with its
// id inherits nothing. The block itself stays for the next start.
Error stop_task(uint64_t index) {
  const sd::Task& t = g_sys->tasks[index];
  if (!g_tasks[index].made) return Error::kOk;
  Error e = self.revoke(task_slot(index, kBlock));
  release_pci(index);
  if (!reset_devices(t)) {
    sys::print("init: %s: a device did not reset: the task stays stopped and its memory is never reused\n", t.name);
    g_tasks[index].quarantined = true;
  }
  (void)keel::console::forget(sys::Endpoint(kConsole), task_id(index));
  if (paged_role(t.role)) {
    sys::Message m = keel::memory::message(keel::memory::kRelease, task_id(index));
    (void)keel::memory::request(sys::Endpoint(kMemory), m);
  }
  if (e == Error::kOk) g_tasks[index].state = TaskState::kStopped;
  return e;
}

// ---- the console ---------------------------------------------------------------------
uint64_t g_exited = 0;  // exit-notification bits seen and not yet consumed

void supervise(uint64_t waited_for);
void forget_supervision(uint64_t index);

// Waits until every task in `mask` (bits 1 << id) has exited; false if
// Ctrl-C was typed first. Tasks that stop by themselves meanwhile are
// supervised (restarted as their description says).
bool wait_exits(uint64_t mask) {
  while ((g_exited & mask) != mask) {
    uint64_t word = 0;
    if (sys::Notification(kExitNtfn).wait(&word) != Error::kOk) return true;
    g_exited |= word;
    supervise(mask);
    if ((g_exited & kInterruptBit) != 0) {
      g_exited &= ~kInterruptBit;
      return false;
    }
  }
  g_exited &= ~mask;
  return true;
}

void absorb_exits() {
  uint64_t word = 0;
  if (sys::Notification(kExitNtfn).poll(&word) == Error::kOk) g_exited |= word;
}

const char* state_name(uint64_t index, keel::memory::ClientInfo* info, bool have) {
  const TaskRun& r = g_tasks[index];
  if (r.state == TaskState::kNotStarted) return "not started";
  if (r.state == TaskState::kStopped) return "stopped (kill or Ctrl-C)";
  if (!paged_role(g_sys->tasks[index].role) || !have) return "running";
  if (info->alive) return "running";
  return info->killed ? "stopped by a fault" : "exited";
}

bool client_info(uint64_t id, keel::memory::ClientInfo* out) {
  for (uint64_t k = 0; k < abi::kMaxTaskId; ++k) {
    if (keel::memory::client(sys::Endpoint(kMemory), k, out) != Error::kOk) return false;
    if (out->id == id) return true;
  }
  return false;
}

// The CPU a task's thread runs on: its description's, or 0 if that one is not online.
unsigned cpu_of(const sd::Task& t) { return t.cpu < g_info->cpus_online ? t.cpu : 0; }

void cmd_tasks() {
  sys::print("  id  name            program         role           prio  cpu  state\n");
  sys::print("   1  init            init            root            255    0  running (this console)\n");
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    const sd::Task& t = g_sys->tasks[i];
    keel::memory::ClientInfo info{};
    bool have = paged_role(t.role) && client_info(task_id(i), &info);
    const char* state = state_name(i, &info, have);
    if (have && !info.alive && !info.killed && g_tasks[i].state != TaskState::kStopped) {
      sys::print("  %2llu  %-15s %-15s %-14s %4u  %3u  %s (code %lld)\n", ull(task_id(i)), t.name, t.program,
                 sd::role_name(t.role), t.priority, cpu_of(t), state, static_cast<long long>(info.exit_code));
    } else {
      sys::print("  %2llu  %-15s %-15s %-14s %4u  %3u  %s\n", ull(task_id(i)), t.name, t.program, sd::role_name(t.role),
                 t.priority, cpu_of(t), state);
    }
  }
}

void cmd_mem() {
  keel::memory::Stats st{};
  if (keel::memory::stats(sys::Endpoint(kMemory), &st) != Error::kOk) {
    sys::print("mem: the memory server does not answer\n");
    return;
  }
  sys::print("memory server: %llu pages managed (%llu MiB), %llu free, %llu clients, %llu faults served\n",
             ull(st.managed), ull(st.managed * 4096 >> 20), ull(st.free), ull(st.clients), ull(st.faults));
  sys::print("  id  client          pages  quota  faults  state\n");
  keel::memory::ClientInfo c{};
  for (uint64_t k = 0; keel::memory::client(sys::Endpoint(kMemory), k, &c) == Error::kOk; ++k) {
    sys::print("  %2llu  %-15s %5llu  %5llu  %6llu  %s\n", ull(c.id), c.name, ull(c.pages), ull(c.quota), ull(c.faults),
               c.alive    ? "running"
               : c.killed ? "stopped by a fault"
                          : "exited");
  }
}

// Starts the tasks in `mask` (bits of task indices), waits for them, reports.
void run_and_wait(uint64_t mask, const char* what) {
  uint64_t ids = 0;
  absorb_exits();
  g_exited &= ~kInterruptBit;  // (a Ctrl-C typed before this command)
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    if ((mask & (uint64_t{1} << i)) == 0) continue;
    g_exited &= ~(uint64_t{1} << task_id(i));
    Error e = start_task(i);
    if (e != Error::kOk) {
      sys::print("%s: cannot start %s: %s\n", what, g_sys->tasks[i].name, abi::error_name(e));
      continue;
    }
    ids |= uint64_t{1} << task_id(i);
  }
  if (!wait_exits(ids)) {
    // Ctrl-C: what has not exited is suspended (its memory is reclaimed when
    // it runs again), and the command ends.
    for (uint64_t i = 0; i < g_sys->task_count; ++i) {
      if ((ids & (uint64_t{1} << task_id(i))) == 0 || (g_exited & (uint64_t{1} << task_id(i))) != 0) continue;
      (void)stop_task(i);
      g_tasks[i].state = TaskState::kStopped;
      sys::print("%s: %s cancelled\n", what, g_sys->tasks[i].name);
    }
    g_exited &= ~ids;
    sys::print("%s: cancelled (Ctrl-C)\n", what);
    return;
  }
  int failed = 0, passed = 0;
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    if ((ids & (uint64_t{1} << task_id(i))) == 0) continue;
    g_tasks[i].state = TaskState::kExited;
    keel::memory::ClientInfo c{};
    bool ok =
        client_info(task_id(i), &c) && (g_sys->tasks[i].expect_stopped != 0 ? c.killed : !c.killed && c.exit_code == 0);
    (ok ? passed : failed) += 1;
    if (!ok) sys::print("%s: %s failed\n", what, g_sys->tasks[i].name);
  }
  sys::print("%s: %d passed, %d failed\n", what, passed, failed);
}

bool running(uint64_t index) {
  if (g_tasks[index].state != TaskState::kRunning) return false;
  keel::memory::ClientInfo c{};
  return !paged_role(g_sys->tasks[index].role) || (client_info(task_id(index), &c) && c.alive);
}

// Starts an on-demand task and waits for it. A task with a channel needs
// the task at the other end: started with it if it is on-demand too, else
// (a boot task that is gone) the run is refused rather than left to wait
// forever on a peer that will never answer.
void cmd_run(const char* name) {
  const uint64_t i = task_index(name);
  if (i == sd::kMaxTasks || g_sys->tasks[i].start == sd::Start::kBoot) {
    sys::print("run: no on-demand task named '%s' (see 'tasks')\n", name);
    return;
  }
  uint64_t mask = uint64_t{1} << i;
  const uint64_t peer = channel_peer(i);
  if (peer < sd::kMaxTasks && !running(peer)) {
    if (g_sys->tasks[peer].start == sd::Start::kBoot) {
      sys::print("run: %s needs %s (its channel), which is not running; not started\n", name, g_sys->tasks[peer].name);
      return;
    }
    sys::print("run: starting %s too (%s's channel)\n", g_sys->tasks[peer].name, name);
    mask |= uint64_t{1} << peer;
  }
  run_and_wait(mask, name);
}

// The wall-clock time from the driver whose description says `serves = clock`.
void cmd_date() {
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    if ((g_sys->tasks[i].serves & sd::kServeClock) == 0 || !running(i)) continue;
    uint64_t s = 0;
    Error e = keel::clock::read(sys::Endpoint(kDriverEps + i), &s);
    if (e != Error::kOk) {
      sys::print("date: %s: %s\n", g_sys->tasks[i].name, abi::error_name(e));
      return;
    }
    const keel::clock::Date d = keel::clock::date_of(s);
    sys::print("%04lld-%02u-%02u %02u:%02u:%02u UTC (from %s)\n", static_cast<long long>(d.year), d.month, d.day,
               d.hour, d.minute, d.second, g_sys->tasks[i].name);
    return;
  }
  sys::print("date: no running driver serves the clock (a task with 'serves = clock')\n");
}

// Each running driver that says `serves = disk`: its disk, then each client's
// partition and counters.
void cmd_disk() {
  bool any = false;
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    if ((g_sys->tasks[i].serves & sd::kServeDisk) == 0 || !running(i)) continue;
    any = true;
    const sys::Endpoint ep(kDriverEps + i);
    uint64_t v[keel::disk::kStatsWords] = {};
    Error e = keel::disk::stats(ep, 0, v);
    if (e != Error::kOk) {
      sys::print("disk: %s: %s\n", g_sys->tasks[i].name, abi::error_name(e));
      continue;
    }
    const uint64_t clients = v[2];
    sys::print("%s: %llu sectors (%llu KiB), block %llu, queue %llu%s%s; %llu requests done, %llu device errors\n",
               g_sys->tasks[i].name, static_cast<unsigned long long>(v[0]), static_cast<unsigned long long>(v[0] / 2),
               static_cast<unsigned long long>(v[5]), static_cast<unsigned long long>(v[6]),
               (v[1] & keel::disk::kReadOnly) != 0 ? ", read-only" : "",
               (v[1] & keel::disk::kFlush) != 0 ? ", flush" : "", static_cast<unsigned long long>(v[3]),
               static_cast<unsigned long long>(v[4]));
    for (uint64_t c = 1; c <= clients && c <= abi::kMaxConns; ++c) {
      if (keel::disk::stats(ep, c, v) != Error::kOk) break;
      const char* who = "?";
      for (uint64_t t = 0; t < g_sys->task_count; ++t) {
        if (task_id(t) == v[0]) who = g_sys->tasks[t].name;
      }
      const uint64_t end = v[1] + v[2];
      sys::print("  %-12s sectors [%llu, %llu): %llu requests, %llu bytes, %llu errors, %llu lost\n", who,
                 static_cast<unsigned long long>(v[1]), static_cast<unsigned long long>(end),
                 static_cast<unsigned long long>(v[3]), static_cast<unsigned long long>(v[4]),
                 static_cast<unsigned long long>(v[5]), static_cast<unsigned long long>(v[6]));
    }
    if (clients == 0) sys::print("  no clients\n");
  }
  if (!any) sys::print("disk: no running driver serves a disk (a task with 'serves = disk')\n");
}

// kill NAME: a real stop (stop_task). restart NAME [N]: stop it if it runs
// and start it again, N times (the last start stays running).
void cmd_kill(const char* name, bool restart, uint64_t times) {
  const uint64_t i = task_index(name);
  if (i == sd::kMaxTasks) {
    sys::print("%s: no task named '%s' (see 'tasks')\n", restart ? "restart" : "kill", name);
    return;
  }
  const sd::Role role = g_sys->tasks[i].role;
  if (role == sd::Role::kMemoryServer || role == sd::Role::kConsoleServer) {
    sys::print("%s: %s is a server the system needs; not stopped\n", restart ? "restart" : "kill", name);
    return;
  }
  absorb_exits();
  forget_supervision(i);  // (a back-off restart waiting: the console decides now)
  for (uint64_t n = 0; n < times; ++n) {
    Error e = stop_task(i);
    if (e == Error::kOk && restart) e = start_task(i);
    if (e != Error::kOk) {
      sys::print("%s: %s: %s\n", restart ? "restart" : "kill", name, abi::error_name(e));
      return;
    }
  }
  absorb_exits();
  g_exited &= ~(uint64_t{1} << task_id(i));  // (its exit bits from the stops: not news)
  if (restart) {
    sys::print("restart: %s running again (%llu time%s)\n", name, ull(times), times == 1 ? "" : "s");
  } else {
    sys::print("kill: %s stopped\n", name);
  }
}

// ---- supervision (`restart = ...`) -----------------------------------------------------
// A task that faults (or, with `restart = always`, exits) is stopped for
// real — its devices reset before any memory they could DMA into is reused
// — and started afresh with the same devices, DMA memory (zeroed) and
// connections. Init does it itself, not a supervisor task: only init holds
// what a restart needs (the task's block, its devices' frames and
// interrupts, the connections' memory), and lending all of that to another
// task would make that task as powerful as init. A task that fails
// kRestartTries times in a row, each time within kQuickNs of its start, is
// left stopped with a message instead of restarted forever.
constexpr unsigned kRestartTries = 5;  // (boot argument keel.restart_tries=N: the crash tests' many restarts)
unsigned g_restart_tries = kRestartTries;
constexpr uint64_t kQuickNs = 2'000'000'000;
struct Supervision {
  uint64_t restarts = 0;
  uint64_t started_ns = 0;  // of the last restart
  unsigned quick = 0;       // failures in a row, each within kQuickNs of its start
  uint64_t due_ns = 0;      // stopped, to be started again then (0: not waiting)
  char why[96] = {};        // what stopped it (for the line when it is restarted)
};
Supervision g_supervision[sd::kMaxTasks];
// Back-off: a task failing again within kQuickNs of its start waits 50 ms,
// then 100, 200, ... at most 2 s before its next start (boot argument
// keel.restart_backoff=0: none, for the crash tests). Init's timer channel
// wakes it (kTimerTickBit); without one, restarts are immediate.
bool g_backoff = true, g_have_timer = false;
constexpr uint64_t kBackoffFirstNs = 50'000'000, kBackoffMaxNs = 2'000'000'000;

void forget_supervision(uint64_t index) {
  g_supervision[index].due_ns = 0;
  g_supervision[index].quick = 0;
}

uint64_t g_query_deadline_ns = 0;  // a console question to a driver waits until then (0: none)

// Init's timer: the earliest back-off restart, watchdog ping or question's deadline.
void arm_init_timer() {
  uint64_t earliest = g_query_deadline_ns;
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    const uint64_t at[2] = {g_supervision[i].due_ns,
                            g_tasks[i].state == TaskState::kRunning ? g_watch[i].next_ns : uint64_t{0}};
    for (const uint64_t a : at) {
      if (a != 0 && (earliest == 0 || a < earliest)) earliest = a;
    }
  }
  if (earliest == 0 || !g_have_timer) return;
  const uint64_t f = sys::counter_frequency(), now_ns = sys::now_ns();
  const uint64_t wait_ns = earliest > now_ns ? earliest - now_ns : 0;
  (void)sys::IrqHandler(kInitTimer).set_deadline(sys::counter() + wait_ns / 1000 * (f / 1000000));
}

void restart_now(uint64_t i) {
  Supervision& s = g_supervision[i];
  const sd::Task& t = g_sys->tasks[i];
  const uint64_t bit = uint64_t{1} << task_id(i), now = sys::now_ns();
  s.due_ns = 0;
  Error e = start_task(i);
  absorb_exits();
  g_exited &= ~bit;  // (the stop's own exit bit)
  if (e != Error::kOk) {
    sys::print("init: %s stopped after %s and could not be restarted: %s\n", t.name, s.why, abi::error_name(e));
    return;
  }
  ++s.restarts;
  s.started_ns = now;
  sys::print("init: %s restarted after %s (restart %llu, %llu us)\n", t.name, s.why, ull(s.restarts),
             ull((sys::now_ns() - now) / 1000));
}

// Task i failed (s.why says how): stopped for real, then restarted at once,
// after a back-off, or — the kRestartTries-th quick failure — not at all.
void fail_task(uint64_t i) {
  Supervision& s = g_supervision[i];
  const sd::Task& t = g_sys->tasks[i];
  const char* why = s.why;
  const uint64_t now = sys::now_ns();
  s.quick = s.started_ns != 0 && now - s.started_ns < kQuickNs ? s.quick + 1 : 0;
  Error e = stop_task(i);
  if (s.quick >= g_restart_tries) {
    sys::print(
        "init: %s stopped after %s; it failed %u times, each within 2 s of its start: left stopped "
        "(restart %s to try again)\n",
        t.name, why, s.quick, t.name);
    s = Supervision{};
    return;
  }
  if (e != Error::kOk) {
    sys::print("init: %s stopped after %s and could not be stopped cleanly: %s\n", t.name, why, abi::error_name(e));
    return;
  }
  if (s.quick > 0 && g_backoff && g_have_timer) {
    uint64_t delay = kBackoffFirstNs << (s.quick - 1 < 8 ? s.quick - 1 : 8);
    if (delay > kBackoffMaxNs) delay = kBackoffMaxNs;
    s.due_ns = now + delay;
    sys::print("init: %s failed again within 2 s of its start (%s): restarting it in %llu ms\n", t.name, why,
               ull(delay / 1000000));
    return;
  }
  restart_now(i);
}

// Why a task the memory server saw stop did (for init's lines); false if
// it ended by itself in a way its description does not restart.
bool stop_reason(const sd::Task& t, const keel::memory::ClientInfo& c, char* why, size_t size) {
  if (!c.killed) {
    if (t.restart == sd::kRestartOnFault && c.exit_code == 0) return false;  // (finished: nothing to restart)
    (void)keel::snformat(why, size, "it exited (code %lld)", static_cast<long long>(c.exit_code));
  } else if (c.stop_kind == abi::kFaultMemory) {
    (void)keel::snformat(why, size, "a memory fault at 0x%llx (PC 0x%llx)", ull(c.stop_addr), ull(c.stop_pc));
  } else if ((c.stop_esr >> 26) == 0) {  // ESR_EL1.EC 0: an unknown (undefined) instruction
    (void)keel::snformat(why, size, "an illegal instruction at PC 0x%llx", ull(c.stop_pc));
  } else {
    (void)keel::snformat(why, size, "an exception (ESR 0x%llx) at PC 0x%llx", ull(c.stop_esr), ull(c.stop_pc));
  }
  return true;
}

// The watchdog's round: answers are taken in, and each watched driver
// whose ping is due is pinged — or, silent too long, failed.
void watchdog(uint64_t now) {
  uint64_t answered = 0;
  if (g_watchdog_ntfn != 0 && sys::Notification(g_watchdog_ntfn).poll(&answered) == Error::kOk) {
    g_answered |= answered;
  }
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    const sd::Task& t = g_sys->tasks[i];
    Watch& w = g_watch[i];
    const uint64_t bit = uint64_t{1} << task_id(i);
    if (t.watchdog_ms == 0 || w.next_ns == 0 || g_tasks[i].state != TaskState::kRunning) continue;
    if ((g_answered & bit) != 0) {
      g_answered &= ~bit;
      w.answered_ns = now;
      w.missed = 0;
    }
    if (now < w.next_ns) continue;
    const uint64_t silent_ms = (now - w.answered_ns) / 1'000'000;
    if (w.missed >= 2 && silent_ms >= t.watchdog_ms) {
      w.next_ns = 0;
      (void)keel::snformat(g_supervision[i].why, sizeof g_supervision[i].why,
                           "it did not answer its watchdog for %llu ms", ull(silent_ms));
      fail_task(i);
      continue;
    }
    (void)sys::Notification(w.ping).signal();
    ++w.missed;
    w.next_ns = now + watch_period_ns(t);
  }
}

void supervise(uint64_t waited_for) {
  // Restarts whose back-off is over; the watchdog's pings.
  g_exited &= ~kTimerTickBit;
  const uint64_t now_ns = sys::now_ns();
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    if (g_supervision[i].due_ns != 0 && g_supervision[i].due_ns <= now_ns) restart_now(i);
  }
  watchdog(now_ns);
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    const sd::Task& t = g_sys->tasks[i];
    const uint64_t bit = uint64_t{1} << task_id(i);
    if (t.restart == sd::kRestartNever || (g_exited & bit) == 0 || (waited_for & bit) != 0) continue;
    if (g_tasks[i].state != TaskState::kRunning) continue;  // (stopped by init: its bit is not news)
    keel::memory::ClientInfo c{};
    if (!client_info(task_id(i), &c) || c.alive) continue;
    g_exited &= ~bit;
    if (!stop_reason(t, c, g_supervision[i].why, sizeof g_supervision[i].why)) {
      g_tasks[i].state = TaskState::kExited;
      continue;
    }
    fail_task(i);
  }
  arm_init_timer();
}

// Init's own channel of the user timer, for the back-off (none on a
// machine without the virtual timer: restarts are then immediate).
void take_init_timer() {
  Error e = sys::IrqControl(islot::kIrqControl).get(abi::kTimerIntid + abi::kTimerChannels - 1, kInitTimer);
  if (e == Error::kOk) e = self.mint(kInitTimerSignal, kExitNtfn, abi::kRightWrite, kTimerTickBit);
  if (e == Error::kOk) e = sys::IrqHandler(kInitTimer).set_notification(kInitTimerSignal);
  g_have_timer = e == Error::kOk;
}

// `crash NAME [KIND]` (images booted with keel.inject=1 only: the tests'):
// the task fails the way a bug would, at a random point of its work, and
// is supervised like one. Its thread is stopped wherever it is and started
// again at:
//   fault    an address nothing maps: a memory fault (the default);
//   illegal  crt0's undefined instruction (abi::kInjectUndefinedOffset);
//   loop     crt0's branch to itself: it spins at its priority and stops
//            answering; its watchdog (`watchdog = ...`) catches it.
// Or, without stopping it:
//   dma      its next DMA descriptor points at a wild address (the
//            driver's DMA library: abi::kInjectDmaBit): the device reports the error,
//            the driver exits, init restarts it.
//   any      fault and illegal in turn, one per command (the kinds that
//            stop it at once: a test can count one restart per command).
unsigned g_crash_turn = 0;
void cmd_crash(const char* args) {
  char name[sd::kNameSize] = {};
  size_t n = 0;
  for (; *args != '\0' && *args != ' ' && n + 1 < sizeof name; ++args) name[n++] = *args;
  while (*args == ' ') ++args;
  const char* kind = *args == '\0' ? "fault" : args;
  const uint64_t i = task_index(name);
  if (i == sd::kMaxTasks || g_tasks[i].state != TaskState::kRunning || !paged_role(g_sys->tasks[i].role)) {
    sys::print("crash: no running task named '%s'\n", name);
    return;
  }
  if (streq(kind, "any")) kind = g_crash_turn++ % 2 == 0 ? "fault" : "illegal";
  Error e = Error::kOk;
  if (streq(kind, "dma")) {
    uint64_t ntfn = 0;
    if (g_sys->tasks[i].role != sd::Role::kDriver || g_sys->tasks[i].dma_bytes == 0) {
      sys::print("crash: %s is not a driver with DMA memory (no descriptor to make wild)\n", name);
      return;
    }
    e = task_notification(i, &ntfn);
    const uint64_t badged = kScratch;  // (free between loads)
    if (e == Error::kOk) e = self.mint(badged, ntfn, abi::kRightWrite, abi::kInjectDmaBit);
    if (e == Error::kOk) e = sys::Notification(badged).signal();
    (void)self.remove(badged);
  } else {
    uint64_t pc = 0;
    if (streq(kind, "fault")) {
      pc = 0xdead0000;
    } else if (streq(kind, "illegal")) {
      pc = g_tasks[i].entry + abi::kInjectUndefinedOffset;
    } else if (streq(kind, "loop")) {
      pc = g_tasks[i].entry + abi::kInjectLoopOffset;
    } else {
      sys::print("crash: unknown kind '%s' (fault, illegal, loop, dma)\n", kind);
      return;
    }
    const sys::ThreadCap th(task_slot(i, kThread));
    e = th.suspend();
    if (e == Error::kOk) e = th.start(pc, 0, 0);
  }
  if (e != Error::kOk) sys::print("crash: %s: %s\n", name, abi::error_name(e));
}

// ---- the console reader ---------------------------------------------------------------
// A second thread of init waits in the console server's Read, so that the
// main thread waits on one notification for everything: a typed line
// (kLineBit), a task that stopped (its id's bit), Ctrl-C.
alignas(4096) abi::IpcBuffer g_reader_ipc;
alignas(16) char g_reader_stack[4096];
char g_line[128];
size_t g_line_len = 0;
bool g_line_ok = false;

bool g_reading = false;  // (main thread) the reader is in a Read

void reader_thread(uint64_t) {
  for (;;) {
    uint64_t word = 0;
    (void)sys::Notification(kReaderGo).wait(&word);
    g_line_ok = keel::console::read_line(sys::Endpoint(kConsole), g_line, sizeof g_line, &g_line_len) == Error::kOk;
    (void)sys::Notification(kReaderSignal).signal();  // Ordering: the syscall orders g_line before the wake-up
  }
}

// A helper thread of init (at init's priority): it waits on its own `go`
// notification and wakes the main thread through `signal`, a copy of
// kExitNtfn badged `bit`.
Error start_helper(uint64_t thread, uint64_t go, uint64_t signal, uint64_t bit, void (*entry)(uint64_t), char* stack,
                   size_t stack_size, abi::IpcBuffer* ipc) {
  const sys::Untyped pool(kPool);
  Error e = pool.retype(ObjectType::kNotification, 0, go);
  if (e == Error::kOk) e = self.mint(signal, kExitNtfn, abi::kRightWrite, bit);
  if (e == Error::kOk) {
    e = sys::start_thread({.untyped = kPool,
                           .slot = thread,
                           .priority = 255,
                           .entry = entry,
                           .stack_top = reinterpret_cast<uint64_t>(stack + stack_size),
                           .ipc_buffer = reinterpret_cast<uint64_t>(ipc)});
  }
  return e;
}

Error start_reader() {
  return start_helper(kReaderThread, kReaderGo, kReaderSignal, kLineBit, reader_thread, g_reader_stack,
                      sizeof g_reader_stack, &g_reader_ipc);
}

// ---- questions to drivers --------------------------------------------------------------
// `date` and `disk` ask drivers over IPC. A driver may not answer for a
// long time — hung until its watchdog fires, or restarted before its server
// thread runs — and init's main thread, which would supervise it, must not
// wait in that Call. A helper thread asks; the main thread waits for it at
// most kQueryNs, supervising meanwhile, and otherwise says so and goes on
// (the answer is printed when it comes; one question at a time).
constexpr uint64_t kQueryNs = 2'000'000'000;
alignas(4096) abi::IpcBuffer g_query_ipc;
alignas(16) char g_query_stack[8192];
void (*g_query_fn)() = nullptr;  // set by the main thread before kQueryGo, read by the helper after it
const char* g_query_what = "";   // (the same) the command's name
bool g_query_busy = false;       // (main thread) the helper has not signalled kQueryBit yet
bool g_query_late = false;       // the main thread gave up waiting (atomic: both threads)
bool g_have_query_thread = false;

void query_thread(uint64_t) {
  for (;;) {
    uint64_t word = 0;
    (void)sys::Notification(kQueryGo).wait(&word);
    g_query_fn();
    if (__atomic_load_n(&g_query_late, __ATOMIC_ACQUIRE)) sys::print("%s: the answer above came late\n", g_query_what);
    (void)sys::Notification(kQuerySignal).signal();
  }
}

Error start_query_thread() {
  return start_helper(kQueryThread, kQueryGo, kQuerySignal, kQueryBit, query_thread, g_query_stack,
                      sizeof g_query_stack, &g_query_ipc);
}

void ask_drivers(const char* what, void (*fn)()) {
  if (!g_have_query_thread) {
    fn();  // (no helper: asked directly, as before)
    return;
  }
  if (g_query_busy) {
    sys::print("%s: an earlier question to a driver is still unanswered; try again later\n", what);
    return;
  }
  g_query_fn = fn;
  g_query_what = what;
  __atomic_store_n(&g_query_late, false, __ATOMIC_RELEASE);
  g_query_busy = true;
  g_exited &= ~kQueryBit;
  g_query_deadline_ns = sys::now_ns() + kQueryNs;
  (void)sys::Notification(kQueryGo).signal();  // Ordering: the syscall orders g_query_fn before the wake-up
  for (;;) {
    supervise(0);  // (arms the timer for the deadline too)
    if ((g_exited & kQueryBit) != 0) {
      g_exited &= ~kQueryBit;
      g_query_busy = false;
      break;
    }
    if (sys::now_ns() >= g_query_deadline_ns) {
      __atomic_store_n(&g_query_late, true, __ATOMIC_RELEASE);
      sys::print("%s: no answer within %llu s (a driver is busy, hung or restarting); it follows when it comes\n", what,
                 ull(kQueryNs / 1'000'000'000));
      break;
    }
    uint64_t word = 0;
    if (sys::Notification(kExitNtfn).wait(&word) != Error::kOk) break;
    g_exited |= word;
  }
  g_query_deadline_ns = 0;
}

// The prompt and the next typed line; tasks that stop meanwhile are
// supervised.
bool next_line(char* line, size_t size, size_t* n) {
  if (!g_reading) {
    sys::print("keel> ");  // (a Read shows the unfinished line: the prompt)
    g_reading = true;
    (void)sys::Notification(kReaderGo).signal();
  }
  for (;;) {
    supervise(0);
    if ((g_exited & kQueryBit) != 0) {  // a late answer (ask_drivers gave up waiting): the helper is free again
      g_exited &= ~kQueryBit;
      g_query_busy = false;
    }
    if ((g_exited & kLineBit) != 0) {
      g_exited &= ~kLineBit;
      g_reading = false;
      const bool ok = g_line_ok;
      *n = g_line_len < size ? g_line_len : size - 1;
      for (size_t i = 0; i < *n; ++i) line[i] = g_line[i];
      line[*n] = '\0';
      return ok;
    }
    uint64_t word = 0;
    if (sys::Notification(kExitNtfn).wait(&word) != Error::kOk) return false;
    g_exited |= word;
  }
}

void cmd_help() {
  sys::print(
      "commands:\n"
      "  tasks       the tasks of the system description and their state\n"
      "  mem         the memory server's totals and what each client holds\n"
      "  test        run the self-tests (tasks with start = test)\n"
      "  bench       run the benchmarks (task 'bench')\n"
      "  run NAME    start an on-demand task (and its channel peer) and wait for it\n"
      "  kill NAME   stop a task for good: its objects, memory and server state go\n"
      "  restart NAME [N]  stop it if it runs and start it afresh (N times)\n"
      "  console     the console server's counters\n"
      "  date        the wall-clock time, from the driver that serves 'clock'\n"
      "  disk        each disk: capacity, and per client its partition and counters\n"
      "  help        this list\n"
      "Ctrl-C cancels a command that waits for tasks; Up and Down recall earlier lines.\n");
}

void console() {
  const sys::Endpoint con(kConsole);
  char inject[4] = {};
  const bool crash_allowed =
      sys::word_value(g_info->bootargs, "keel.inject", inject, sizeof inject) && streq(inject, "1");
  char backoff[4] = {};
  if (sys::word_value(g_info->bootargs, "keel.restart_backoff", backoff, sizeof backoff) && streq(backoff, "0")) {
    g_backoff = false;
  }
  take_init_timer();
  char tries[8] = {};
  if (sys::word_value(g_info->bootargs, "keel.restart_tries", tries, sizeof tries)) {
    unsigned n = 0;
    for (const char* p = tries; *p >= '0' && *p <= '9' && n < 100000; ++p) n = n * 10 + static_cast<unsigned>(*p - '0');
    if (n > 0) g_restart_tries = n;
  }
  cmd_help();
  g_have_query_thread = start_query_thread() == Error::kOk;
  if (const Error e = start_reader(); e != Error::kOk) {
    sys::print("init: no console reader thread (%s)\n", abi::error_name(e));
    return;
  }
  for (;;) {
    char line[128];
    size_t n = 0;
    if (!next_line(line, sizeof line, &n)) {
      sys::print("init: console read failed\n");
      return;
    }
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = '\0';  // trailing blanks
    const char* cmd = line;
    while (*cmd == ' ' || *cmd == '\t') ++cmd;
    if (*cmd == '\0') continue;
    if (streq(cmd, "help")) {
      cmd_help();
    } else if (streq(cmd, "tasks")) {
      cmd_tasks();
    } else if (streq(cmd, "mem")) {
      cmd_mem();
    } else if (streq(cmd, "test")) {
      uint64_t mask = 0;
      for (uint64_t i = 0; i < g_sys->task_count; ++i) {
        if (g_sys->tasks[i].start == sd::Start::kTest) mask |= uint64_t{1} << i;
      }
      run_and_wait(mask, "test");
    } else if (streq(cmd, "run")) {
      sys::print("usage: run NAME  (an on-demand or test task of the system description: see 'tasks')\n");
    } else if (streq(cmd, "bench") || starts_with(cmd, "run ")) {
      const char* name = cmd[0] == 'b' ? "bench" : cmd + 4;
      while (*name == ' ') ++name;
      cmd_run(name);
    } else if (starts_with(cmd, "kill ")) {
      const char* name = cmd + 5;
      while (*name == ' ') ++name;
      cmd_kill(name, false, 1);
    } else if (starts_with(cmd, "restart ")) {
      char name[sd::kNameSize] = {};
      const char* p = cmd + 8;
      while (*p == ' ') ++p;
      size_t n = 0;
      for (; *p != '\0' && *p != ' ' && n + 1 < sizeof name; ++p) name[n++] = *p;
      while (*p == ' ') ++p;
      uint64_t times = 0;
      for (; *p >= '0' && *p <= '9' && times < 100000; ++p) times = times * 10 + static_cast<uint64_t>(*p - '0');
      cmd_kill(name, true, times == 0 ? 1 : times);
    } else if (crash_allowed && starts_with(cmd, "crash ")) {
      const char* args = cmd + 6;
      while (*args == ' ') ++args;
      cmd_crash(args);
    } else if (streq(cmd, "date")) {
      ask_drivers("date", cmd_date);
    } else if (streq(cmd, "disk")) {
      ask_drivers("disk", cmd_disk);
    } else if (streq(cmd, "console")) {
      keel::console::Stats st{};
      if (keel::console::stats(con, &st) == Error::kOk) {
        sys::print(
            "console server: %llu bytes in %llu lines written, %llu writes waited for buffer space, %llu bytes "
            "received, %llu bytes of kernel log, %llu-byte buffer\n",
            ull(st.bytes), ull(st.lines), ull(st.waited), ull(st.received), ull(st.kernel_bytes), ull(st.buffer_size));
        sys::print(
            "console server: %llu echo bytes not shown (buffer full), %llu typed lines dropped (unread), %llu "
            "characters "
            "typed past a full line\n",
            ull(st.echo_skipped), ull(st.input_dropped), ull(st.typed_over));
      }
    } else {
      sys::print("unknown command '%s' (try 'help')\n", cmd);
    }
  }
}

// init's scratch window (where it writes a task's pages) gets its page
// tables once, here, so that no task's loading makes tables in init's space.
Error map_scratch_window() {
  sys::LoadContext ctx{.cnode = islot::kCNode,
                       .untyped = kPool,
                       .caller_as = islot::kAddressSpace,
                       .scratch_va = kScratchVa,
                       .next_slot = kOwnTables,
                       .slot_limit = kOwnTablesEnd};
  uint64_t frame = ctx.next_slot++;
  Error e = sys::Untyped(kPool).retype(ObjectType::kFrame4K, 0, frame);
  if (e == Error::kOk) e = sys::map_with_tables(ctx, frame, islot::kAddressSpace, kScratchVa, abi::kMapWrite);
  if (e == Error::kOk) e = self.remove(frame);  // the tables stay
  return e;
}

Error boot_system() {
  Error e = make_pool();
  if (e == Error::kOk) e = map_scratch_window();
  const sys::Untyped pool(kPool);
  device_memory_init();
  if (e == Error::kOk) e = pool.retype(ObjectType::kEndpoint, 0, kEpConsole);
  if (e == Error::kOk) e = pool.retype(ObjectType::kEndpoint, 0, kEpMemory);
  if (e == Error::kOk) e = pool.retype(ObjectType::kNotification, 0, kExitNtfn);
  if (e == Error::kOk) e = self.mint(kConsole, kEpConsole, abi::kRightWrite, abi::kInitTaskId);
  if (e == Error::kOk) e = self.mint(kMemory, kEpMemory, abi::kRightWrite, abi::kInitTaskId);
  if (e != Error::kOk) return e;
  e = start_task(g_console_index);
  if (e != Error::kOk) return e;
  sys::set_console(kConsole);  // from here on, init's output goes through the console server
  e = start_task(g_memory_index);
  if (e != Error::kOk) return e;
  keel::memory::Stats st{};
  return keel::memory::stats(sys::Endpoint(kMemory), &st);  // answered: the memory server is up
}

}  // namespace

int main() {
  g_info = sys::init_boot_info();
  if (g_info->magic != abi::kInitBootInfoMagic) {
    sys::print("init: no boot info\n");
    return 1;
  }
  if (const char* why = check_system(find_module("system"))) {
    sys::print("init: system description: %s; nothing started\n", why);
    return 1;
  }
  Error e = boot_system();
  if (e != Error::kOk) {
    sys::print("init: starting the servers failed: %s\n", abi::error_name(e));
    return 1;
  }
  // The contract line (DESIGN.md): once, when every CPU is online and the
  // servers are up. cpus: the CPUs actually running the kernel (the DTB's
  // count, unless one failed to start: the kernel has said so then).
  sys::print("keel ready: cpus=%llu mem=%lluMiB\n", ull(g_info->cpus_online), ull(g_info->memory_bytes >> 20));
  report_boot_time();
  // With a network (`./keel run --net` says keel.net=1), the tasks that
  // need one start too, in description order (the driver before the stack
  // before its clients).
  char net[4] = {};
  const bool with_net = sys::word_value(g_info->bootargs, "keel.net", net, sizeof net) && streq(net, "1");
  for (uint64_t i = 0; i < g_sys->task_count; ++i) {
    const sd::Role role = g_sys->tasks[i].role;
    const sd::Start start = g_sys->tasks[i].start;
    if (!paged_role(role) || (start != sd::Start::kBoot && !(with_net && start == sd::Start::kWithNet))) continue;
    e = start_task(i);
    if (e != Error::kOk) sys::print("init: cannot start %s: %s\n", g_sys->tasks[i].name, abi::error_name(e));
  }
  console();
  return 0;
}
