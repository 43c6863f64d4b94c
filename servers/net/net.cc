// net — the virtio-net driver: it takes the transport its description
// names (`device = virtio,mmio#N`, `dma = 32K`, `reset = 0x70`), negotiates
// VERSION_1 and MAC only (no offloads: the stack computes checksums), sets
// up its receive and transmit queues in its DMA memory, and moves frames
// between the device and the network stack connected to it
// (keel/proto/link.h) without copying: the device reads and writes the
// stack's buffers in the connection memory in place.
//
// Invariants: every buffer is the stack's or the driver's, never both (the
// driver refuses one it holds); the receive queue is refilled from the
// stack's free buffers as they come and the device kicked, so it has
// buffers whenever the stack has any to give; a received frame is checked
// (keel/virtio_net.h) before the stack sees it — too short, too long or a
// bad num_buffers is dropped, counted, and its buffer goes straight back to
// the device.
#include <stddef.h>
#include <stdint.h>

#include "keel/driver.h"
#include "keel/proto/link.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/virtio.h"
#include "keel/virtio_device.h"
#include "keel/virtio_net.h"

namespace {

namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;
namespace vio = keel::virtio;
namespace vnet = keel::virtio::net;
namespace link = keel::link;

// The locally administered address used when the device has none (F_MAC).
constexpr uint8_t kFallbackMac[6] = {0x02, 0x6b, 0x65, 0x65, 0x6c, 0x01};
constexpr uint32_t kNoBuffer = ~0u;

struct Nic {
  vio::Device device;                               // virtio-mmio or virtio-pci, as init gave it
  vio::Transport* transport = &device.transport();  // (re-taken once open)
  vio::Queue rxq, txq;
  link::Shared* shared = nullptr;
  uint64_t conn_pa = 0, conn_va = 0;
  uint8_t mac[6] = {};
  bool mac_from_device = false;
  uint32_t rx_buffer[vio::Queue::kMaxQueueSize];  // by chain head: the stack's buffer in flight
  uint32_t tx_buffer[vio::Queue::kMaxQueueSize];
  bool held[link::kBuffers] = {};  // the driver's (posted to the device) now
  vnet::RxIntake intake;           // what each received buffer is (keel/virtio_net.h)
  uint32_t generation = 0;         // this instance's (proto/link.h "Generations")
};
Nic g_nic;

// The counters live in the link's Info (the stack reports them); only this
// thread writes them.
void count(link::Counter c, uint64_t n = 1) {
  uint64_t& v = g_nic.shared->info.counters[c];
  __atomic_store_n(&v, v + n, __ATOMIC_RELAXED);
}

uint64_t irq_bits() { return abi::device_irq_bit(0, 0); }

void wake_stack() { (void)sys::Notification(slot::kConnWake).signal(); }

const char* start() {
  const abi::StartInfo* info = abi::start_info();
  if (info->device_count != 1 || info->devices[0].irq_count != 1) return "expected one device with one interrupt";
  if (info->dma_size < 2 * vio::Queue::kBytes) return "needs dma = 32K";
  Nic& n = g_nic;
  if (const char* why = n.device.open(info->devices[0], 0, vio::kNet)) return why;
  n.transport = &n.device.transport();
  uint64_t features = 0;
  if (const char* why = vio::negotiate(
          *n.transport, vnet::kFeatureMac | vnet::kFeatureMrgRxbuf | n.device.platform_features(), &features))
    return why;
  if ((features & vnet::kFeatureMrgRxbuf) == 0) return "the device does not offer MRG_RXBUF (num_buffers)";
  n.mac_from_device = (features & vnet::kFeatureMac) != 0;
  if (n.mac_from_device) {
    // The configuration (§5.1.4): mac[6] first; 32-bit reads, little-endian.
    uint32_t gen = 0;
    do {
      gen = n.transport->config_generation();
      const uint32_t lo = n.transport->config32(0), hi = n.transport->config32(4);
      for (int i = 0; i < 4; ++i) n.mac[i] = static_cast<uint8_t>(lo >> (8 * i));
      for (int i = 0; i < 2; ++i) n.mac[4 + i] = static_cast<uint8_t>(hi >> (8 * i));
    } while (gen != n.transport->config_generation());
  } else {
    for (int i = 0; i < 6; ++i) n.mac[i] = kFallbackMac[i];
  }
  if (const char* why = n.rxq.setup(*n.transport, vnet::kRxQueue, {info->dma_va, info->dma_iova, vio::Queue::kBytes})) {
    return why;
  }
  if (const char* why =
          n.txq.setup(*n.transport, vnet::kTxQueue,
                      {info->dma_va + vio::Queue::kBytes, info->dma_iova + vio::Queue::kBytes, vio::Queue::kBytes})) {
    return why;
  }
  for (uint32_t& b : n.rx_buffer) b = kNoBuffer;
  for (uint32_t& b : n.tx_buffer) b = kNoBuffer;
  n.transport->set_status(n.transport->status() | vio::kDriverOk);
  sys::print("net: %s: MAC %02x:%02x:%02x:%02x:%02x:%02x%s, queues of %u and %u\n", info->devices[0].path, n.mac[0],
             n.mac[1], n.mac[2], n.mac[3], n.mac[4], n.mac[5], n.mac_from_device ? "" : " (fallback)", n.rxq.size(),
             n.txq.size());
  return nullptr;
}

// Posts one of the stack's buffers to the receive queue (device-writable:
// header and frame). False when the queue has no room.
bool post_rx(uint32_t buffer) {
  Nic& n = g_nic;
  const int head = n.rxq.alloc_chain(1);
  if (head < 0) return false;
  vio::Desc& d = n.rxq.desc(static_cast<uint16_t>(head));
  d.addr = n.conn_pa + link::buffer_offset(buffer);
  d.len = link::kBufferBytes;
  d.flags = vio::kDescWrite;
  n.rx_buffer[head] = buffer;
  n.held[buffer] = true;
  n.rxq.submit(*n.transport, static_cast<uint16_t>(head));
  return true;
}

// A buffer the stack hands over: in range and not the driver's already.
bool take_from_stack(const link::Frame& f, bool tx) {
  Nic& n = g_nic;
  if (f.gen != n.generation) {  // the stack's, for an earlier instance: it takes the buffer back itself
    count(link::kStale);
    return false;
  }
  if (f.buffer >= link::kBuffers || n.held[f.buffer] || (tx && !link::valid_frame(f))) {
    count(link::kBadBuffers);
    return false;
  }
  return true;
}

// One pass over everything that can move; true if anything did.
bool pump() {
  Nic& n = g_nic;
  link::Shared& s = *n.shared;
  bool moved = false, signal = false, wake = false;
  link::Frame f{};
  // Empty buffers for the device, while it has room.
  while (n.rxq.free_count() > 0 && s.rx_free.pop(&f, &signal)) {
    wake |= signal;
    moved = true;
    if (take_from_stack(f, false)) (void)post_rx(f.buffer);
  }
  // Frames to send: the header zeroed (no offloads), header and frame in
  // one device-readable descriptor.
  while (n.txq.free_count() > 0 && s.tx.pop(&f, &signal)) {
    wake |= signal;
    moved = true;
    if (!take_from_stack(f, true)) continue;
    auto* hdr = reinterpret_cast<volatile uint8_t*>(n.conn_va + link::buffer_offset(f.buffer));
    for (uint32_t i = 0; i < link::kHeaderBytes; ++i) hdr[i] = 0;
    const int head = n.txq.alloc_chain(1);
    vio::Desc& d = n.txq.desc(static_cast<uint16_t>(head));
    d.addr = n.conn_pa + link::buffer_offset(f.buffer);
    d.len = link::kHeaderBytes + f.len;
    d.flags = 0;
    n.tx_buffer[head] = f.buffer;
    n.held[f.buffer] = true;
    count(link::kTxFrames);
    count(link::kTxBytes, f.len);
    n.txq.submit(*n.transport, static_cast<uint16_t>(head));
  }
  // Received frames, checked; a bad one's buffer goes back to the device.
  uint16_t head = 0;
  uint32_t len = 0;
  while (n.rxq.take(&head, &len)) {
    moved = true;
    const uint32_t buffer = n.rx_buffer[head];
    n.rx_buffer[head] = kNoBuffer;
    if (buffer == kNoBuffer) continue;  // (take() only returns heads in flight)
    n.held[buffer] = false;
    const auto* hdr = reinterpret_cast<const volatile vnet::Header*>(n.conn_va + link::buffer_offset(buffer));
    uint32_t frame = 0;
    vnet::Rx verdict = vnet::Rx::kOk;
    if (!n.intake.take(len, link::kBufferBytes, hdr->num_buffers, n.rxq.size(), &frame, &verdict)) {
      count(verdict == vnet::Rx::kShort  ? link::kRxShort
            : verdict == vnet::Rx::kLong ? link::kRxLong
                                         : link::kRxBadNumBuffers);
      (void)post_rx(buffer);  // (the slot it came from is free)
      continue;
    }
    count(link::kRxFrames);
    count(link::kRxBytes, frame);

    bool sig = false;
    if (!s.rx.push(link::Frame{buffer, frame, n.generation, 0}, &sig)) {
      count(link::kBadBuffers);  // a full ring: the stack broke the protocol; the buffer stays with the device
      (void)post_rx(buffer);
    }
    wake |= sig;
  }
  while (n.txq.take(&head, &len)) {
    moved = true;
    const uint32_t buffer = n.tx_buffer[head];
    n.tx_buffer[head] = kNoBuffer;
    if (buffer == kNoBuffer) continue;
    n.held[buffer] = false;
    bool sig = false;
    if (!s.tx_done.push(link::Frame{buffer, 0, n.generation, 0}, &sig)) count(link::kBadBuffers);
    wake |= sig;
  }
  if (wake) wake_stack();
  return moved;
}

[[noreturn]] void serve() {
  Nic& n = g_nic;
  for (;;) {
    while (pump()) {
    }
    // Asleep only when the stack has nothing for the device that fits
    // (after asking it to wake us), or the device's interrupt will come.
    const bool rx_pending = !n.shared->rx_free.prepare_wait(), tx_pending = !n.shared->tx.prepare_wait();
    if ((rx_pending && n.rxq.free_count() > 0) || (tx_pending && n.txq.free_count() > 0)) continue;
    uint64_t word = 0;
    (void)sys::driver_wait(&word);
    if ((word & abi::kInjectDmaBit) != 0) {  // (the next chain of either queue: both armed)
      n.rxq.inject_wild();
      n.txq.inject_wild();
    }
    if ((word & irq_bits()) != 0) {
      // Acknowledge, then drain (§4.2.3.4). A device that found an error
      // (a wild descriptor) serves nothing until reset: init restarts us.
      if ((n.transport->take_interrupt_status() & vio::kConfigChange) != 0 && vio::needs_reset(*n.transport)) {
        sys::print("net: the device reports an error and needs a reset; exiting for a restart\n");
        sys::exit(3);
      }
      (void)sys::IrqHandler(slot::kDeviceIrq).ack();
    }
  }
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const abi::StartInfo* info = abi::start_info();
  if (const char* why = start()) {
    sys::print("net: no network device (%s)\n", why);
    return 0;
  }
  if (info->conn_count != 1) {
    sys::print("net: no network stack is connected (connect = net); the device stays idle\n");
    (void)vio::reset(*g_nic.transport);
    return 0;
  }
  Nic& n = g_nic;
  n.shared = reinterpret_cast<link::Shared*>(info->conns[0].va);
  n.conn_va = info->conns[0].va;
  n.conn_pa = info->conns[0].pa;
  link::Info& li = n.shared->info;
  n.generation = __atomic_load_n(&li.generation, __ATOMIC_RELAXED) + 1;
  __atomic_store_n(&li.generation, n.generation, __ATOMIC_RELEASE);
  li.mtu = 1500;
  for (int i = 0; i < 6; ++i) li.mac[i] = n.mac[i];
  __atomic_store_n(&li.ready, 1u, __ATOMIC_RELEASE);  // Ordering: MAC and MTU before ready
  wake_stack();
  serve();
}
