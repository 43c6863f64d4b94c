// blk — the virtio-blk driver: it takes the transport its description names
// (`device = virtio,mmio#N`, `dma = 64K`, `reset = 0x70`), checks and
// negotiates it (keel/virtio.h), reads the configuration (every value
// range-checked) and sets up its request queue in its DMA memory. Then:
//  - with clients (`disk = blk ...` in their descriptions), it serves each
//    its partition over keel/proto/block.h, many requests in flight, and its
//    statistics (keel/proto/disk.h, `serves = disk`) on its endpoint;
//  - without, a disk whose sector 0 starts with "KEELTEST" is a test disk:
//    the driver first writes a known pattern to sectors 1..8, flushes and
//    reads it back (test/devices:blk_host_readback checks the image file
//    from the host); any other disk is left alone; it serves its
//    statistics all the same.
//
// A request is a chain of three descriptors (§5.2.6): the header (type,
// sector) the device reads, the data buffer, and the status byte it writes.
#include <stddef.h>
#include <stdint.h>

#include "keel/driver.h"
#include "keel/proto/block.h"
#include "keel/proto/disk.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/thread.h"
#include "keel/virtio.h"
#include "keel/virtio_device.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;
namespace vio = keel::virtio;

// Feature bits (§5.2.3) the driver understands.
constexpr uint64_t kFeatureSegMax = 1u << 2, kFeatureRo = 1u << 5, kFeatureBlkSize = 1u << 6, kFeatureFlush = 1u << 9;
// Request types and status (§5.2.6).
constexpr uint32_t kIn = 0, kOut = 1, kFlush = 4, kGetId = 8;
constexpr uint32_t kIdBytes = 20;  // VIRTIO_BLK_ID_BYTES
constexpr uint8_t kStatusOk = 0;
constexpr uint64_t kSector = 512;
constexpr uint32_t kTestBytes = 8 * 512;  // the test disk's sectors 1..8

struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

// The DMA memory: the queue's three pages, then one page of headers and
// status bytes (32 bytes per chain head), then data buffers.
constexpr uint64_t kHeaderPage = vio::Queue::kBytes, kData = kHeaderPage + 4096;

struct Disk {
  vio::Device device;                               // virtio-mmio or virtio-pci, as init gave it
  vio::Transport* transport = &device.transport();  // (re-taken once open)
  vio::Queue queue;
  uint64_t dma_va = 0, dma_pa = 0, dma_size = 0;
  uint64_t capacity = 0;  // 512-byte sectors
  uint32_t blk_size = 512;
  bool read_only = false, flush = false;
  uint64_t done = 0, io_errors = 0;  // device requests completed / failed (counters: see count())
};
Disk g_disk;

uint64_t irq_bits() { return abi::device_irq_bit(0, 0); }

// The device's interrupt: acknowledged at the device, then at the kernel.
// A device that found an error (a wild descriptor) serves nothing until it
// is reset: the driver exits, and init restarts it (restart = on-fault).
void acknowledge_interrupt() {
  if ((g_disk.transport->take_interrupt_status() & vio::kConfigChange) != 0 && vio::needs_reset(*g_disk.transport)) {
    sys::print("blk: the device reports an error and needs a reset; exiting for a restart\n");
    sys::exit(3);
  }
  (void)sys::IrqHandler(slot::kDeviceIrq).ack();
}

// The counters the statistics thread reads while this one serves: written
// only by the serving thread, each store and load single-copy atomic.
void count(uint64_t& counter, uint64_t n = 1) { __atomic_store_n(&counter, counter + n, __ATOMIC_RELAXED); }
uint64_t counted(const uint64_t* counter) { return __atomic_load_n(counter, __ATOMIC_RELAXED); }

// The header and status byte of the request whose chain starts at `head`:
// in the header page at head * 32 (the queue has at most 128 descriptors).
volatile RequestHeader* header_of(uint16_t head) {
  return reinterpret_cast<volatile RequestHeader*>(g_disk.dma_va + kHeaderPage + uint64_t{head} * 32);
}
volatile uint8_t* status_of(uint16_t head) {
  return reinterpret_cast<volatile uint8_t*>(g_disk.dma_va + kHeaderPage + uint64_t{head} * 32 + 16);
}

