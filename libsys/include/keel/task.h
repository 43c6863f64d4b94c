// task.h — what a task started by init finds: its CNode layout and start info.
//
// init gives every task its own CNode (2^kTaskCNodeBits slots, the memory
// server 2^kMemoryServerCNodeBits), address space, thread, a 16 KiB stack
// below abi::kUserStackTop, an IPC buffer at abi::kIpcBufferVa and a
// read-only StartInfo page at kStartInfoVa (also its x0 at entry).
#pragma once

#include <stdint.h>

#include "keel/abi.h"

namespace keel::abi {

constexpr unsigned kTaskCNodeBits = 10;
constexpr unsigned kMemoryServerCNodeBits = 13;
constexpr uint64_t kStartInfoVa = kInitBootInfoVa;
constexpr uint64_t kStartInfoMagic = 0x4f464e4954524154ull;  // "TARTINFO"

// Slots init fills in a task's CNode.
namespace task_slot {
constexpr uint64_t kCNode = 1;         // its own CNode
constexpr uint64_t kThread = 2;        // its (first) thread
constexpr uint64_t kAddressSpace = 3;  // its address space
constexpr uint64_t kMemory = 5;        // endpoint to the memory server (kCapMemory), badge = task id
constexpr uint64_t kConsole = 6;       // endpoint to the UART server (kCapConsole), badge = task id
constexpr uint64_t kPager = 7;         // its fault endpoint: the memory server's, badge = id | kPagerBadge
constexpr uint64_t kUntyped = 8;       // its own untyped memory, if the description gives it some
constexpr uint64_t kChannel = 9;       // the endpoint its description's `channel` names
// A channel with shared memory (`shared = SIZE`): the notification this
// task waits on, and a write-only one that wakes the other end.
constexpr uint64_t kSharedWait = 11;
constexpr uint64_t kSharedWake = 12;
// libsys: the notification a task's threads take turns at the console with
// (made by the first sys::start_thread).
constexpr uint64_t kPrintTurns = 13;
// A client with a disk (`disk = DRIVER ...`): the notification its
// completions signal, and a write-only one that wakes the driver.
constexpr uint64_t kDiskWait = 14;
constexpr uint64_t kDiskWake = 15;
// A block driver: per connection i, a write-only notification that wakes
// that client (its requests and completions are in the connection's memory).
constexpr uint64_t kConnWake = 48;  // .. 48 + kMaxConns
// Console server: signalled when Ctrl-C is typed (init cancels the command it waits for).
constexpr uint64_t kConsoleInterrupt = 10;
// Servers and drivers (the one that receives on it has the full-rights
// original here; init and, for the servers, the clients hold badged copies).
constexpr uint64_t kServerEndpoint = 16;
constexpr uint64_t kKernelLog = 19;  // console server: the kernel's console output
// Drivers (and the console server): the notification its interrupts signal
// (device d's interrupt i: badge bit kDeviceIrqBit(d, i)), and the
// IrqHandler of each, at kDeviceIrq + kMaxDeviceIrqs * d + i (Ack after handling).
constexpr uint64_t kDeviceNotification = 20;
// A driver with `timer = yes`: the user timer's IrqHandler
// (IrqHandler::set_deadline); it signals kDeviceNotification with kTimerBit.
constexpr uint64_t kTimer = 17;
// A driver with a watchdog: a write-only notification of init's (badged
// with the task's id bit) that answers init's ping (kWatchdogBit).
constexpr uint64_t kWatchdog = 18;
// A driver given a PCI function (`device = pci:...`) as its device d: an
// endpoint to the PCI bus task, badged with the function, for its config
// space (keel/proto/pci.h: pcibus::BusConfig).
constexpr uint64_t kPciConfig = 21;  // .. 21 + kMaxDevices
// And, behind an IOMMU, the function's IoSpace (its DMA address space: the
// driver's DMA memory is mapped at StartInfo::dma_iova; a frame the driver
// holds may be mapped there too, and unmapped again).
constexpr uint64_t kIoSpace = 25;     // .. 25 + kMaxDevices
constexpr uint64_t kDeviceIrq = 240;  // .. 240 + 4 * 4 = 256
// Memory server: its untyped RAM from kMemoryUntyped on (StartInfo says how
// many), and per client (ids 1..kMaxTaskId), from kMemoryClients + 4 * id:
// its address space, its thread, and the notification that tells init the
// client has exited (signalled after the reclaim).
constexpr uint64_t kMemoryUntyped = 32;
constexpr uint64_t kMemoryUntypedMax = 64;
constexpr uint64_t kMemoryClients = 96;  // ..96 + 4 * 32 = 224
// A driver's DMA memory (`dma = SIZE`): its frames in address order.
constexpr uint64_t kDmaFrames = 384;
constexpr uint64_t kDmaFramesMax = 256;  // .. 640: 1 MiB of 4 KiB frames
// The program's own pages: its frames in load order (text first, then
// rodata, data, stack, IPC buffer, start info), then the page tables of its
// address space.
constexpr uint64_t kImage = 640;
constexpr uint64_t kImageMax = 1024;
// First slot a task may use freely.
constexpr uint64_t kFirstFree = 256;
}  // namespace task_slot

constexpr uint64_t kMaxTaskId = 31;  // ids 1..31: init is 1, tasks 2.. in description order
constexpr uint64_t kInitTaskId = 1;
constexpr uint64_t kPagerBadge = 1ull << 8;       // set in the badge of faults (memory server)
constexpr uint64_t kServerSelfBadge = 1ull << 9;  // a server's own helper threads

constexpr uint64_t kMaxDevices = 4;         // (sysdesc::kMaxDevices)
constexpr uint64_t kMaxConns = 4;           // clients of one driver (`disk = DRIVER`)
constexpr uint64_t kConnBytes = 64 * 1024;  // one connection's shared memory
// The bit a client's wake-up sets in its driver's notification
// (task_slot::kDeviceNotification; device interrupts use the low 16 bits).
constexpr uint64_t conn_bit(uint64_t conn) { return uint64_t{1} << (16 + conn); }
// A driver that is itself another driver's client (`connect = DRIVER`):
// the bit the other driver's wake-up sets in its notification.
constexpr uint64_t kUpstreamBit = uint64_t{1} << 24;
// The user timer's bit in a driver's notification (`timer = yes`).
constexpr uint64_t kTimerBit = uint64_t{1} << 25;
// A driver with a watchdog (`watchdog = 2s`): init's ping. The driver
// answers by signalling task_slot::kWatchdog (sys::driver_wait does).
constexpr uint64_t kWatchdogBit = uint64_t{1} << 26;
// Fault injection (images booted with keel.inject=1): `crash NAME illegal`
// and `crash NAME loop` restart the task's thread at these offsets from its
// ELF entry, where crt0 keeps an undefined instruction and a branch to
// itself (a bug's illegal instruction; a hang for the watchdog).
constexpr uint64_t kInjectUndefinedOffset = 4;
constexpr uint64_t kInjectLoopOffset = 8;
// `crash NAME dma`:
// the driver's next DMA descriptor is made wild (virtio::Queue::inject_wild).
constexpr uint64_t kInjectDmaBit = uint64_t{1} << 27;
// Where init maps connection memory: a client's at kDiskVa, a driver's
// connection i at kConnVa + i * kConnBytes.
constexpr uint64_t kDiskVa = 0x0000'4100'0000'0000ull;
constexpr uint64_t kConnVa = 0x0000'4200'0000'0000ull;
constexpr uint64_t kMaxDeviceIrqs = 4;  // interrupts of one device a driver is given
constexpr uint64_t kMaxDeviceRanges = 2;
constexpr uint64_t device_irq_bit(uint64_t device, uint64_t irq) {
  return uint64_t{1} << (kMaxDeviceIrqs * device + irq);
}
// Where init maps a channel's shared memory (both ends, write-back).
constexpr uint64_t kSharedVa = 0x0000'4000'0000'0000ull;
// Where init maps a driver's DMA memory (physically contiguous, write-back
// when its devices are dma-coherent, else Normal non-cacheable).
constexpr uint64_t kDmaVa = 0x0000'5000'0000'0000ull;
// Where init maps device d's registers: a window of kDeviceWindow bytes
// each, the ranges one after another (page aligned, each at its page offset).
constexpr uint64_t kDeviceVa = 0x0000'6000'0000'0000ull;
constexpr uint64_t kDeviceWindow = 0x1'0000'0000ull;  // 4 GiB
// Where a PCI device behind an IOMMU sees its driver's DMA memory.
constexpr uint64_t kDmaIova = 0x0000'0010'0000'0000ull;
// And connection i's memory (a block driver's clients).
constexpr uint64_t kConnIova = kDmaIova + 0x1000'0000ull;
// Where init maps the bus task's copy of the DTB.
constexpr uint64_t kDtbVa = 0x0000'6800'0000'0000ull;

// One register range of a device, mapped Device-nGnRE read-write.
struct DeviceRange {
  uint64_t va;  // the range's first byte (kDeviceVa + d * kDeviceWindow + its page offset ...)
  uint64_t pa;
  uint64_t size;
};
// A device init gave the task, in its description's order.
struct DeviceInfo {
  char spec[48];  // as the description names it
  char path[64];  // the DTB node (truncated if longer)
  uint64_t range_count;
  DeviceRange ranges[kMaxDeviceRanges];
  uint64_t irq_count;
  uint64_t intid[kMaxDeviceIrqs];  // GIC INTIDs; handler: task_slot::kDeviceIrq + kMaxDeviceIrqs * d + i
  // A PCI function (`device = pci:...`; ranges are then empty): its
  // bus/device/function, its IDs, and each memory BAR mapped at bar_va[i]
  // (0: none), bar_pa[i] its CPU address, bar_size[i] its size. Config
  // space through task_slot::kPciConfig + d.
  uint64_t pci;  // 1: this is a PCI function
  uint32_t pci_bdf;
  uint32_t pci_id;  // vendor << 16 | device
  uint32_t pci_class;
  uint32_t pci_pad;
  uint64_t pci_stream;  // its IOMMU stream ID (pcibus::kNoStream: none)
  uint64_t bar_va[6], bar_pa[6], bar_size[6];
};

struct StartInfo {
  uint64_t magic;
  char name[16];
  uint64_t id;
  uint64_t priority;       // of its first thread (threads it makes may not exceed it)
  uint64_t cpu_count;      // as the DTB says
  uint64_t memory_bytes;   // RAM, as the DTB says
  uint64_t quota_bytes;    // what the memory server lets it hold
  uint64_t untyped_bytes;  // at task_slot::kUntyped (0: none)
  uint64_t buffer_bytes;   // console server: transmit buffer size
  uint64_t untyped_count;  // memory server: untyped at kMemoryUntyped..
  uint64_t untyped_bytes_total;
  uint64_t device_count;  // drivers: devices[0 .. device_count)
  DeviceInfo devices[kMaxDevices];
  // The bus task (`serves = pci`): a read-only copy of the DTB, the
  // header's totalsize trimmed to the structure and strings it holds.
  uint64_t dtb_va, dtb_size;
  // Drivers with `dma = SIZE`: [dma_va, + dma_size) maps [dma_pa, + dma_size),
  // physically contiguous, zeroed; frames at task_slot::kDmaFrames.. in order.
  uint64_t dma_va, dma_pa, dma_size;
  // Where its devices see that memory (what goes into descriptors): behind
  // an IOMMU, [dma_iova, + dma_size) of each PCI device's IoSpace (at
  // task_slot::kIoSpace + d); without one, dma_pa.
  uint64_t dma_iova;
  uint64_t dma_uncached;  // 1: mapped Normal non-cacheable (a device that does not snoop caches)
  // A channel's shared memory: the same frames the other end maps (0: none).
  uint64_t shared_va, shared_size;
  uint64_t shared_first;  // 1: this task is the pair's first in the description (say, the ring's producer)
  // A client's disk connection: kConnBytes at disk_va (0: none).
  uint64_t disk_va;
  // A block driver's connections, one per client naming it.
  struct Connection {
    uint64_t client_id;
    uint64_t va, pa;                  // the shared memory here and where its devices reach it (contiguous:
                                      // its physical address, or behind an IOMMU its IOVA)
    uint64_t part_offset, part_size;  // the client's partition in bytes (size 0: to the end of the disk)
  };
  uint64_t conn_count;
  Connection conns[kMaxConns];
};
static_assert(sizeof(StartInfo) <= 4096, "one page");

inline const StartInfo* start_info() { return reinterpret_cast<const StartInfo*>(kStartInfoVa); }

}  // namespace keel::abi
