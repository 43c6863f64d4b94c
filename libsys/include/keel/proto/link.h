// proto/link.h — an Ethernet driver (servers/net) and the network stack
// above it (servers/netstack), over the connection memory init shares
// between them (`connect = net` in the stack's description).
//
//   connection memory (abi::kConnBytes = 64 KiB):
//   +--------------------------------+ 0
//   | Info: MAC, MTU, ready          |  driver -> stack (written once)
//   | rx_free: Ring<Frame, 32>       |  stack -> driver: empty buffers to receive into
//   | rx:      Ring<Frame, 32>       |  driver -> stack: received frames
//   | tx:      Ring<Frame, 32>       |  stack -> driver: frames to send
//   | tx_done: Ring<Frame, 32>       |  driver -> stack: buffers sent (or dropped)
//   +--------------------------------+ kDataOffset (8 KiB)
//   | kBuffers buffers of kBufferBytes: the first kHeaderBytes of each are
//   | the device's per-frame header (virtio_net_hdr), the frame follows.
//   +--------------------------------+
//
// Rules (each side checks what the other writes):
//  - A Frame names a buffer by index (< kBuffers) and a frame length
//    (kMinFrame..kMaxFrame; on rx_free and tx_done the length is 0).
//  - Pushing a Frame hands its buffer over: the device moves frames by DMA
//    in place (zero copy in the driver), so a buffer is the driver's from
//    rx_free/tx until it comes back on rx/tx_done. The driver refuses a
//    buffer it holds already (counted), and a length out of range.
//  - Every buffer starts as the stack's; rings hold 32 > kBuffers entries,
//    so a push by an honest side never finds its ring full.
//  - Wake-ups: keel/ring.h's protocol; the stack signals task_slot::kDiskWake
//    (the driver's notification, conn bit), the driver the stack's
//    notification (abi::kUpstreamBit).
//  - Generations (a driver that restarts): each driver instance adds one to
//    Info::generation as it starts (its device was reset before: nothing
//    of the dead instance's can still be written by DMA) and wakes the
//    stack. Frames carry the generation they were sent in; the driver
//    drops frames of another generation. The stack, seeing a new one,
//    takes what the driver rings hold, then takes back every buffer (the
//    dead instance's are lost with it) and gives them out again.
#pragma once

#include <stdint.h>

#include "keel/ring.h"

namespace keel::link {

constexpr uint64_t kDataOffset = 8192;
constexpr uint32_t kBufferBytes = 2048;
constexpr uint32_t kBuffers = (64 * 1024 - kDataOffset) / kBufferBytes;  // 28
constexpr uint32_t kHeaderBytes = 12;  // virtio_net_hdr with num_buffers (VERSION_1, §5.1.6)
constexpr uint32_t kMinFrame = 14;     // an Ethernet header
constexpr uint32_t kMaxFrame = 1514;   // MTU 1500 + the Ethernet header (no VLAN tag, no FCS)
static_assert(kHeaderBytes + kMaxFrame <= kBufferBytes);

struct Frame {
  uint32_t buffer;
  uint32_t len;
  uint32_t gen;  // the driver generation it belongs to (see above)
  uint32_t reserved;
};
using FrameRing = ring::Ring<Frame, 32>;
static_assert(FrameRing::kCapacity > kBuffers, "an honest side never finds a ring full");

// The driver's counters, for the stack's statistics: written only by the
// driver, each store single-copy atomic (the stack may read any time).
enum Counter : uint32_t {
  kRxFrames,
  kRxBytes,
  kTxFrames,
  kTxBytes,
  kRxShort,
  kRxLong,
  kRxBadNumBuffers,  // received frames dropped, by reason (keel/virtio_net.h)
  kBadBuffers,       // buffers the stack handed over wrongly (refused)
  kStale,            // frames of another driver instance, dropped (see Generations)
  kCounters,
};

struct Info {
  uint32_t ready;       // 1 once the rest is written (stored with release)
  uint32_t generation;  // the driver instance's (see above)
  uint32_t mtu;
  uint8_t mac[6];
  uint64_t counters[kCounters];
};

struct Shared {
  Info info;
  FrameRing rx_free, rx, tx, tx_done;
};
static_assert(sizeof(Shared) <= kDataOffset, "the rings fit before the buffers");

// A buffer's offset in the connection memory (index checked by the caller).
constexpr uint64_t buffer_offset(uint32_t index) { return kDataOffset + uint64_t{index} * kBufferBytes; }

// A frame length one side may hand the other (tx from the stack, rx from the driver).
constexpr bool valid_frame(const Frame& f) { return f.buffer < kBuffers && f.len >= kMinFrame && f.len <= kMaxFrame; }

}  // namespace keel::link
