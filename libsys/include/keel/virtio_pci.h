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

}  // namespace keel::virtio
