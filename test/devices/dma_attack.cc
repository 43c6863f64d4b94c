// dma_attack — a hostile driver (issue 25's proof). Given a virtio-blk-pci
// function behind the SMMUv3 and 64 KiB of DMA memory, it asks its device
// to write a disk sector (a virtio-blk read: the device writes memory) to
// addresses it must not reach, 10,000 times:
//   0  the kernel image's physical range (0x40200000.., as IOVAs)
//   1  anywhere in RAM (other tasks' frames, the victim's among them)
//   2  a frame of its own it mapped into its IoSpace and unmapped again
//      (first shown to work while mapped: the unmap must be synchronous)
//   3  the other PCI device's connection IOVAs (its IoSpace, not ours)
//   4  random 48-bit IOVAs outside its own DMA memory
// The disk's sector 0 holds "DMA!" repeated, so a write that lands shows.
// Each attempt must be stopped by the SMMU, and the kernel counts an event
// for the stream (IoSpace::Faults). What the device then tells its driver
// varies — QEMU's virtio-blk may even report success, its writes having
// gone through a bounce buffer the SMMU refused, 4 bytes at a time — so the
// proof is the memory: the victim's and the kernel's hashes, and the frame
// it unmapped, which must still hold what it held. The driver resets and
// sets up the device after every attempt. Before and
// after, an honest request into its own DMA memory must work. Then it
// wakes the victim (its channel), which checks its memory.
//
// Without an IOMMU there is nothing to prove and much to break: it says so
// and attacks nothing (the test is reported as skipped, not passed).
#include <stddef.h>
#include <stdint.h>

#include "keel/driver.h"
#include "keel/loader.h"
#include "keel/proto/pci.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"
#include "keel/virtio.h"
#include "keel/virtio_device.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace vio = keel::virtio;
namespace slot = keel::abi::task_slot;

constexpr uint32_t kAttempts = 10'000;
constexpr uint64_t kOwnIova = 0x0000'0020'0000'0000ull;  // where its own frame is mapped, then unmapped
constexpr uint32_t kIn = 0, kStatusOk = 0;
constexpr uint64_t kHeader = vio::Queue::kBytes, kData = kHeader + 4096;  // in its DMA memory

const abi::StartInfo* g_info = nullptr;
vio::Device g_dev;
vio::Queue g_queue;
uint64_t g_rng = 0x2545f4914f6cdd1dull;

uint64_t rnd() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

// Reset, negotiate, queue 0 set up again (a device in error serves nothing
// until reset: §2.1.2).
const char* restart_device() {
  vio::Transport& t = g_dev.transport();
  if (!vio::reset(t)) return "the device did not reset";
  uint64_t features = 0;
  if (const char* why = vio::negotiate(t, g_dev.platform_features(), &features)) return why;
  g_queue = vio::Queue{};
  if (const char* why = g_queue.setup(t, 0, {g_info->dma_va, g_info->dma_iova, g_info->dma_size})) return why;
  t.set_status(t.status() | vio::kDriverOk);
  return nullptr;
}

// kCompleted: the device says it did it (status OK); kFailed: it completed
// the request with an error status (it could not write the buffer: QEMU's
// virtio-blk answers an unmappable buffer with VIRTIO_BLK_S_IOERR);
// kRefused: it stopped and asks for a reset.
enum class Outcome { kCompleted, kFailed, kRefused, kTimeout };

// One virtio-blk read of sector 0 whose 512-byte data buffer is at device
// address `target`; waits for a completion or the device's error.
Outcome request(uint64_t target, uint8_t* status_out) {
  vio::Transport& t = g_dev.transport();
  const int head = g_queue.alloc_chain(3);
  if (head < 0) return Outcome::kTimeout;
  auto* hdr = reinterpret_cast<volatile uint32_t*>(g_info->dma_va + kHeader);
  hdr[0] = kIn;
  hdr[1] = 0;
  hdr[2] = 0;  // sector 0
  hdr[3] = 0;
  auto* status = reinterpret_cast<volatile uint8_t*>(g_info->dma_va + kHeader + 16);
  *status = 0xff;
  const auto h = static_cast<uint16_t>(head);
  vio::Desc& d0 = g_queue.desc(h);
  vio::Desc& d1 = g_queue.desc(d0.next);
  vio::Desc& d2 = g_queue.desc(d1.next);
  d0.addr = g_info->dma_iova + kHeader;
  d0.len = 16;
  d0.flags = vio::kDescNext;
  d1.addr = target;
  d1.len = 512;
  d1.flags = vio::kDescNext | vio::kDescWrite;
  d2.addr = g_info->dma_iova + kHeader + 16;
  d2.len = 1;
  d2.flags = vio::kDescWrite;
  g_queue.submit(t, h);
  for (unsigned waits = 0; waits < 100; ++waits) {
    uint64_t word = 0;
    (void)sys::driver_wait(&word);
    if ((word & abi::device_irq_bit(0, 0)) == 0) continue;
    (void)t.take_interrupt_status();
    (void)sys::IrqHandler(slot::kDeviceIrq).ack();
    uint16_t done = 0;
    uint32_t len = 0;
    if (g_queue.take(&done, &len)) {
      *status_out = *status;
      return *status == kStatusOk ? Outcome::kCompleted : Outcome::kFailed;
    }
    if (vio::needs_reset(t)) return Outcome::kRefused;
  }
  return Outcome::kTimeout;
}

