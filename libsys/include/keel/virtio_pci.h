// virtio_pci.h — where a modern virtio-over-PCI device keeps its
// registers: the vendor-specific capabilities in its config space name a
// BAR, offset and length for the common configuration, the notification
// area (with its multiplier), the ISR status byte and the device-specific
// configuration (Virtual I/O Device Version 1.2, §4.1.4). Portable and
// host-tested; the device is untrusted: every capability is bounds-checked
// against the function's BARs, and a looping or endless list is cut off.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/pci.h"
#include "keel/virtio.h"

namespace keel::virtio {

// One structure: BAR bar, [offset, offset + length).
struct PciRegion {
  bool present = false;
  uint8_t bar = 0;
  uint32_t offset = 0, length = 0;
};

struct PciLayout {
  PciRegion common, notify, isr, device;
  uint32_t notify_multiplier = 0;  // queue q notifies at notify.offset + queue_notify_off(q) * this
};

// Capability cfg_type values (§4.1.4).
enum PciCapType : uint8_t { kPciCommon = 1, kPciNotify = 2, kPciIsr = 3, kPciDevice = 4, kPciConfigAccess = 5 };
// Minimum lengths a driver relies on: the common configuration's fields up
// to queue_device (§4.1.4.3), the ISR byte.
constexpr uint32_t kPciCommonMinLength = 0x38;
constexpr uint16_t kVirtioVendor = 0x1af4;

// The virtio device type (§5: 1 network, 2 block, ...) of a modern
// virtio-pci function (device ID 0x1040 + type), or 0 for anything else
// (transitional devices, 0x1000..0x103f, need the legacy interface keel
// does not speak).
uint32_t pci_device_type(const pci::Function& f);

// Reads the function's virtio capabilities (the first of each type whose
// BAR is a placed memory BAR and whose region lies inside it, as §4.1.4.1
// tells a driver to choose). nullptr on success, else why not: no
// capability list, a missing common/notify/ISR structure, a region outside
// its BAR, a notify multiplier that is not 0 or an even power of two.
const char* find_pci_layout(pci::Config& config, const pci::Function& f, PciLayout* out);

// One of the structures as mapped (a BAR's window at the region's
// offset): 1-, 2- and 4-byte accesses, as the spec's fields are sized.
struct Io {
  virtual uint32_t read(uint32_t offset, unsigned bytes) = 0;
  virtual void write(uint32_t offset, uint32_t value, unsigned bytes) = 0;

 protected:
  ~Io() = default;
};

// Mapped device memory at `base`.
class MmioIo final : public Io {
 public:
  explicit MmioIo(uint64_t base) : base_(base) {}
  void set_base(uint64_t base) { base_ = base; }
  uint32_t read(uint32_t offset, unsigned bytes) override;
  void write(uint32_t offset, uint32_t value, unsigned bytes) override;

 private:
  uint64_t base_;
};

// The common configuration's fields (§4.1.4.3), byte offsets.
enum PciCommon : uint32_t {
  kPciDeviceFeatureSelect = 0x00,
  kPciDeviceFeature = 0x04,
  kPciDriverFeatureSelect = 0x08,
  kPciDriverFeature = 0x0c,
  kPciNumQueues = 0x12,
  kPciDeviceStatus = 0x14,
  kPciConfigGeneration = 0x15,
  kPciQueueSelect = 0x16,
  kPciQueueSize = 0x18,
  kPciQueueEnable = 0x1c,
  kPciQueueNotifyOff = 0x1e,
  kPciQueueDesc = 0x20,
  kPciQueueDriver = 0x28,
  kPciQueueDevice = 0x30,
};

// virtio over PCI (§4.1): the Transport over a device's four structures.
// A queue's notification goes to notify + queue_notify_off * multiplier
// (read when the queue is set up, and refused unless the 2-byte write fits
// in the notify structure's notify_length bytes: the device is untrusted);
// the ISR byte is acknowledged by reading it. Queues beyond kMaxQueues are
// refused (queue_max 0).
class PciTransport final : public Transport {
 public:
  static constexpr uint32_t kMaxQueues = 16;
  PciTransport(Io& common, Io& notify, uint32_t notify_length, uint32_t notify_multiplier, Io& isr, Io& device)
      : common_(common),
        notify_(notify),
        notify_length_(notify_length),
        multiplier_(notify_multiplier),
        isr_(isr),
        device_(device) {}
  // (For a transport made before its device's layout is known.)
  void set_notify_geometry(uint32_t notify_length, uint32_t notify_multiplier) {
    notify_length_ = notify_length;
    multiplier_ = notify_multiplier;
  }
  uint32_t status() override { return common_.read(kPciDeviceStatus, 1); }
  void set_status(uint32_t value) override { common_.write(kPciDeviceStatus, value & 0xff, 1); }
  uint64_t device_features() override;
  void set_driver_features(uint64_t features) override;
  uint32_t queue_max(uint32_t q) override;
  bool queue_ready(uint32_t q) override;
  bool setup_queue(uint32_t q, uint32_t size, uint64_t desc, uint64_t driver, uint64_t device) override;
  void notify(uint32_t q) override;
  uint32_t take_interrupt_status() override { return isr_.read(0, 1); }
  uint32_t config_generation() override { return common_.read(kPciConfigGeneration, 1); }
  uint32_t config32(uint32_t offset) override { return device_.read(offset, 4); }

 private:
  bool select(uint32_t q);
  Io& common_;
  Io& notify_;
  uint32_t notify_length_;
  uint32_t multiplier_;
  Io& isr_;
  Io& device_;
  uint64_t notify_at_[kMaxQueues] = {};  // byte offset in the notify structure
  bool notify_ok_[kMaxQueues] = {};
};

}  // namespace keel::virtio
