// virtio.h — device initialization and split virtqueues over a transport
// interface (virtio::Transport; the modern virtio-mmio one, register layout
// version 2, is MmioTransport), shared by keel's virtio drivers (block,
// network). Portable: registers are reached through a Regs interface, so
// host tests drive it against an emulated device.
// Spec: Virtual I/O Device (VIRTIO) Version 1.2, §2.7 (split virtqueues),
// §3.1 (device initialization), §4.2 (virtio over MMIO).
//
// The device is untrusted input: every value it writes into a used ring
// (descriptor id, length) is range-checked before use, and a completion
// for a descriptor that is not in flight is counted and ignored.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace keel::virtio {

// MMIO registers (§4.2.2), byte offsets.
enum Reg : uint32_t {
  kMagic = 0x000,  // "virt"
  kVersion = 0x004,
  kDeviceId = 0x008,
  kVendorId = 0x00c,
  kDeviceFeatures = 0x010,
  kDeviceFeaturesSel = 0x014,
  kDriverFeatures = 0x020,
  kDriverFeaturesSel = 0x024,
  kQueueSel = 0x030,
  kQueueNumMax = 0x034,
  kQueueNum = 0x038,
  kQueueReady = 0x044,
  kQueueNotify = 0x050,
  kInterruptStatus = 0x060,
  kInterruptAck = 0x064,
  kStatus = 0x070,
  kQueueDescLow = 0x080,
  kQueueDescHigh = 0x084,
  kQueueDriverLow = 0x090,
  kQueueDriverHigh = 0x094,
  kQueueDeviceLow = 0x0a0,
  kQueueDeviceHigh = 0x0a4,
  kConfigGeneration = 0x0fc,
  kConfig = 0x100,
};
constexpr uint32_t kMagicValue = 0x74726976;  // "virt", little-endian
constexpr uint32_t kModernVersion = 2;

// Device status bits (§2.1).
enum Status : uint32_t {
  kAcknowledge = 1,
  kDriver = 2,
  kDriverOk = 4,
  kFeaturesOk = 8,
  kNeedsReset = 64,
  kFailed = 128,
};
constexpr uint64_t kFeatureVersion1 = uint64_t{1} << 32;
// Interrupt status bits (§4.2.2 InterruptStatus, §4.1.4.5 ISR status).
enum InterruptBits : uint32_t { kUsedBuffer = 1, kConfigChange = 2 };

// Device IDs (§5).
enum DeviceId : uint32_t { kNet = 1, kBlock = 2 };

// Register access: the real device's mapped page, or a test's emulation.
struct Regs {
  virtual uint32_t read(uint32_t offset) = 0;
  virtual void write(uint32_t offset, uint32_t value) = 0;

 protected:
  ~Regs() = default;
};

// Device-mapped registers at `base` (a driver's start info VA).
class MmioRegs final : public Regs {
 public:
  explicit MmioRegs(uint64_t base) : base_(base) {}
  uint32_t read(uint32_t offset) override { return *reinterpret_cast<volatile uint32_t*>(base_ + offset); }
  void write(uint32_t offset, uint32_t value) override {
    *reinterpret_cast<volatile uint32_t*>(base_ + offset) = value;
  }

 private:
  uint64_t base_;
};

// Why an MMIO transport was refused (nullptr: accepted): its magic,
// version (modern only) and device ID.
const char* check_transport(Regs& r, uint32_t want_device);

// What a driver does with its device whatever bus it sits on (§4: the
// transports): status, features, queues, notification, the interrupt
// status, the device-specific configuration. MmioTransport here,
// PciTransport in keel/virtio_pci.h; keel/virtio_device.h opens either.
class Transport {
 public:
  virtual uint32_t status() = 0;
  virtual void set_status(uint32_t value) = 0;
  virtual uint64_t device_features() = 0;
  virtual void set_driver_features(uint64_t features) = 0;
  // Queue q's largest size (0: no such queue) and whether it is enabled.
  virtual uint32_t queue_max(uint32_t q) = 0;
  virtual bool queue_ready(uint32_t q) = 0;
  // Size and the rings' device addresses, then enabled. False if the
  // device's answers make the queue unusable (nothing enabled).
  virtual bool setup_queue(uint32_t q, uint32_t size, uint64_t desc, uint64_t driver, uint64_t device) = 0;
  virtual void notify(uint32_t q) = 0;
  // The interrupt status (kUsedBuffer, kConfigChange), acknowledged: a
  // driver calls it before it reads the used rings (§4.2.3.4: the other
  // order can lose a completion).
  virtual uint32_t take_interrupt_status() = 0;
  virtual uint32_t config_generation() = 0;
  virtual uint32_t config32(uint32_t offset) = 0;  // device-specific configuration, 32-bit aligned

 protected:
  ~Transport() = default;
};

