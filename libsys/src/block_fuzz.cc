// block_fuzz — libFuzzer target: what the block driver reads from places it
// does not control. (1) Client requests from the connection's ring, decoded
// against a partition (keel/proto/block.h decode): on kOk the sectors lie
// inside the partition and the buffer inside the data area, whatever the
// request said. (2) A device's used-ring answers (keel/virtio.h Queue::take):
// whatever ids and lengths it writes, each descriptor is freed at most once
// and the free count never exceeds the queue. Oracle: these checks and the
// sanitizers.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cstdlib>
#include <map>

#include "keel/proto/block.h"
#include "keel/virtio.h"

namespace {

struct NullRegs final : keel::virtio::Regs {
  std::map<uint32_t, uint32_t> reg;
  uint32_t read(uint32_t off) override { return off == keel::virtio::kQueueNumMax ? 16 : reg[off]; }
  void write(uint32_t off, uint32_t v) override { reg[off] = v; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace blk = keel::block;
  if (size < 17) return 0;
  uint64_t first = 0, sectors = 0;
  memcpy(&first, data, 8);
  memcpy(&sectors, data + 8, 8);
  first %= uint64_t{1} << 40;
  sectors %= uint64_t{1} << 40;
  const bool ro = (data[16] & 1) != 0;
  const uint8_t* p = data + 17;
  size_t n = size - 17;
  // (1) requests
  for (size_t off = 0; off + sizeof(blk::Request) <= n; off += sizeof(blk::Request)) {
    blk::Request r;
    memcpy(&r, p + off, sizeof r);
    const blk::Decoded d = blk::decode(r, first, sectors, ro);
    if (d.status != blk::kOk || (r.op != blk::kRead && r.op != blk::kWrite)) continue;
    if (d.disk_sector < first || d.disk_sector + d.bytes / blk::kSector > first + sectors) __builtin_trap();
    if (d.data_offset < blk::kDataOffset || d.data_offset + d.bytes > blk::kDataOffset + blk::kDataBytes) {
      __builtin_trap();
    }
    if (d.bytes == 0 || d.bytes % blk::kSector != 0 || (ro && r.op == blk::kWrite)) __builtin_trap();
  }
  // (2) device answers: a queue of 16 with some chains in flight, then the
  // fuzzer's bytes as used entries.
  void* mem = std::aligned_alloc(4096, keel::virtio::Queue::kBytes);
  NullRegs regs;
  keel::virtio::MmioTransport mmio{regs};
  keel::virtio::Queue q;
  const uint64_t va = reinterpret_cast<uint64_t>(mem);
  if (q.setup(mmio, 0, {va, va, keel::virtio::Queue::kBytes}) == nullptr) {
    for (int i = 0; i < 4; ++i) {
      const int h = q.alloc_chain(1 + i % 3);
      if (h >= 0) q.submit(mmio, static_cast<uint16_t>(h));
    }
    auto* used_idx = reinterpret_cast<uint16_t*>(va + 8192 + 2);
    auto* used = reinterpret_cast<keel::virtio::UsedElem*>(va + 8192 + 4);
    for (size_t off = 0; off + 8 <= n && off < size_t{8} * 64; off += 8) {
      memcpy(&used[*used_idx % q.size()], p + off, 8);
      ++*used_idx;
      uint16_t head = 0;
      uint32_t len = 0;
      while (q.take(&head, &len)) {
        if (head >= q.size()) __builtin_trap();
      }
      if (q.free_count() > q.size()) __builtin_trap();
    }
  }
  std::free(mem);
  return 0;
}
