// disk_stress — a block workload for driver restarts (//test/devices:
// blk_restarts): 4 KiB blocks of its partition written with patterns that
// name themselves (block, version), up to 8 requests in flight, every
// write's block read back and checked later, while the runner has init
// crash the block driver at each "round" line. At the end: every request
// completed exactly once (none lost, none twice), no read-back differed,
// and a hash of each block's last version, which the host compares with
// the image file (test/devices/stress_check.cc).
#include <stdint.h>

#include "keel/block.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/time.h"
#include "test/devices/stress_pattern.h"

namespace {

namespace sys = keel::sys;
namespace blk = keel::block;

constexpr uint32_t kBlockSectors = 8, kBlockBytes = keel::stress::kBlockBytes;
constexpr uint32_t kMaxBlocks = 64;
constexpr uint32_t kDepth = 8;  // requests in flight at most
// In all: 3,000, or 60,000 as `stress_long` (the 1,000-crash run).
constexpr uint32_t kRequests = 3000, kLongRequests = 60000;
constexpr uint32_t kRound = 50;  // completions per "round" line

uint32_t g_version[kMaxBlocks];  // the last version written (0: never)
// A request for the block is in flight. One at a time per block: the device
// may run in-flight requests in any order (and a restart resubmits them in
// another), so a read beside a write of the same block could see either.
bool g_busy[kMaxBlocks];
uint8_t g_done[kLongRequests + 1];  // completions seen per request (by its index)
constexpr uint32_t kMaxGaps = 1024;
uint64_t g_gaps[kMaxGaps];  // ns from the last completion before a restart to the first after it
uint32_t g_gap_count = 0;
uint64_t g_last_ns = 0;

struct Slot {
  uint32_t id = 0, index = 0, block = 0, version = 0;
  bool write = false;
};
Slot g_slots[kDepth];

}  // namespace

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  sys::BlockDevice disk;
  uint64_t sectors = 0;
  if (!disk.ok() || disk.info(&sectors) != blk::kOk) {
    sys::print("disk_stress: no disk\n");
    return 1;
  }
  const uint32_t blocks =
      sectors / kBlockSectors < kMaxBlocks ? static_cast<uint32_t>(sectors / kBlockSectors) : kMaxBlocks;
  const char* name = keel::abi::start_info()->name;
  const bool long_run = name[0] == 's' && name[6] == '_' && name[7] == 'l';  // "stress_long"
  const uint32_t requests = long_run ? kLongRequests : kRequests;
  sys::print("disk_stress: %u blocks of 4 KiB, %u requests, up to %u in flight\n", blocks, requests, kDepth);
  uint64_t x = 0x243f6a8885a308d3ull;
  uint32_t issued = 0, completed = 0, twice = 0, unknown = 0, corrupt = 0, errors = 0;
  while (completed < requests) {
    // Fill the window: a write of a block no request is in flight for, or a
    // read-back of a block written before (each slot has its own buffer).
    for (uint32_t k = 0; k < kDepth && issued < requests; ++k) {
      Slot& s = g_slots[k];
      if (s.id != 0) continue;
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      uint32_t b = static_cast<uint32_t>(x % blocks);
      for (uint32_t t = 0; t < blocks && g_busy[b]; ++t) b = (b + 1) % blocks;
      if (g_busy[b]) break;
      s.block = b;
      s.index = ++issued;
      s.write = (x >> 32) % 3 != 0 || g_version[b] == 0;
      uint8_t* buf = disk.data() + size_t{k} * kBlockBytes;
      if (s.write) {
        s.version = g_version[b] + 1;
        keel::stress::fill(buf, b, s.version);
      } else {
        s.version = g_version[b];
      }
      g_busy[b] = true;
      s.id =
          disk.submit(s.write ? blk::kWrite : blk::kRead, uint64_t{b} * kBlockSectors, kBlockSectors, k * kBlockBytes);
      if (s.id == 0) {
        sys::print("disk_stress: submit refused\n");
        return 1;
      }
    }
    const uint64_t resubmits = disk.resubmits();
    const blk::Completion c = disk.wait_completion();
    // The time a restart cost: from the last completion before it to the
    // first after it (the fault lies in between; wall time, TCG).
    const uint64_t now = sys::now_ns();
    if (disk.resubmits() != resubmits && g_gap_count < kMaxGaps && g_last_ns != 0)
      g_gaps[g_gap_count++] = now - g_last_ns;
    g_last_ns = now;
    uint32_t k = 0;
    while (k < kDepth && g_slots[k].id != c.id) ++k;
    if (k == kDepth) {
      ++unknown;
      continue;
    }
    Slot& s = g_slots[k];
    if (g_done[s.index]++ != 0) ++twice;
    ++completed;
    if (c.status != blk::kOk) {
      ++errors;
    } else if (s.write) {
      g_version[s.block] = s.version;
    } else if (!keel::stress::holds(disk.data() + size_t{k} * kBlockBytes, s.block, s.version)) {
      ++corrupt;
      sys::print("disk_stress: block %u read back without version %u\n", s.block, s.version);
    }
    g_busy[s.block] = false;
    s.id = 0;
    if (completed % kRound == 0) sys::print("disk_stress: round %04u done\n", completed / kRound);
  }
  uint32_t lost = 0;
  for (uint32_t i = 1; i <= requests; ++i) lost += g_done[i] == 0 ? 1 : 0;
  // FNV-1a over every block's last version: the host finds the same in the image.
  const uint64_t h = keel::stress::versions_hash(g_version, blocks);
  // The restarts' cost, median and worst (a few dozen values: insertion sort).
  for (uint32_t i = 1; i < g_gap_count; ++i) {
    for (uint32_t j = i; j > 0 && g_gaps[j - 1] > g_gaps[j]; --j) {
      const uint64_t t = g_gaps[j];
      g_gaps[j] = g_gaps[j - 1];
      g_gaps[j - 1] = t;
    }
  }
  if (g_gap_count > 0) {
    sys::print(
        "disk_stress: from the last completion before a restart to the first after it: median %llu us, worst "
        "%llu us (%u restarts)\n",
        static_cast<unsigned long long>(g_gaps[g_gap_count / 2] / 1000),
        static_cast<unsigned long long>(g_gaps[g_gap_count - 1] / 1000), g_gap_count);
  }
  const bool ok = lost == 0 && twice == 0 && unknown == 0 && corrupt == 0 && errors == 0;
  sys::print(
      "disk_stress: %s: %u requests, %u lost, %u completed twice, %u unknown, %u corrupt, %u errors; "
      "%llu resubmissions after restarts; versions hash %016llx\n",
      ok ? "PASS" : "FAIL", requests, lost, twice, unknown, corrupt, errors,
      static_cast<unsigned long long>(disk.resubmits()), static_cast<unsigned long long>(h));
  return ok ? 0 : 1;
}