// Starts one request on the device (§5.2.6): a chain of the header (type,
// sector), the data buffer at data_pa (none when bytes is 0; written by the
// device when `into_memory`) and the status byte. The caller has checked
// the buffer and the sectors. Returns the chain's head, or -1 when the
// queue has no room.
int start_chain(uint32_t type, uint64_t sector, uint64_t data_pa, uint32_t bytes, bool into_memory) {
  Disk& d = g_disk;
  const int head = d.queue.alloc_chain(bytes == 0 ? 2 : 3);
  if (head < 0) return -1;
  const uint64_t hdr_pa = d.dma_pa + kHeaderPage + static_cast<uint64_t>(head) * 32;
  volatile RequestHeader* hdr = header_of(static_cast<uint16_t>(head));
  hdr->type = type;
  hdr->reserved = 0;
  hdr->sector = sector;
  *status_of(static_cast<uint16_t>(head)) = 0xff;
  uint16_t id = static_cast<uint16_t>(head);
  vio::Desc& h = d.queue.desc(id);
  h.addr = hdr_pa;
  h.len = sizeof(RequestHeader);
  id = h.next;
  if (bytes != 0) {
    vio::Desc& data = d.queue.desc(id);
    data.addr = data_pa;
    data.len = bytes;
    data.flags = static_cast<uint16_t>(data.flags | (into_memory ? vio::kDescWrite : 0));
    id = data.next;
  }
  vio::Desc& st = d.queue.desc(id);
  st.addr = hdr_pa + 16;
  st.len = 1;
  st.flags = vio::kDescWrite;
  d.queue.submit(*d.transport, static_cast<uint16_t>(head));
  return head;
}

// One request, waited for: header + (data) + status; the interrupt is
// acknowledged before the used ring is read (§4.2.3.4: the other order
// can lose a completion).
const char* request(uint32_t type, uint64_t sector, uint64_t data_offset, uint32_t bytes) {
  Disk& d = g_disk;
  const bool sectors = type == kIn || type == kOut;
  if ((sectors && bytes % kSector != 0) || data_offset + bytes > d.dma_size || data_offset < kData) return "bad buffer";
  if (sectors && (sector >= d.capacity || bytes / kSector > d.capacity - sector)) return "past the end";
  const int head = start_chain(type, sector, d.dma_pa + data_offset, bytes, type == kIn || type == kGetId);
  if (head < 0) return "queue full";
  const volatile uint8_t* status = status_of(static_cast<uint16_t>(head));
  for (;;) {
    uint64_t word = 0;
    (void)sys::driver_wait(&word);
    if ((word & abi::kInjectDmaBit) != 0) d.queue.inject_wild();
    if ((word & irq_bits()) == 0) continue;
    acknowledge_interrupt();  // first acknowledge ...
    uint16_t done = 0;
    uint32_t len = 0;
    while (d.queue.take(&done, &len)) {  // ... then drain
      if (done != head) continue;
      count(d.done);
      if (*status == kStatusOk) return nullptr;
      count(d.io_errors);
      return "the device reported an error";
    }
  }
}

