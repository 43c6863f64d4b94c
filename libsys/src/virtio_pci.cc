#include "keel/virtio_pci.h"

namespace keel::virtio {

uint32_t pci_device_type(const pci::Function& f) {
  if (f.vendor != kVirtioVendor || f.device < 0x1041 || f.device > 0x107f) return 0;
  return f.device - 0x1040u;
}

const char* find_pci_layout(pci::Config& c, const pci::Function& f, PciLayout* out) {
  *out = PciLayout{};
  if (((c.read32(f.bdf, pci::kCommandStatus) >> 16) & 0x10) == 0) return "it has no capability list";
  uint32_t at = c.read32(f.bdf, pci::kCapabilities) & 0xfc;
  // A list longer than config space can hold loops: cut it off.
  for (unsigned hops = 0; at >= 0x40 && at <= 0xfc && hops < 48; ++hops) {
    const uint32_t head = c.read32(f.bdf, at);  // vndr, next, len, cfg_type
    const uint32_t next = (head >> 8) & 0xfc;
    const uint8_t len = static_cast<uint8_t>(head >> 16), type = static_cast<uint8_t>(head >> 24);
    if ((head & 0xff) == 0x09 && len >= 16 && at + len <= 0x100) {
      const uint32_t where = c.read32(f.bdf, at + 4);  // bar, id, padding
      const uint8_t bar = static_cast<uint8_t>(where);
      PciRegion r{.present = true, .bar = bar, .offset = c.read32(f.bdf, at + 8), .length = c.read32(f.bdf, at + 12)};
      // Usable only in a placed memory BAR, and wholly inside it.
      const bool usable = bar < 6 && f.bars[bar].size != 0 && !f.bars[bar].io && f.bars[bar].cpu_address != 0 &&
                          r.length != 0 && uint64_t{r.offset} + r.length <= f.bars[bar].size;
      PciRegion* slot = type == kPciCommon   ? &out->common
                        : type == kPciNotify ? &out->notify
                        : type == kPciIsr    ? &out->isr
                        : type == kPciDevice ? &out->device
                                             : nullptr;
      if (slot != nullptr && !slot->present && usable) {
        if (type == kPciNotify) {
          if (len < 20) return "its notify capability is too short for the multiplier";
          out->notify_multiplier = c.read32(f.bdf, at + 16);
        }
        *slot = r;
      }
    }
    at = next;
  }
  if (!out->common.present) return "no usable common configuration capability";
  if (out->common.length < kPciCommonMinLength) return "its common configuration is shorter than the spec's fields";
  if (!out->notify.present) return "no usable notification capability";
  const uint32_t m = out->notify_multiplier;  // 0, or an even power of two (§4.1.4.4)
  if (m != 0 && (m % 2 != 0 || (m & (m - 1)) != 0)) return "its notify_off_multiplier is not 0 or an even power of 2";
  if (!out->isr.present) return "no usable ISR capability";
  return nullptr;
}

uint32_t MmioIo::read(uint32_t offset, unsigned bytes) {
  const uint64_t a = base_ + offset;
  if (bytes == 1) return *reinterpret_cast<volatile uint8_t*>(a);
  if (bytes == 2) return *reinterpret_cast<volatile uint16_t*>(a);
  return *reinterpret_cast<volatile uint32_t*>(a);
}

void MmioIo::write(uint32_t offset, uint32_t value, unsigned bytes) {
  const uint64_t a = base_ + offset;
  if (bytes == 1) {
    *reinterpret_cast<volatile uint8_t*>(a) = static_cast<uint8_t>(value);
  } else if (bytes == 2) {
    *reinterpret_cast<volatile uint16_t*>(a) = static_cast<uint16_t>(value);
  } else {
    *reinterpret_cast<volatile uint32_t*>(a) = value;
  }
}

uint64_t PciTransport::device_features() {
  common_.write(kPciDeviceFeatureSelect, 0, 4);
  uint64_t f = common_.read(kPciDeviceFeature, 4);
  common_.write(kPciDeviceFeatureSelect, 1, 4);
  return f | uint64_t{common_.read(kPciDeviceFeature, 4)} << 32;
}

void PciTransport::set_driver_features(uint64_t features) {
  common_.write(kPciDriverFeatureSelect, 0, 4);
  common_.write(kPciDriverFeature, static_cast<uint32_t>(features), 4);
  common_.write(kPciDriverFeatureSelect, 1, 4);
  common_.write(kPciDriverFeature, static_cast<uint32_t>(features >> 32), 4);
}

// Selects queue q if the device has it (num_queues) and keel tracks it.
bool PciTransport::select(uint32_t q) {
  if (q >= kMaxQueues || q >= common_.read(kPciNumQueues, 2)) return false;
  common_.write(kPciQueueSelect, q, 2);
  return true;
}

uint32_t PciTransport::queue_max(uint32_t q) { return select(q) ? common_.read(kPciQueueSize, 2) : 0; }

bool PciTransport::queue_ready(uint32_t q) { return select(q) && common_.read(kPciQueueEnable, 2) != 0; }

bool PciTransport::setup_queue(uint32_t q, uint32_t size, uint64_t desc, uint64_t driver, uint64_t device) {
  if (!select(q)) return false;
  const uint64_t at = uint64_t{common_.read(kPciQueueNotifyOff, 2)} * multiplier_;
  if (at + 2 > notify_length_) return false;  // (a device pointing the doorbell elsewhere: not enabled)
  notify_at_[q] = at;
  notify_ok_[q] = true;
  common_.write(kPciQueueSize, size, 2);
  // 64-bit fields as two 32-bit halves (§4.1.3.1 allows it).
  const uint64_t addrs[3] = {desc, driver, device};
  const uint32_t offs[3] = {kPciQueueDesc, kPciQueueDriver, kPciQueueDevice};
  for (int i = 0; i < 3; ++i) {
    common_.write(offs[i], static_cast<uint32_t>(addrs[i]), 4);
    common_.write(offs[i] + 4, static_cast<uint32_t>(addrs[i] >> 32), 4);
  }
  common_.write(kPciQueueEnable, 1, 2);
  return true;
}

void PciTransport::notify(uint32_t q) {
  if (q < kMaxQueues && notify_ok_[q]) {
    notify_.write(static_cast<uint32_t>(notify_at_[q]), q, 2);  // the 16-bit queue index (§4.1.5.2)
  }
}

}  // namespace keel::virtio
