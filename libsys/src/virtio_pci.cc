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

}  // namespace keel::virtio