const char* start() {
  const abi::StartInfo* info = abi::start_info();
  if (info->device_count != 1 || info->devices[0].irq_count != 1) return "expected one device with one interrupt";
  if (info->dma_size < kData + kTestBytes) return "needs dma = 64K";
  Disk& d = g_disk;
  d.dma_va = info->dma_va;
  d.dma_pa = info->dma_iova;  // (the device's view: an IOVA behind an IOMMU)
  d.dma_size = info->dma_size;
  if (const char* why = d.device.open(info->devices[0], 0, vio::kBlock)) return why;
  d.transport = &d.device.transport();
  uint64_t features = 0;
  if (const char* why = vio::negotiate(
          *d.transport, kFeatureRo | kFeatureBlkSize | kFeatureFlush | kFeatureSegMax | d.device.platform_features(),
          &features)) {
    return why;
  }
  // The configuration (§5.2.4), little-endian; re-read until the generation is stable.
  uint32_t gen = 0;
  do {
    gen = d.transport->config_generation();
    d.capacity = d.transport->config32(0) | uint64_t{d.transport->config32(4)} << 32;
    if ((features & kFeatureBlkSize) != 0) d.blk_size = d.transport->config32(20);
  } while (gen != d.transport->config_generation());
  // Untrusted values: a block size keel does not handle is refused.
  if (d.blk_size < 512 || d.blk_size > 65536 || (d.blk_size & (d.blk_size - 1)) != 0) return "implausible blk_size";
  if (d.capacity == 0 || d.capacity > (uint64_t{1} << 48)) return "implausible capacity";
  d.read_only = (features & kFeatureRo) != 0;
  d.flush = (features & kFeatureFlush) != 0;
  if (const char* why = d.queue.setup(*d.transport, 0, {d.dma_va, d.dma_pa, d.dma_size})) return why;
  d.transport->set_status(d.transport->status() | vio::kDriverOk);
  // Its serial (GET_ID, §5.2.6): 20 bytes, NUL-padded; untrusted, so only
  // printable characters are shown.
  char id[kIdBytes + 1] = {};
  auto* raw = reinterpret_cast<volatile uint8_t*>(d.dma_va + kData);
  for (uint32_t i = 0; i < kIdBytes; ++i) raw[i] = 0;
  if (request(kGetId, 0, kData, kIdBytes) == nullptr) {
    for (uint32_t i = 0; i < kIdBytes && raw[i] != 0; ++i) id[i] = raw[i] >= 0x20 && raw[i] < 0x7f ? char(raw[i]) : '?';
  }
  sys::print("blk: %s: %llu sectors (%llu KiB), block %u%s%s, queue of %u, id '%s'\n", info->devices[0].path,
             static_cast<unsigned long long>(d.capacity), static_cast<unsigned long long>(d.capacity / 2), d.blk_size,
             d.read_only ? ", read-only" : "", d.flush ? ", flush" : "", d.queue.size(), id);
  return nullptr;
}

// The test-disk protocol (sector 0 begins "KEELTEST").
const char* self_test() {
  Disk& d = g_disk;
  auto* buf = reinterpret_cast<volatile uint8_t*>(d.dma_va + kData);
  if (const char* why = request(kIn, 0, kData, 512)) return why;
  const char magic[] = "KEELTEST";
  for (int i = 0; i < 8; ++i) {
    if (buf[i] != static_cast<uint8_t>(magic[i])) {
      sys::print("blk: sector 0 is not a keel test disk; nothing written\n");
      return nullptr;
    }
  }
  if (d.read_only) {
    const char* why = request(kOut, 1, kData, 512);
    sys::print("blk: a write to the read-only disk: %s\n", why == nullptr ? "accepted (wrong)" : why);
    return nullptr;
  }
  for (uint64_t i = 0; i < kTestBytes; ++i) buf[i] = static_cast<uint8_t>((i * 7 + i / 512) & 0xff);
  if (const char* why = request(kOut, 1, kData, kTestBytes)) return why;
  if (d.flush) {
    if (const char* why = request(kFlush, 0, kData, 0)) return why;
  }
  for (uint64_t i = 0; i < kTestBytes; ++i) buf[i] = 0;
  if (const char* why = request(kIn, 1, kData, kTestBytes)) return why;
  for (uint64_t i = 0; i < kTestBytes; ++i) {
    if (buf[i] != static_cast<uint8_t>((i * 7 + i / 512) & 0xff)) return "read back differs";
  }
  sys::print("blk: test disk: wrote, flushed and read back sectors 1..8\n");
  return nullptr;
}

// ---- serving clients (keel/proto/block.h) --------------------------------------------
// Every request in flight on the device, by its chain's head descriptor:
// whose it is (its header and status: header_of / status_of).
struct InFlight {
  bool used = false;
  uint16_t conn = 0;
  uint32_t id = 0, bytes = 0;
};
InFlight g_inflight[vio::Queue::kMaxQueueSize];