uint64_t faults() {
  uint64_t count = 0, last = 0;
  (void)sys::IoSpace(slot::kIoSpace).faults(&count, &last);
  return count;
}

constexpr uint64_t kOwnVa = 0x0000'3000'0000ull;  // the same frame in its own address space

// Maps a frame of its own (from its untyped) into its IoSpace at kOwnIova
// (tables from the same untyped), into `copy`, and into its own address
// space at kOwnVa (through `view`); deleting `copy` unmaps it from the device.
Error map_own_frame(uint64_t frame, uint64_t copy, uint64_t view) {
  static uint64_t next_slot = 300;
  sys::TableSource tables{.take =
                              [](void*, uint64_t* s) {
                                *s = next_slot++;
                                return sys::Untyped(slot::kUntyped).retype(abi::ObjectType::kPageTable, 0, *s);
                              },
                          .placed = [](void*, uint64_t, unsigned) {},
                          .unused = [](void*, uint64_t s) { (void)sys::CNode(slot::kCNode).remove(s); },
                          .ctx = nullptr};
  Error e = sys::Untyped(slot::kUntyped).retype(abi::ObjectType::kFrame4K, 0, frame);
  if (e == Error::kOk) e = sys::CNode(slot::kCNode).copy(copy, frame, abi::kRightRead | abi::kRightWrite);
  if (e == Error::kOk) e = sys::map_frame(copy, slot::kIoSpace, kOwnIova, abi::kMapWrite, tables);
  if (e == Error::kOk) e = sys::CNode(slot::kCNode).copy(view, frame, abi::kRightRead | abi::kRightWrite);
  if (e == Error::kOk) e = sys::map_frame(view, slot::kAddressSpace, kOwnVa, abi::kMapWrite, tables);
  return e;
}

// Whether the 512 bytes at va are the disk's sector 0 ("DMA!" repeated).
bool is_sector0(uint64_t va) {
  auto* w = reinterpret_cast<volatile uint32_t*>(va);
  for (unsigned i = 0; i < 128; ++i) {
    if (w[i] != 0x21414d44) return false;  // "DMA!" little-endian
  }
  return true;
}

}  // namespace

