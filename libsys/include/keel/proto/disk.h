// proto/disk.h — a block driver's statistics, served on its endpoint when its
// description says `serves = disk` (servers/blk); the console's `disk`
// asks through init, which holds the endpoint.
//
//   Stats(MR0 = index) -> label = abi::Error
//     index 0:    the disk     MR0 capacity (512-byte sectors), MR1 flags
//                              (kReadOnly | kFlush), MR2 clients, MR3 device
//                              requests completed, MR4 device errors, MR5 the
//                              device's block size, MR6 queue size
//     index 1..n: client n-1   MR0 client's task id, MR1 first sector, MR2
//                              sectors, MR3 requests, MR4 bytes moved,
//                              MR5 errors answered, MR6 completions lost (its
//                              completion ring was full)
//     past the last client: kInvalidArgument.
// The counters are the driver's, read while it serves: a snapshot, each
// value exact at some moment of the call.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"

namespace keel::disk {

constexpr uint64_t kStats = 1;
constexpr uint64_t kReadOnly = 1u << 0, kFlush = 1u << 1;
constexpr uint64_t kStatsWords = 7;

inline abi::Error stats(const sys::Endpoint& ep, uint64_t index, uint64_t out[kStatsWords]) {
  sys::Message m;
  m.label = kStats;
  m.mr[0] = index;
  m.length = 1;
  abi::Error e = ep.call(m);
  if (e == abi::Error::kOk) e = static_cast<abi::Error>(m.label);
  if (e == abi::Error::kOk && m.length < kStatsWords) e = abi::Error::kInvalidArgument;  // (a short answer)
  if (e == abi::Error::kOk) {
    for (uint64_t i = 0; i < kStatsWords; ++i) out[i] = m.mr[i];
  }
  return e;
}

}  // namespace keel::disk
