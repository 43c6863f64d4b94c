// disk_client — a client of the block driver (system/blk_clients.system):
// two of it, each on its own partition of one disk, plus a hostile one.
//  - "left"/"right": read their whole partition (the harness put a known
//    pattern there) and print its checksum, then write their own pattern
//    (task id and sector in every byte pair) over it, flush, read it back.
//  - "hostile": requests past its partition, zero and huge counts, buffers
//    outside the data area, unknown ops, then garbage in its ring's header:
//    each gets an error status (or nothing), never another's sectors.
#include <stddef.h>
#include <stdint.h>

#include "keel/block.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"

namespace {

namespace sys = keel::sys;
namespace abi = keel::abi;
namespace blk = keel::block;

bool is(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

// FNV-1a over what it read.
uint64_t fnv(const uint8_t* p, uint64_t n, uint64_t h) {
  for (uint64_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace

int main() {
  sys::set_console(abi::task_slot::kConsole);
  const abi::StartInfo* info = abi::start_info();
  sys::Checks checks(info->name);
  sys::BlockDevice disk;
  uint64_t sectors = 0;
  bool read_only = false;
  int32_t st = disk.ok() ? disk.info(&sectors, &read_only) : blk::kBadOp;
  checks.report(st == blk::kOk && sectors > 0, "its partition", "%llu sectors (%s)",
                static_cast<unsigned long long>(sectors), blk::status_name(st));
  if (is(info->name, "hostile")) {
    uint8_t* d = disk.data();
    d[0] = 1;
    checks.check(disk.read(sectors, 1, 0) == blk::kOutOfRange, "a sector past its partition");
    checks.check(disk.read(sectors - 1, 2, 0) == blk::kOutOfRange, "a run crossing its partition's end");
    checks.check(disk.read(0, 0, 0) == blk::kOutOfRange, "zero sectors");
    checks.check(disk.read(0, blk::kMaxSectors + 1, 0) == blk::kOutOfRange, "more sectors than the data area");
    checks.check(disk.write(0, 2, blk::kDataBytes - 512) == blk::kBadBuffer, "a buffer running past the data area");
    checks.check(disk.write(0, 1, 100) == blk::kBadBuffer, "an unaligned buffer");
    checks.check(disk.write(0, 1, 0xffffff00) == blk::kBadBuffer, "a buffer offset far outside");
    checks.check(disk.read(~uint64_t{0} - 1, 2, 0) == blk::kOutOfRange, "a sector number that wraps");
    // (Raw requests carry the driver's generation, or it drops them unanswered.)
    const uint32_t gen = __atomic_load_n(&disk.shared()->generation, __ATOMIC_ACQUIRE);
    blk::Request bad{77, 0, 0, 1, 0, gen, 0};
    bool signal = false;
    (void)disk.shared()->requests.push(bad, &signal);
    (void)sys::Notification(abi::task_slot::kDiskWake).signal();
    blk::Completion c{};
    for (int i = 0; i < 1000 && !disk.shared()->done.pop(&c, &signal); ++i) (void)sys::yield();
    checks.check(c.status == blk::kBadOp, "an unknown op");
    // A queue full of garbage: 32 requests of random ops, sectors, counts
    // and offsets at once; each answered (an error, or ok where a random
    // request happens to be valid), none reaching outside its partition.
    uint64_t x = 0x9e3779b97f4a7c15ull, answered = 0, refused = 0;
    for (uint32_t k = 0; k < 32; ++k) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      blk::Request g{static_cast<uint32_t>(x % 6),
                     1000 + k,
                     (x >> 8) % (2 * sectors),
                     static_cast<uint32_t>(x >> 20) % 200,
                     static_cast<uint32_t>(x >> 40) % 70000,
                     gen,
                     0};
      if (g.op == blk::kWrite) g.op = blk::kRead;  // (its own partition's data stays as the harness left it)
      (void)disk.shared()->requests.push(g, &signal);
    }
    (void)sys::Notification(abi::task_slot::kDiskWake).signal();
    for (int i = 0; i < 100000 && answered < 32; ++i) {
      blk::Completion g{};
      if (disk.shared()->done.pop(&g, &signal)) {
        ++answered;
        refused += g.status != blk::kOk ? 1 : 0;
      } else {
        (void)sys::yield();
      }
    }
    checks.report(answered == 32 && refused > 0, "a queue full of garbage is answered, request by request",
                  "%llu answered, %llu refused", static_cast<unsigned long long>(answered),
                  static_cast<unsigned long long>(refused));
    // Nonsense in the ring header: the driver refuses to read past N and goes on.
    auto* words = reinterpret_cast<volatile uint32_t*>(disk.shared());
    words[0] = 0x7fffffff;
    (void)sys::Notification(abi::task_slot::kDiskWake).signal();
    for (int i = 0; i < 100; ++i) (void)sys::yield();
    words[0] = words[16];  // (head = tail: empty again)
    checks.check(disk.read(0, 1, 0) == blk::kOk, "it is still served after garbage");
    return checks.summary("disk_client");
  }
  // left / right: what the harness wrote, then its own pattern.
  const uint32_t chunk = blk::kMaxSectors;
  uint64_t sum = 0xcbf29ce484222325ull;
  bool ok = true;
  for (uint64_t s = 0; s < sectors && ok; s += chunk) {
    const uint32_t n = static_cast<uint32_t>(sectors - s < chunk ? sectors - s : chunk);
    ok = disk.read(s, n, 0) == blk::kOk;
    sum = fnv(disk.data(), uint64_t{n} * blk::kSector, sum);
  }
  checks.report(ok, "read its partition", "fnv1a %016llx", static_cast<unsigned long long>(sum));
  if (read_only) {  // (--drive FILE,ro) every write refused, by the driver, before the device
    checks.check(disk.write(0, 1, 0) == blk::kReadOnly, "a write to the read-only disk is refused");
    checks.check(disk.flush() == blk::kOk, "a flush of the read-only disk is harmless");
    return checks.summary("disk_client");
  }
  for (uint64_t s = 0; s < sectors && ok; s += chunk) {
    const uint32_t n = static_cast<uint32_t>(sectors - s < chunk ? sectors - s : chunk);
    for (uint64_t i = 0; i < uint64_t{n} * blk::kSector; i += 2) {
      disk.data()[i] = static_cast<uint8_t>(info->id);
      disk.data()[i + 1] = static_cast<uint8_t>(s + i / blk::kSector);
    }
    ok = disk.write(s, n, 0) == blk::kOk;
  }
  ok = ok && disk.flush() == blk::kOk;
  checks.check(ok, "wrote and flushed its partition");
  for (uint64_t s = 0; s < sectors && ok; s += chunk) {
    const uint32_t n = static_cast<uint32_t>(sectors - s < chunk ? sectors - s : chunk);
    for (uint64_t i = 0; i < uint64_t{n} * blk::kSector; ++i) disk.data()[i] = 0;
    ok = disk.read(s, n, 0) == blk::kOk;
    for (uint64_t i = 0; ok && i < uint64_t{n} * blk::kSector; i += 2) {
      ok = disk.data()[i] == static_cast<uint8_t>(info->id) &&
           disk.data()[i + 1] == static_cast<uint8_t>(s + i / blk::kSector);
    }
  }
  checks.check(ok, "reads back what it wrote");
  // The asynchronous form: every sector read on its own, as many in flight
  // as the API allows, each into its own buffer; completions matched by id
  // (the driver may finish them in any order), each exactly once.
  if (ok && sectors <= blk::kMaxSectors && sectors <= 128) {
    for (uint64_t i = 0; i < sectors * blk::kSector; ++i) disk.data()[i] = 0;
    uint32_t ids[128] = {};
    bool done[128] = {};
    uint64_t submitted = 0, completed = 0, max_in_flight = 0;
    while (ok && completed < sectors) {
      while (submitted < sectors) {
        const uint32_t id = disk.submit(blk::kRead, submitted, 1, static_cast<uint32_t>(submitted * blk::kSector));
        if (id == 0) break;
        ids[submitted++] = id;
      }
      if (disk.in_flight() > max_in_flight) max_in_flight = disk.in_flight();
      const blk::Completion c = disk.wait_completion();
      uint64_t which = sectors;
      for (uint64_t k = 0; k < submitted; ++k) {
        if (ids[k] == c.id && !done[k]) which = k;
      }
      ok = which < sectors && c.status == blk::kOk;
      if (ok) done[which] = true;
      ++completed;
    }
    for (uint64_t i = 0; ok && i < sectors * blk::kSector; i += 2) {
      ok = disk.data()[i] == static_cast<uint8_t>(info->id) &&
           disk.data()[i + 1] == static_cast<uint8_t>(i / blk::kSector);
    }
    checks.report(ok && max_in_flight == sys::BlockDevice::kMaxInFlight, "reads it back asynchronously",
                  "%llu requests, up to %llu in flight", static_cast<unsigned long long>(sectors),
                  static_cast<unsigned long long>(max_in_flight));
  }
  return checks.summary("disk_client");
}