int main() {
  g_info = abi::start_info();
  sys::set_console(slot::kConsole);
  sys::Checks checks("dma_attack");
  if (g_info->device_count != 1 || g_info->devices[0].pci == 0) {
    checks.report(false, "setup", "expected one PCI function");
    return checks.summary("dma_attack");
  }
  uint64_t c = 0, l = 0;
  if (sys::IoSpace(slot::kIoSpace).faults(&c, &l) != Error::kOk) {
    sys::print(
        "dma_attack: SKIPPED: DMA is not confined (no IOMMU): every address it would aim at is reachable; "
        "attacking nothing\n");
    return 0;
  }
  if (const char* why = g_dev.open(g_info->devices[0], 0, vio::kBlock)) {
    checks.report(false, "setup", "%s", why);
    return checks.summary("dma_attack");
  }
  // Its config space, through the bus task: it may not move its BARs, turn
  // bus mastering or decode off (or on for another), nor reach extended
  // space; its Command register keeps what the bus task set.
  {
    keel::pcibus::BusConfig config(slot::kPciConfig);
    uint32_t bar4 = 0, command = 0;
    const bool read = config.read(0x20, 4, &bar4) == Error::kOk && config.read(0x04, 2, &command) == Error::kOk;
    const bool bar_refused = config.write(0x20, 4, 0x1000) == Error::kInsufficientRights &&
                             config.write(0x24, 4, 0) == Error::kInsufficientRights &&
                             config.write(0x10, 4, 0) == Error::kInsufficientRights;
    const bool ext_refused = config.write(0x100, 4, 0) == Error::kInsufficientRights;
    const bool bad_refused =
        config.write(0x22, 4, 0) == Error::kInvalidArgument && config.read(0x1000, 4, &bar4) == Error::kInvalidArgument;
    (void)config.write(0x04, 2, 0);  // "decode and bus mastering off": only INTx-disable may change
    uint32_t after = 0, bar4_after = 0;
    const bool kept = config.read(0x04, 2, &after) == Error::kOk && (after & 6) == (command & 6) &&
                      (command & 6) == 6 && config.read(0x20, 4, &bar4_after) == Error::kOk && bar4_after == bar4;
    checks.report(read && bar_refused && ext_refused && bad_refused && kept, "config space",
                  "BAR writes and extended space refused, decode and bus mastering kept (Command 0x%x)", after);
  }
  const char* why = restart_device();
  uint8_t st = 0xff;
  // Honest first: sector 0 into its own DMA memory.
  const bool honest =
      why == nullptr && request(g_info->dma_iova + kData, &st) == Outcome::kCompleted && st == kStatusOk;
  checks.report(honest, "its own memory", "a read into its DMA memory completes%s%s", why ? ": " : "", why ? why : "");
  checks.report(honest && is_sector0(g_info->dma_va + kData), "its own memory holds sector 0",
                "what the device wrote is the disk's sector 0");
  // A frame of its own, mapped: the device reaches it.
  constexpr uint64_t kOwnFrame = 290, kOwnCopy = 291, kOwnView = 292;
  Error e = map_own_frame(kOwnFrame, kOwnCopy, kOwnView);
  const bool mapped_ok = e == Error::kOk && request(kOwnIova, &st) == Outcome::kCompleted && st == kStatusOk;
  checks.report(mapped_ok && is_sector0(kOwnVa), "own frame mapped", "the device wrote sector 0 at IOVA 0x%llx (%s)",
                static_cast<unsigned long long>(kOwnIova), abi::error_name(e));
  // Unmapped again: from the moment the delete returns, the device cannot.
  // What the frame holds now must survive the attack.
  for (unsigned i = 0; i < 1024; ++i) reinterpret_cast<volatile uint32_t*>(kOwnVa)[i] = 0x5a5a5a5a;
  (void)sys::CNode(slot::kCNode).remove(kOwnCopy);

  const uint64_t before = faults();
  uint32_t completed = 0, failed = 0, refused = 0, timeouts = 0, reset_failures = 0, stopped = 0, by_kind[5] = {};
  for (uint32_t i = 0; i < kAttempts; ++i) {
    const unsigned kind = i % 5;
    uint64_t target = 0;
    switch (kind) {
      case 0: target = 0x4020'0000 + (rnd() % (4u << 20) & ~uint64_t{511}); break;
      case 1: target = 0x4000'0000 + (rnd() % g_info->memory_bytes & ~uint64_t{511}); break;
      case 2: target = kOwnIova + (rnd() % 4096 & ~uint64_t{511}); break;
      case 3: target = abi::kConnIova + (rnd() % (abi::kMaxConns * abi::kConnBytes) & ~uint64_t{511}); break;
      default: do { target = rnd() & 0x0000'7fff'ffff'fe00ull;
        } while (target + 512 > g_info->dma_iova && target < g_info->dma_iova + g_info->dma_size);
        break;
    }
    const uint64_t events_before = faults();
    switch (request(target, &st)) {
      case Outcome::kCompleted: ++completed; break;
      case Outcome::kFailed: ++failed; break;
      case Outcome::kRefused: ++refused; break;
      case Outcome::kTimeout: ++timeouts; break;
    }
    ++by_kind[kind];
    if (faults() > events_before) ++stopped;  // the SMMU recorded this attempt
    if (restart_device() != nullptr) ++reset_failures;
  }
  const uint64_t events = faults() - before;
  checks.report(timeouts == 0 && reset_failures == 0, "attempts",
                "%u attempts (kernel %u, RAM %u, own unmapped %u, other IoSpace %u, random %u): the device reported "
                "%u done, %u failed, %u stopped; %u unanswered",
                kAttempts, by_kind[0], by_kind[1], by_kind[2], by_kind[3], by_kind[4], completed, failed, refused,
                timeouts);
  checks.report(stopped == kAttempts, "events",
                "%u of %u attempts recorded by the SMMU as faults of its stream (%llu events in all)", stopped,
                kAttempts, static_cast<unsigned long long>(events));
  bool kept = true;
  for (unsigned i = 0; i < 1024; ++i) kept &= reinterpret_cast<volatile uint32_t*>(kOwnVa)[i] == 0x5a5a5a5a;
  checks.report(kept, "own frame unmapped", "the frame it unmapped holds what it held (%u attempts at it)", by_kind[2]);
  const bool still = request(g_info->dma_iova + kData, &st) == Outcome::kCompleted && st == kStatusOk;
  checks.report(still, "device still works", "a read into its own DMA memory completes after the attack");
  // The victim checks its memory now.
  sys::Message m;
  m.label = 1;
  (void)sys::Endpoint(slot::kChannel).call(m);
  return checks.summary("dma_attack");
}