// virtio-mmio (§4.2): the registers of one transport window.
class MmioTransport final : public Transport {
 public:
  explicit MmioTransport(Regs& r) : r_(r) {}
  uint32_t status() override { return r_.read(kStatus); }
  void set_status(uint32_t value) override { r_.write(kStatus, value); }
  uint64_t device_features() override;
  void set_driver_features(uint64_t features) override;
  uint32_t queue_max(uint32_t q) override {
    r_.write(kQueueSel, q);
    return r_.read(kQueueNumMax);
  }
  bool queue_ready(uint32_t q) override {
    r_.write(kQueueSel, q);
    return r_.read(kQueueReady) != 0;
  }
  bool setup_queue(uint32_t q, uint32_t size, uint64_t desc, uint64_t driver, uint64_t device) override;
  void notify(uint32_t q) override { r_.write(kQueueNotify, q); }
  uint32_t take_interrupt_status() override;
  uint32_t config_generation() override { return r_.read(kConfigGeneration); }
  uint32_t config32(uint32_t offset) override { return r_.read(kConfig + offset); }

 private:
  Regs& r_;
};

// §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, feature negotiation
// (VERSION_1 required; of the device's features only those in `wanted` are
// accepted), FEATURES_OK written and read back. *accepted gets the
// negotiated set. nullptr on success, else why (the device is left FAILED).
const char* negotiate(Transport& t, uint64_t wanted, uint64_t* accepted);

// Resets the device (Status 0) and waits until it reads back 0 (§4.2.3.1:
// the device must not touch memory the driver gave it afterwards). False
// if it never did.
bool reset(Transport& t);

// The device found an error it cannot go on from (§2.1.2: DEVICE_NEEDS_RESET
// in Status, announced by a configuration-change interrupt, InterruptStatus
// bit 1): it serves nothing more until it is reset. A driver then exits
// with a nonzero code, and init restarts it (`restart = on-fault`).
bool needs_reset(Transport& t);

// ---- split virtqueue (§2.7) --------------------------------------------------------

struct Desc {
  uint64_t addr;  // physical (device) address
  uint32_t len;
  uint16_t flags;  // kDescNext, kDescWrite
  uint16_t next;
};
static_assert(sizeof(Desc) == 16);
enum DescFlags : uint16_t { kDescNext = 1, kDescWrite = 2 };
struct UsedElem {
  uint32_t id;
  uint32_t len;
};

// Memory a queue lives in: driver VA and device PA of the same contiguous
// region (a driver's DMA memory).
struct DmaRegion {
  uint64_t va = 0, pa = 0, size = 0;
};

// One split virtqueue: descriptor table, available and used rings, each
// on its own 4 KiB page of `mem` (alignments 16 / 2 / 4 met), sized by the
// device's QueueNumMax (never more) and at most kMaxQueueSize.
class Queue {
 public:
  static constexpr uint16_t kMaxQueueSize = 128;
  static constexpr uint64_t kBytes = 3 * 4096;  // the region a queue needs

  // Sets queue `index` up on the device: QueueNumMax read, rings placed in
  // mem and zeroed, their PAs programmed, QueueReady. nullptr, or why not.
  const char* setup(Transport& t, uint32_t index, const DmaRegion& mem);

  uint16_t size() const { return size_; }
  uint16_t free_count() const { return free_count_; }

  // A chain of n descriptors from the free list, filled by the caller
  // through desc(); returns the head id, or -1 if fewer than n are free.
  int alloc_chain(unsigned n);
  Desc& desc(uint16_t id) { return descs_[id]; }
  // Makes the chain at head available to the device (release ordering:
  // the descriptors are written before the index that publishes them),
  // and notifies it (QueueNotify) unless it asked not to be.
  void submit(Transport& t, uint16_t head);
  // The next completion: *head = the chain's head id, *len = bytes the
  // device says it wrote. Its descriptors return to the free list. False
  // if none. A used entry naming a descriptor that is not an in-flight
  // head is dropped and counted (bad_completions()).
  bool take(uint16_t* head, uint32_t* len);
  uint64_t bad_completions() const { return bad_; }

  // Fault injection (images booted with keel.inject=1 only: init's `crash
  // NAME dma` sets abi::kInjectDmaBit): the next chain submitted has its
  // head descriptor point kWildLength bytes at kWildAddress, as a driver
  // bug's wild pointer would. That address is outside RAM and every device
  // window of QEMU's virt machine, so the device finds it bogus and asks
  // for a reset (needs_reset); aimed at RAM, without an SMMU, it would be
  // written — which is why injection never aims there.
  static constexpr uint64_t kWildAddress = 0x0000'dead'0000'0000ull;
  static constexpr uint32_t kWildLength = 1u << 20;
  void inject_wild() { wild_ = true; }

 private:
  Desc* descs_ = nullptr;
  volatile uint16_t* avail_ = nullptr;     // flags, idx, ring[size]
  volatile uint16_t* used_hdr_ = nullptr;  // flags, idx
  volatile UsedElem* used_ = nullptr;
  uint16_t size_ = 0, index_ = 0;
  uint16_t free_head_ = 0, free_count_ = 0;
  uint16_t avail_idx_ = 0, used_seen_ = 0;
  uint32_t chain_len_[kMaxQueueSize] = {};  // 0: not an in-flight head
  uint16_t next_free_[kMaxQueueSize] = {};
  uint64_t bad_ = 0;
  bool wild_ = false;
};

}  // namespace keel::virtio
