// blk_bench — the cost of one 4 KiB block request at queue depth 1, counted
// by the PMU under -icount (bazel run //:bench, runner bench_blk): every
// instruction the CPU runs from the client's push to its completion —
// client, kernel (notifications, the interrupt) and the driver
// (servers/blk) — on one CPU, averaged over kRounds requests after a
// warm-up. Rows: blk_read_4k, blk_write_4k (docs/performance.md).
#include <stddef.h>
#include <stdint.h>

#include "keel/block.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace {

namespace sys = keel::sys;
namespace blk = keel::block;

constexpr uint64_t kRounds = 200;
constexpr uint32_t kSectors = 8;  // 4 KiB

uint64_t cycles() {
  uint64_t v;
  asm volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
  return v;
}
uint64_t instructions() {
  uint64_t v;
  asm volatile("isb; mrs %0, pmevcntr0_el0" : "=r"(v));
  return v;
}

bool row(const char* name, sys::BlockDevice& disk, bool write, uint64_t sectors) {
  for (uint64_t i = 0; i < 20; ++i) {  // warm-up: caches, TLBs, the driver's first paths
    if ((write ? disk.write(i % (sectors / kSectors) * kSectors, kSectors, 0)
               : disk.read(i % (sectors / kSectors) * kSectors, kSectors, 0)) != blk::kOk) {
      return false;
    }
  }
  const uint64_t i0 = instructions(), c0 = cycles();
  for (uint64_t i = 0; i < kRounds; ++i) {
    const uint64_t s = i % (sectors / kSectors) * kSectors;
    if ((write ? disk.write(s, kSectors, 0) : disk.read(s, kSectors, 0)) != blk::kOk) return false;
  }
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

}  // namespace

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  sys::BlockDevice disk;
  uint64_t sectors = 0;
  if (!disk.ok() || disk.info(&sectors) != blk::kOk || sectors < 64) {
    sys::print("blk_bench: no disk of at least 32 KiB (bazel run //:bench attaches one)\n");
    return 1;
  }
  const bool ok = row("blk_read_4k", disk, false, sectors) && row("blk_write_4k", disk, true, sectors);
  sys::print(ok ? "BLK BENCH DONE\n" : "blk_bench: a request failed\n");
  return ok ? 0 : 1;
}
