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
#include <stddef.h>
#include <stdint.h>

#include "keel/block.h"
#include "keel/pmu.h"
#include "keel/sys.h"
#include "keel/task.h"
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

}  // namespace

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  sys::BlockDevice disk;
  uint64_t sectors = 0;
  if (!disk.ok() || disk.info(&sectors) != blk::kOk || sectors < 64) {
    sys::print("blk_bench: no disk of at least 32 KiB (bazel run //:bench attaches one)\n");
    return 1;
  }
  bool ok = row("blk_read_4k", disk, false, sectors) && row("blk_write_4k", disk, true, sectors);
  ok = ok && throughput(disk, false, 1, sectors) && throughput(disk, false, 32, sectors) &&
       throughput(disk, true, 1, sectors) && throughput(disk, true, 32, sectors);
  sys::print(ok ? "BLK BENCH DONE\n" : "blk_bench: a request failed\n");
  return ok ? 0 : 1;
}

extern "C" [[gnu::noinline, gnu::aligned(0x10000)]] void blk_window_begin() { asm volatile(""); }
extern "C" [[gnu::noinline]] void blk_window_end() { asm volatile(""); }
