// virtio_net.h — what a virtio-net driver checks of each received frame
// (portable: servers/net uses it, the fuzzer and host tests drive it).
// Spec: VIRTIO 1.2 §5.1.6. With VERSION_1 the per-frame header is 12 bytes
// (num_buffers included, not the legacy 10). The driver negotiates
// MRG_RXBUF so that the device fills num_buffers in (QEMU 7.2 leaves it
// unwritten without it), and posts buffers that hold a whole frame, so an
// honest device always says 1; a frame spread over k > 1 buffers is
// dropped with its k - 1 continuation buffers (§5.1.6.4).
#pragma once

#include <stdint.h>

#include "keel/proto/link.h"

namespace keel::virtio::net {

// Device-specific feature bits (§5.1.3) keel's driver may accept.
constexpr uint64_t kFeatureMac = uint64_t{1} << 5;        // the config space holds a MAC
constexpr uint64_t kFeatureMrgRxbuf = uint64_t{1} << 15;  // num_buffers is written (see above)
// No checksum, segmentation or merged-buffer offloads: lwIP computes checksums.

enum Queues : uint32_t { kRxQueue = 0, kTxQueue = 1 };

struct Header {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
  uint16_t num_buffers;
};
static_assert(sizeof(Header) == link::kHeaderBytes);

enum class Rx { kOk, kShort, kLong, kBadNumBuffers };

// A received frame's verdict: `used_len` is what the device says it wrote
// (untrusted), `posted` the bytes the driver gave it, num_buffers read from
// the header in the buffer. On kOk, *frame_len is the Ethernet frame's
// length (after the header). Never more than posted: a frame longer than
// its buffer is dropped, never copied past it.
constexpr Rx check_rx(uint32_t used_len, uint32_t posted, uint16_t num_buffers, uint32_t* frame_len) {
  if (used_len > posted) return Rx::kLong;
  if (used_len < link::kHeaderBytes + link::kMinFrame) return Rx::kShort;
  if (num_buffers != 1) return Rx::kBadNumBuffers;
  if (used_len - link::kHeaderBytes > link::kMaxFrame) return Rx::kLong;
  *frame_len = used_len - link::kHeaderBytes;
  return Rx::kOk;
}

// The receive side's decision for each buffer the device gives back, with
// the state a frame spread over several buffers leaves (MRG_RXBUF): the
// driver's frame intake, portable so the fuzzer drives it. `queue_size`
// bounds a believable num_buffers.
class RxIntake {
 public:
  // true: deliver *frame_len bytes after the header; false: drop the buffer
  // (*why says why; a continuation of a dropped frame is kLong).
  bool take(uint32_t used_len, uint32_t posted, uint16_t num_buffers, uint32_t queue_size, uint32_t* frame_len,
            Rx* why) {
    if (skip_ > 0) {  // the rest of a frame that did not fit one buffer: dropped with it
      --skip_;
      *why = Rx::kLong;
      return false;
    }
    *why = check_rx(used_len, posted, num_buffers, frame_len);
    if (*why == Rx::kBadNumBuffers && num_buffers > 1 && num_buffers <= queue_size) skip_ = num_buffers - 1u;
    return *why == Rx::kOk;
  }
  uint32_t pending_skip() const { return skip_; }

 private:
  uint32_t skip_ = 0;
};

constexpr const char* rx_name(Rx r) {
  switch (r) {
    case Rx::kOk: return "ok";
    case Rx::kShort: return "shorter than a header and an Ethernet header";
    case Rx::kLong: return "longer than its buffer";
    case Rx::kBadNumBuffers: return "num_buffers is not 1";
  }
  return "?";
}

}  // namespace keel::virtio::net
