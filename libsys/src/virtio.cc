#include "keel/virtio.h"

namespace keel::virtio {
namespace {

constexpr unsigned kResetPolls = 1'000'000;

void fail(Transport& t) { t.set_status(t.status() | kFailed); }

}  // namespace

const char* check_transport(Regs& r, uint32_t want_device) {
  if (r.read(kMagic) != kMagicValue) return "not a virtio-mmio transport (bad magic)";
  // (A transport with nothing behind it says device 0, in either version.)
  if (r.read(kDeviceId) == 0) return "no device behind this transport";
  const uint32_t version = r.read(kVersion);
  if (version == 1) {
    return "a legacy virtio-mmio transport (version 1): keel drives modern devices only "
           "(QEMU: -global virtio-mmio.force-legacy=false)";
  }
  if (version != kModernVersion) return "unknown virtio-mmio version";
  if (r.read(kDeviceId) != want_device) return "a different kind of virtio device";
  return nullptr;
}

uint64_t MmioTransport::device_features() {
  r_.write(kDeviceFeaturesSel, 0);
  uint64_t offered = r_.read(kDeviceFeatures);
  r_.write(kDeviceFeaturesSel, 1);
  return offered | uint64_t{r_.read(kDeviceFeatures)} << 32;
}

void MmioTransport::set_driver_features(uint64_t features) {
  r_.write(kDriverFeaturesSel, 0);
  r_.write(kDriverFeatures, static_cast<uint32_t>(features));
  r_.write(kDriverFeaturesSel, 1);
  r_.write(kDriverFeatures, static_cast<uint32_t>(features >> 32));
}

bool MmioTransport::setup_queue(uint32_t q, uint32_t size, uint64_t desc, uint64_t driver, uint64_t device) {
  r_.write(kQueueSel, q);
  r_.write(kQueueNum, size);
  r_.write(kQueueDescLow, static_cast<uint32_t>(desc));
  r_.write(kQueueDescHigh, static_cast<uint32_t>(desc >> 32));
  r_.write(kQueueDriverLow, static_cast<uint32_t>(driver));
  r_.write(kQueueDriverHigh, static_cast<uint32_t>(driver >> 32));
  r_.write(kQueueDeviceLow, static_cast<uint32_t>(device));
  r_.write(kQueueDeviceHigh, static_cast<uint32_t>(device >> 32));
  r_.write(kQueueReady, 1);
  return true;
}

uint32_t MmioTransport::take_interrupt_status() {
  const uint32_t status = r_.read(kInterruptStatus);
  r_.write(kInterruptAck, status);
  return status;
}

bool reset(Transport& t) {
  t.set_status(0);
  for (unsigned i = 0; i < kResetPolls; ++i) {
    if (t.status() == 0) return true;
  }
  return false;
}

bool needs_reset(Transport& t) { return (t.status() & kNeedsReset) != 0; }

const char* negotiate(Transport& t, uint64_t wanted, uint64_t* accepted) {
  if (!reset(t)) return "the device does not reset (Status never reads 0)";
  t.set_status(kAcknowledge);
  t.set_status(kAcknowledge | kDriver);
  const uint64_t offered = t.device_features();
  if ((offered & kFeatureVersion1) == 0) {
    fail(t);
    return "the device does not offer VIRTIO_F_VERSION_1";
  }
  // Only what the device offers and the driver understands.
  const uint64_t use = offered & (wanted | kFeatureVersion1);
  t.set_driver_features(use);
  t.set_status(kAcknowledge | kDriver | kFeaturesOk);
  if ((t.status() & kFeaturesOk) == 0) {
    fail(t);
    return "the device refused the features (FEATURES_OK did not stay set)";
  }
  *accepted = use;
  return nullptr;
}

const char* Queue::setup(Transport& t, uint32_t index, const DmaRegion& mem) {
  if (mem.size < kBytes || (mem.va & 0xfff) != 0 || (mem.pa & 0xfff) != 0) {
    return "queue memory must be 3 pages, page aligned";
  }
  if (t.queue_ready(index)) return "the queue is in use already";
  const uint32_t max = t.queue_max(index);
  if (max == 0) return "the device has no such queue";
  uint32_t n = max < kMaxQueueSize ? max : kMaxQueueSize;
  while ((n & (n - 1)) != 0) n &= n - 1;  // a power of two (split queues need not, but it keeps idx math simple)
  size_ = static_cast<uint16_t>(n);
  index_ = static_cast<uint16_t>(index);
  auto* bytes = reinterpret_cast<volatile uint8_t*>(mem.va);
  for (uint64_t i = 0; i < kBytes; ++i) bytes[i] = 0;
  descs_ = reinterpret_cast<Desc*>(mem.va);
  avail_ = reinterpret_cast<volatile uint16_t*>(mem.va + 4096);
  used_hdr_ = reinterpret_cast<volatile uint16_t*>(mem.va + 8192);
  used_ = reinterpret_cast<volatile UsedElem*>(mem.va + 8192 + 4);
  for (uint16_t i = 0; i < size_; ++i) next_free_[i] = static_cast<uint16_t>(i + 1);
  free_head_ = 0;
  free_count_ = size_;
  avail_idx_ = used_seen_ = 0;
  for (uint32_t& c : chain_len_) c = 0;
  bad_ = 0;
  if (!t.setup_queue(index, n, mem.pa, mem.pa + 4096, mem.pa + 8192)) {
    return "the device's notification address for the queue is outside its notify structure";
  }
  return nullptr;
}

int Queue::alloc_chain(unsigned n) {
  if (n == 0 || n > free_count_) return -1;
  const uint16_t head = free_head_;
  uint16_t id = head;
  for (unsigned i = 0; i < n; ++i) {
    const uint16_t next = next_free_[id];
    descs_[id] =
        Desc{0, 0, static_cast<uint16_t>(i + 1 < n ? kDescNext : 0), static_cast<uint16_t>(i + 1 < n ? next : 0)};
    if (i + 1 < n) id = next;
    free_head_ = next;
  }
  free_count_ = static_cast<uint16_t>(free_count_ - n);
  chain_len_[head] = n;
  return head;
}

void Queue::submit(Transport& t, uint16_t head) {
  if (wild_) {
    wild_ = false;
    descs_[head].addr = kWildAddress;
    descs_[head].len = kWildLength;
  }
  avail_[2 + avail_idx_ % size_] = head;
  // Ordering: the descriptors and the ring entry before the index the device reads (§2.7.13).
  __atomic_thread_fence(__ATOMIC_RELEASE);
  ++avail_idx_;
  avail_[1] = avail_idx_;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);  // Ordering: the index before reading the device's flags (§2.7.10)
  const uint16_t used_flags = used_hdr_[0];
  if ((used_flags & 1) == 0) t.notify(index_);  // VIRTQ_USED_F_NO_NOTIFY clear: it wants a kick
}

bool Queue::take(uint16_t* head, uint32_t* len) {
  for (;;) {
    const uint16_t device_idx = used_hdr_[1];
    if (device_idx == used_seen_) return false;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);  // Ordering: read the entry after seeing the index that publishes it
    const UsedElem e{used_[used_seen_ % size_].id, used_[used_seen_ % size_].len};
    ++used_seen_;
    // Untrusted: an id out of range, or not the head of a chain in flight.
    if (e.id >= size_ || chain_len_[e.id] == 0) {
      ++bad_;
      continue;
    }
    // Its descriptors back on the free list, walked by the driver's own
    // links (next_free_ kept the chain's order since alloc_chain took it
    // off the list) and count: nothing in DMA-reachable memory is trusted.
    uint16_t id = static_cast<uint16_t>(e.id);
    const uint32_t n = chain_len_[id];
    chain_len_[id] = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const uint16_t next = next_free_[id];
      next_free_[id] = free_head_;
      free_head_ = id;
      id = next;
    }
    free_count_ = static_cast<uint16_t>(free_count_ + n);
    *head = static_cast<uint16_t>(e.id);
    *len = e.len;
    return true;
  }
}

}  // namespace keel::virtio
