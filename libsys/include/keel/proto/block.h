// proto/block.h — a block driver and its clients (servers/blk), over the
// connection memory init shares between them (`disk = DRIVER [OFFSET SIZE]`
// in the client's description; task.h: kDiskVa / StartInfo::conns).
//
//   connection memory (abi::kConnBytes = 64 KiB):
//   +------------------------------+ 0
//   | requests: Ring<Request, 32>  |  client -> driver
//   | done:     Ring<Completion,32>|  driver -> client
//   +------------------------------+ kDataOffset (8 KiB)
//   | data: the client's buffers   |  56 KiB, addressed by Request::offset
//   +------------------------------+
//
// Rules (the driver trusts nothing in this memory):
//  - A request names sectors of the client's own partition (sector 0 is the
//    partition's first), count sectors (1..kMaxSectors), and a buffer at
//    offset in the data area; each is checked against the partition and the
//    data area before the device sees anything, and a bad one is answered
//    with an error status (the driver goes on serving everyone).
//  - Pushing a request hands its buffer to the driver until its completion
//    comes back; the device reads or writes it by DMA in place.
//  - Completions carry the request's id; they may come in any order.
//  - Wake-ups: keel/ring.h's protocol; the client signals task_slot::kDiskWake,
//    the driver wakes the client's kDiskWait.
//  - Generations (a driver that restarts): each driver instance, as it
//    starts, adds one to `generation` and wakes the client. A request
//    carries the generation the client had seen when it made it; the driver
//    drops (without a completion) every request of another generation — the
//    ones the dead instance left in the ring among them. A client that sees
//    the generation change first takes every completion there is (the dead
//    instance's are all in the ring by then), then submits again, with the
//    new generation, every request still without a completion. So each
//    request completes exactly once, and none runs twice after its
//    completion was seen (block requests may run twice before it: the same
//    sectors and data again, which is harmless).
#pragma once

#include <stdint.h>

#include "keel/ring.h"

namespace keel::block {

constexpr uint64_t kSector = 512;
constexpr uint64_t kDataOffset = 8192;
constexpr uint64_t kDataBytes = 64 * 1024 - kDataOffset;
constexpr uint32_t kMaxSectors = kDataBytes / kSector;

enum Op : uint32_t { kRead = 1, kWrite = 2, kFlush = 3, kInfo = 4 };

// Completion::status (0 = done).
enum Status : int32_t {
  kOk = 0,
  kBadOp = -1,       // unknown op
  kOutOfRange = -2,  // sectors outside the client's partition, or count 0 / too large
  kBadBuffer = -3,   // offset + bytes outside the data area, or not sector aligned
  kReadOnly = -4,    // a write to a read-only disk
  kIoError = -5,     // the device said so
};

struct Request {
  uint32_t op;
  uint32_t id;  // the client's, returned in the completion
  uint64_t sector;
  uint32_t count;   // sectors
  uint32_t offset;  // of the buffer in the data area (bytes from kDataOffset)
  uint32_t gen;     // the driver generation the client had seen (see above)
  uint32_t reserved;
};
struct Completion {
  uint32_t id;
  int32_t status;
  uint64_t value;  // kInfo: the partition's size in sectors | kInfoReadOnly; else bytes moved
};
constexpr uint64_t kInfoReadOnly = uint64_t{1} << 63;  // the disk refuses writes

using RequestRing = ring::Ring<Request, 32>;
using CompletionRing = ring::Ring<Completion, 32>;
struct Shared {
  RequestRing requests;
  CompletionRing done;
  alignas(64) uint32_t generation;  // the driver's: one more per instance (see above)
};
static_assert(sizeof(Shared) <= kDataOffset, "the rings fit before the data area");

// The driver's decode of one request against a partition [first, first +
// sectors) of the disk: every field checked, nothing trusted. On kOk,
// disk_sector and data_offset (from the connection memory's start) say
// where the device is to move `bytes`.
struct Decoded {
  int32_t status;
  uint64_t disk_sector;
  uint64_t data_offset;
  uint32_t bytes;
};
constexpr Decoded decode(const Request& r, uint64_t first, uint64_t sectors, bool read_only) {
  Decoded d{kOk, 0, 0, 0};
  if (r.op == kInfo || r.op == kFlush) return d;
  if (r.op != kRead && r.op != kWrite) return Decoded{kBadOp, 0, 0, 0};
  if (r.count == 0 || r.count > kMaxSectors || r.sector >= sectors || r.count > sectors - r.sector) {
    return Decoded{kOutOfRange, 0, 0, 0};
  }
  const uint64_t bytes = uint64_t{r.count} * kSector;
  if (r.offset % kSector != 0 || r.offset > kDataBytes || bytes > kDataBytes - r.offset) {
    return Decoded{kBadBuffer, 0, 0, 0};
  }
  if (r.op == kWrite && read_only) return Decoded{kReadOnly, 0, 0, 0};
  d.disk_sector = first + r.sector;
  d.data_offset = kDataOffset + r.offset;
  d.bytes = static_cast<uint32_t>(bytes);
  return d;
}

constexpr const char* status_name(int32_t s) {
  switch (s) {
    case kOk: return "ok";
    case kBadOp: return "bad op";
    case kOutOfRange: return "out of range";
    case kBadBuffer: return "bad buffer";
    case kReadOnly: return "read-only";
    case kIoError: return "I/O error";
  }
  return "unknown status";
}

}  // namespace keel::block
