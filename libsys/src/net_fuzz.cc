// net_fuzz — libFuzzer target: what the network driver and stack read from
// places they do not control. (1) The device's answers on the receive
// queue (keel/virtio.h Queue::take, then keel/virtio_net.h RxIntake) with
// any ids, lengths and num_buffers: a delivered frame is 14..1514 bytes
// and inside the buffer posted, and no descriptor comes back twice. (2) The
// stack's frames from the driver and the driver's from the stack
// (keel/proto/link.h valid_frame): a valid one names a buffer in range
// with a length that fits it. (3) A client's socket requests
// (keel/proto/socket.h check): on kOk the socket number and the buffer are
// in range. Oracle: these checks and the sanitizers.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cstdlib>
#include <map>

#include "keel/proto/link.h"
#include "keel/proto/socket.h"
#include "keel/virtio.h"
#include "keel/virtio_net.h"

namespace {

struct NullRegs final : keel::virtio::Regs {
  std::map<uint32_t, uint32_t> reg;
  uint32_t read(uint32_t off) override { return off == keel::virtio::kQueueNumMax ? 32 : reg[off]; }
  void write(uint32_t off, uint32_t v) override { reg[off] = v; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace link = keel::link;
  namespace sock = keel::sock;
  namespace vnet = keel::virtio::net;
  // (1) The receive queue: every descriptor posted as one buffer, then the
  // fuzzer's bytes as used entries (8) each followed by a num_buffers (2).
  void* mem = std::aligned_alloc(4096, keel::virtio::Queue::kBytes);
  NullRegs regs;
  keel::virtio::MmioTransport mmio{regs};
  keel::virtio::Queue q;
  const uint64_t va = reinterpret_cast<uint64_t>(mem);
  if (q.setup(mmio, 0, {va, va, keel::virtio::Queue::kBytes}) == nullptr) {
    bool in_flight[keel::virtio::Queue::kMaxQueueSize] = {};
    for (uint16_t i = 0; i < q.size(); ++i) {
      const int h = q.alloc_chain(1);
      if (h < 0) __builtin_trap();
      in_flight[h] = true;
      q.submit(mmio, static_cast<uint16_t>(h));
    }
    auto* used_idx = reinterpret_cast<uint16_t*>(va + 8192 + 2);
    auto* used = reinterpret_cast<keel::virtio::UsedElem*>(va + 8192 + 4);
    vnet::RxIntake intake;
    for (size_t off = 0; off + 10 <= size && off < size_t{10} * 256; off += 10) {
      memcpy(&used[*used_idx % q.size()], data + off, 8);
      uint16_t num_buffers = 0;
      memcpy(&num_buffers, data + off + 8, 2);
      ++*used_idx;
      uint16_t head = 0;
      uint32_t len = 0;
      while (q.take(&head, &len)) {
        if (head >= q.size() || !in_flight[head]) __builtin_trap();  // each descriptor back once
        in_flight[head] = false;
        uint32_t frame = 0;
        vnet::Rx why = vnet::Rx::kOk;
        if (intake.take(len, link::kBufferBytes, num_buffers, q.size(), &frame, &why)) {
          if (frame < link::kMinFrame || frame > link::kMaxFrame || frame + link::kHeaderBytes > link::kBufferBytes) {
            __builtin_trap();
          }
        } else if (why == vnet::Rx::kOk) {
          __builtin_trap();
        }
        if (intake.pending_skip() >= q.size()) __builtin_trap();
        // The driver posts the buffer again at once.
        const int h = q.alloc_chain(1);
        if (h >= 0) {
          in_flight[h] = true;
          q.submit(mmio, static_cast<uint16_t>(h));
        }
      }
      if (q.free_count() > q.size()) __builtin_trap();
    }
  }
  std::free(mem);
  // (2) Link frames either way.
  for (size_t off = 0; off + sizeof(link::Frame) <= size; off += sizeof(link::Frame)) {
    link::Frame f;
    memcpy(&f, data + off, sizeof f);
    if (link::valid_frame(f) &&
        (f.buffer >= link::kBuffers || link::buffer_offset(f.buffer) + link::kHeaderBytes + f.len >
                                           link::kDataOffset + uint64_t{link::kBuffers} * link::kBufferBytes)) {
      __builtin_trap();
    }
  }
  // (3) Socket requests.
  for (size_t off = 0; off + sizeof(sock::Request) <= size; off += sizeof(sock::Request)) {
    sock::Request r;
    memcpy(&r, data + off, sizeof r);
    if (sock::check(r) != sock::kOk) continue;
    if (r.op == 0 || r.op >= sock::kOpEnd) __builtin_trap();
    if (r.op != sock::kSocket && r.op != sock::kStats && r.sock >= sock::kMaxSockets) __builtin_trap();
    const bool buffer = r.op == sock::kSend || r.op == sock::kRecv || r.op == sock::kSendTo ||
                        r.op == sock::kRecvFrom || r.op == sock::kStats;
    if (buffer && (r.len == 0 || uint64_t{r.offset} + r.len > sock::kDataBytes)) __builtin_trap();
    if ((r.op == sock::kConnect || r.op == sock::kSendTo) && (r.port == 0 || r.port > 0xffff)) __builtin_trap();
  }
  return 0;
}