struct Conn {
  keel::block::Shared* shared = nullptr;
  uint32_t generation = 0;  // this instance's (proto/block.h "Generations")
  uint64_t pa = 0, client_id = 0;
  uint64_t first = 0, sectors = 0;  // the partition, in disk sectors
  uint64_t requests = 0, bytes = 0, errors = 0, lost = 0, stale = 0;
};
Conn g_conns[abi::kMaxConns];
uint16_t g_conn_count = 0;

void complete(uint16_t conn, uint32_t id, int32_t status, uint64_t value) {
  Conn& c = g_conns[conn];
  bool signal = false;
  if (status != keel::block::kOk) count(c.errors);
  // A client that does not take its completions loses them, not others.
  if (!c.shared->done.push(keel::block::Completion{id, status, value}, &signal)) count(c.lost);
  if (signal) (void)sys::Notification(slot::kConnWake + conn).signal();
}

// Starts one decoded request on the device (false: no descriptors free).
bool start_io(uint16_t conn, const keel::block::Request& r, const keel::block::Decoded& dec) {
  const bool data = r.op == keel::block::kRead || r.op == keel::block::kWrite;
  const uint32_t type = r.op == keel::block::kRead ? kIn : r.op == keel::block::kWrite ? kOut : kFlush;
  // The data: the client's own buffer, checked by decode.
  const int head = start_chain(type, dec.disk_sector, g_conns[conn].pa + dec.data_offset, data ? dec.bytes : 0,
                               r.op == keel::block::kRead);
  if (head < 0) return false;
  g_inflight[head] = InFlight{true, conn, r.id, dec.bytes};
  return true;
}

// Takes each connection's requests while the device has room.
void take_requests() {
  Disk& d = g_disk;
  for (uint16_t i = 0; i < g_conn_count; ++i) {
    Conn& c = g_conns[i];
    while (d.queue.free_count() >= 3) {
      keel::block::Request r{};
      bool signal = false;
      if (!c.shared->requests.pop(&r, &signal)) break;
      if (signal) (void)sys::Notification(slot::kConnWake + i).signal();
      if (r.gen != c.generation) {  // made for another instance: the client submits it again
        count(c.stale);
        continue;
      }
      count(c.requests);
      const keel::block::Decoded dec = keel::block::decode(r, c.first, c.sectors, d.read_only);
      if (dec.status != keel::block::kOk) {
        complete(i, r.id, dec.status, 0);
      } else if (r.op == keel::block::kInfo) {
        complete(i, r.id, keel::block::kOk, c.sectors | (d.read_only ? keel::block::kInfoReadOnly : 0));
      } else if (r.op == keel::block::kFlush && !d.flush) {
        complete(i, r.id, keel::block::kOk, 0);  // (a device without FLUSH writes through)
      } else {
        (void)start_io(i, r, dec);
      }
    }
  }
}

// Completions from the device, matched by descriptor id, any order.
void take_completions() {
  Disk& d = g_disk;
  uint16_t head = 0;
  uint32_t len = 0;
  while (d.queue.take(&head, &len)) {
    InFlight& f = g_inflight[head];
    if (!f.used) continue;
    f.used = false;
    const bool ok = *status_of(head) == kStatusOk;
    count(d.done);
    if (ok) {
      count(g_conns[f.conn].bytes, f.bytes);
    } else {
      count(d.io_errors);
    }
    complete(f.conn, f.id, ok ? keel::block::kOk : keel::block::kIoError, f.bytes);
  }
}

// ---- statistics (keel/proto/disk.h), for the console's `disk` -------------------
// A second thread serves them on the driver's endpoint, so the serving
// thread waits on one notification only. It reads the counters, nothing
// else (the configuration is fixed before it starts).
alignas(4096) abi::IpcBuffer g_stats_ipc;
alignas(16) char g_stats_stack[4096];
constexpr uint64_t kStatsThread = slot::kFirstFree;  // its capability's slot in the driver's CNode

