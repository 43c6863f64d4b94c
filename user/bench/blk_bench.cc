// blk_bench — the cost of one 4 KiB block request at queue depth 1, counted
// by the PMU under -icount (bazel run //:bench, runner bench_blk): every
// instruction the CPU runs from the client's push to its completion —
// client, kernel (notifications, the interrupt) and the driver
// (servers/blk) — on one CPU, averaged over kRounds requests after a
// warm-up. Rows: blk_read_4k, blk_write_4k (docs/performance.md).
//
// Then throughput, in wall time (the generic timer): kThroughputRequests
// sequential 4 KiB reads, then writes, at queue depth 1 and 32 through the
// asynchronous API (lines `blk_throughput read qd1: ... IOPS ... MB/s`).
// Meaningful only without -icount (bazel run //:bench_disk, which also runs
// Linux on the same QEMU for comparison); under -icount the clock counts
// instructions. At depth 32 the requests share the data area's 14 4 KiB
// buffers (the data are not looked at; each request still moves 4 KiB).
// Last, what a driver restart costs it (restart_row).
#include <stddef.h>
#include <stdint.h>

#include "keel/block.h"
#include "keel/pmu.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/text.h"
#include "keel/time.h"

namespace {

namespace sys = keel::sys;
namespace blk = keel::block;

constexpr uint64_t kRounds = 200;
constexpr uint32_t kSectors = 8;  // 4 KiB

uint64_t cycles() { return sys::pmu_cycles(); }
uint64_t instructions() { return sys::pmu_instructions(); }

// The profiler's window (bazel run //:profile -- ... --from blk_window_begin
// --to blk_window_end, docs/performance.md): the measured rounds. The
// profiler matches a PC whatever address space runs it, and every task's
// code starts at the same address, so the markers (defined at the end of
// this file) sit 64 KiB into this program's text, past the end of the
// driver's and the servers'.
extern "C" void blk_window_begin();
extern "C" void blk_window_end();

bool row(const char* name, sys::BlockDevice& disk, bool write, uint64_t sectors) {
  for (uint64_t i = 0; i < 20; ++i) {  // warm-up: caches, TLBs, the driver's first paths
    if ((write ? disk.write(i % (sectors / kSectors) * kSectors, kSectors, 0)
               : disk.read(i % (sectors / kSectors) * kSectors, kSectors, 0)) != blk::kOk) {
      return false;
    }
  }
  const uint64_t i0 = instructions(), c0 = cycles();
  blk_window_begin();
  for (uint64_t i = 0; i < kRounds; ++i) {
    const uint64_t s = i % (sectors / kSectors) * kSectors;
    if ((write ? disk.write(s, kSectors, 0) : disk.read(s, kSectors, 0)) != blk::kOk) return false;
  }
  blk_window_end();
  const uint64_t i1 = instructions(), c1 = cycles();
  if (i1 == i0) {
    sys::print("%s %llu cycles (instructions: only under -icount)\n", name,
               static_cast<unsigned long long>((c1 - c0) / kRounds));
  } else {
    sys::print("%s %llu instructions %llu cycles\n", name, static_cast<unsigned long long>((i1 - i0) / kRounds),
               static_cast<unsigned long long>((c1 - c0) / kRounds));
  }
  return true;
}

constexpr uint64_t kThroughputRequests = 4000;
constexpr uint32_t kBuffers = blk::kDataBytes / 4096;

bool throughput(sys::BlockDevice& disk, bool write, uint32_t depth, uint64_t sectors) {
  const uint64_t blocks = sectors / kSectors;
  uint64_t submitted = 0, done = 0;
  const uint64_t t0 = sys::now_ns();
  while (done < kThroughputRequests) {
    while (submitted < kThroughputRequests && disk.in_flight() < depth) {
      const uint32_t id = disk.submit(write ? blk::kWrite : blk::kRead, submitted % blocks * kSectors, kSectors,
                                      static_cast<uint32_t>(submitted % kBuffers * 4096));
      if (id == 0) break;
      ++submitted;
    }
    if (disk.wait_completion().status != blk::kOk) return false;
    ++done;
  }
  const uint64_t ns = sys::now_ns() - t0;
  const uint64_t iops = ns == 0 ? 0 : kThroughputRequests * 1000000000u / ns;
  const uint64_t kb_s = iops * 4096 / 1000;  // (decimal MB/s = kB/s / 1000)
  sys::print("blk_throughput %s qd%u: %llu IOPS, %llu.%02llu MB/s (%llu requests in %llu ms)\n",
             write ? "write" : "read", depth, static_cast<unsigned long long>(iops),
             static_cast<unsigned long long>(kb_s / 1000), static_cast<unsigned long long>(kb_s % 1000 / 10),
             static_cast<unsigned long long>(kThroughputRequests), static_cast<unsigned long long>(ns / 1000000));
  return true;
}

// What a driver restart costs a client: the driver is crashed kRestarts
// times (init's `crash blk`, typed by the runner when this prints a round
// line; the image boots with keel.inject=1) while this client reads 4 KiB
// at queue depth 1. The completion that spans a restart is the one whose
// gap from the completion before is far above the others: from the last
// completion before the fault to the first after it, in instructions (every
// one CPU 0 retired: init's stop and start of the driver, the driver's
// setup, the resubmission) and in virtual time. Row: blk_restart (median).
constexpr unsigned kRestarts = 9;

bool restart_row(sys::BlockDevice& disk, uint64_t sectors) {
  uint64_t gaps[kRestarts] = {}, gaps_ns[kRestarts] = {}, cycles_of[kRestarts] = {};
  for (unsigned r = 0; r < kRestarts; ++r) {
    sys::print("blk_bench: restart round %u: crash blk\n", r + 1);
    // Gaps between consecutive completions (not per request: the crash may
    // land between two requests, and every instruction counts); the one
    // after which the client sees a new driver generation spans the restart.
    bool seen = false;
    const uint32_t generation = disk.generation();
    uint64_t prev_i = instructions(), prev_c = cycles(), prev_t = sys::now_ns();
    // Until the crash comes: under -icount sleep=off virtual time runs far
    // ahead of the runner, which types the crash in real time, so the bound
    // is a count of requests (seconds of real time), not the clock.
    for (uint64_t i = 0; !seen && i < 2'000'000; ++i) {
      if (disk.read(i % (sectors / kSectors) * kSectors, kSectors, 0) != blk::kOk) return false;
      const uint64_t now_i = instructions(), now_c = cycles(), now_t = sys::now_ns();
      if (disk.generation() != generation) {
        gaps[r] = now_i - prev_i;
        gaps_ns[r] = now_t - prev_t;
        cycles_of[r] = now_c - prev_c;
        seen = true;
      }
      prev_i = now_i;
      prev_c = now_c;
      prev_t = now_t;
    }
    if (!seen) {
      sys::print("blk_bench: restart round %u: no request spanned a restart (was the driver crashed?)\n", r + 1);
      return false;
    }
  }
  for (unsigned i = 1; i < kRestarts;
       ++i) {  // (insertion sort of a few values, all three by instructions, or time without -icount)
    for (unsigned j = i; j > 0 && (gaps[j - 1] > gaps[j] || (gaps[j] == 0 && gaps_ns[j - 1] > gaps_ns[j])); --j) {
      uint64_t* const arrays[] = {gaps, gaps_ns, cycles_of};
      for (uint64_t* a : arrays) {
        const uint64_t v = a[j];
        a[j] = a[j - 1];
        a[j - 1] = v;
      }
    }
  }
  using ull = unsigned long long;
  if (gaps[kRestarts / 2] != 0) {
    // Under -icount: instructions (virtual time means nothing here: the CPU
    // idles while the runner types, and the clock jumps).
    sys::print("blk_restart: fault to next completion over %u restarts: median %llu instructions, worst %llu\n",
               kRestarts, ull{gaps[kRestarts / 2]}, ull{gaps[kRestarts - 1]});
    sys::print("blk_restart %llu instructions %llu cycles\n", ull{gaps[kRestarts / 2]}, ull{cycles_of[kRestarts / 2]});
  } else {
    sys::print("blk_restart: fault to next completion over %u restarts: median %llu us, worst %llu us (wall)\n",
               kRestarts, ull{gaps_ns[kRestarts / 2] / 1000}, ull{gaps_ns[kRestarts - 1] / 1000});
  }
  return true;
}

}  // namespace

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  sys::BlockDevice disk;
  uint64_t sectors = 0;
  if (!disk.ok() || disk.info(&sectors) != blk::kOk || sectors < 64) {
    sys::print("blk_bench: no disk of at least 32 KiB (bazel run //:bench attaches one)\n");
    return 1;
  }
  // The same disk through virtio-blk-pci behind the SMMUv3 (system
  // blk_bench_iommu.system: its task is named so): the cost of confinement
  // with the DMA memory and connection mapped once, at start.
  if (sys::streq(keel::abi::start_info()->name, "blk_bench_iommu")) {
    const bool pci =
        row("blk_read_4k_pci_iommu", disk, false, sectors) && row("blk_write_4k_pci_iommu", disk, true, sectors);
    sys::print(pci ? "BLK BENCH DONE\n" : "blk_bench: a request failed\n");
    return pci ? 0 : 1;
  }
  bool ok = row("blk_read_4k", disk, false, sectors) && row("blk_write_4k", disk, true, sectors);
  ok = ok && throughput(disk, false, 1, sectors) && throughput(disk, false, 32, sectors) &&
       throughput(disk, true, 1, sectors) && throughput(disk, true, 32, sectors) && restart_row(disk, sectors);
  sys::print(ok ? "BLK BENCH DONE\n" : "blk_bench: a request failed\n");
  return ok ? 0 : 1;
}

extern "C" [[gnu::noinline, gnu::aligned(0x10000)]] void blk_window_begin() { asm volatile(""); }
extern "C" [[gnu::noinline]] void blk_window_end() { asm volatile(""); }