void stats_answer(const sys::Message& m, sys::Message* out) {
  const Disk& d = g_disk;
  *out = sys::Message{};
  out->label = static_cast<uint64_t>(Error::kInvalidArgument);
  if (m.label != keel::disk::kStats || m.length < 1 || m.mr[0] > g_conn_count) return;
  uint64_t* r = out->mr;
  if (m.mr[0] == 0) {
    r[0] = d.capacity;
    r[1] = (d.read_only ? keel::disk::kReadOnly : 0) | (d.flush ? keel::disk::kFlush : 0);
    r[2] = g_conn_count;
    r[3] = counted(&d.done);
    r[4] = counted(&d.io_errors);
    r[5] = d.blk_size;
    r[6] = d.queue.size();
  } else {
    const Conn& c = g_conns[m.mr[0] - 1];
    r[0] = c.client_id;
    r[1] = c.first;
    r[2] = c.sectors;
    r[3] = counted(&c.requests);
    r[4] = counted(&c.bytes);
    r[5] = counted(&c.errors);
    r[6] = counted(&c.lost);
  }
  out->length = keel::disk::kStatsWords;
  out->label = static_cast<uint64_t>(Error::kOk);
}

void stats_thread(uint64_t) { sys::serve(sys::Endpoint(slot::kServerEndpoint), stats_answer); }

[[noreturn]] void serve(const abi::StartInfo* info) {
  Disk& d = g_disk;
  for (uint64_t i = 0; i < info->conn_count && i < abi::kMaxConns; ++i) {
    const auto& in = info->conns[i];
    Conn& c = g_conns[g_conn_count++];
    c.shared = reinterpret_cast<keel::block::Shared*>(in.va);
    c.pa = in.pa;
    c.client_id = in.client_id;
    // The partition in sectors, clipped to the disk (a partition past the
    // end has no sectors: every request is out of range).
    const uint64_t first = in.part_offset / kSector;
    const uint64_t rest = first < d.capacity ? d.capacity - first : 0;
    c.first = first;
    c.sectors = in.part_size == 0 ? rest : (in.part_size / kSector < rest ? in.part_size / kSector : rest);
    const uint64_t end = c.first + c.sectors;
    // A new generation: what an earlier instance left unanswered, the
    // client submits again (proto/block.h). Woken so it notices.
    c.generation = __atomic_load_n(&c.shared->generation, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&c.shared->generation, c.generation, __ATOMIC_RELEASE);
    (void)sys::Notification(slot::kConnWake + (g_conn_count - 1)).signal();
    sys::print("blk: client %llu: sectors [%llu, %llu), generation %u\n", static_cast<unsigned long long>(in.client_id),
               static_cast<unsigned long long>(c.first), static_cast<unsigned long long>(end), c.generation);
  }
  // (Without it the clients are still served; only `disk` cannot ask.)
  const Error e = sys::start_thread({.untyped = slot::kUntyped,
                                     .slot = kStatsThread,
                                     .priority = static_cast<unsigned>(info->priority),
                                     .entry = stats_thread,
                                     .stack_top = reinterpret_cast<uint64_t>(g_stats_stack + sizeof g_stats_stack),
                                     .ipc_buffer = reinterpret_cast<uint64_t>(&g_stats_ipc)});
  if (e != Error::kOk) sys::print("blk: no statistics thread (%s)\n", abi::error_name(e));
  for (;;) {
    take_requests();
    // Asleep only when every client's queue is empty after it was asked to
    // wake us (or the device has no room: its interrupt wakes us then).
    bool pending = false;
    for (uint16_t i = 0; i < g_conn_count; ++i) pending |= !g_conns[i].shared->requests.prepare_wait();
    if (pending && d.queue.free_count() >= 3) continue;
    uint64_t word = 0;
    (void)sys::driver_wait(&word);
    if ((word & abi::kInjectDmaBit) != 0) d.queue.inject_wild();
    if ((word & irq_bits()) != 0) acknowledge_interrupt();  // acknowledge, then drain
    take_completions();
  }
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  if (const char* why = start()) {
    sys::print("blk: no disk (%s)\n", why);
    return 0;
  }
  const abi::StartInfo* info = abi::start_info();
  // Without clients a test disk is the driver's to test (with clients it is
  // theirs). Either way it then serves: its clients, and its statistics.
  if (info->conn_count == 0) {
    if (const char* why = self_test()) {
      sys::print("blk: I/O failed: %s\n", why);
      return 1;
    }
  }
  serve(info);
}
