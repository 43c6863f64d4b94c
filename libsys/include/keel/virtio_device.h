// virtio_device.h — a virtio driver's device as init gave it, whichever
// transport it is on: virtio-mmio (`device = virtio,mmio#N`: its register
// page) or modern virtio over PCI (`device = pci:1af4:10xx`: its BARs, and
// its config space through the PCI bus task). The driver then speaks
// virtio::Transport and does not care which.
#pragma once

#include <stdint.h>

#include "keel/proto/pci.h"
#include "keel/task.h"
#include "keel/virtio.h"
#include "keel/virtio_pci.h"

namespace keel::virtio {

class Device {
 public:
  // Device d of the start info, checked to be a virtio device of `type`
  // (§5: 1 network, 2 block). nullptr on success, else why not.
  const char* open(const abi::DeviceInfo& info, uint64_t d, uint32_t type) {
    if (info.pci == 0) {
      if (info.range_count != 1 || info.ranges[0].size < 0x200) return "expected one virtio-mmio register range";
      regs_ = MmioRegs(info.ranges[0].va);
      if (const char* why = check_transport(regs_, type)) return why;
      transport_ = &mmio_;
      return nullptr;
    }
    // virtio over PCI (§4.1): a modern device of the type, its structures
    // from its vendor capabilities, each inside a BAR init mapped.
    pci::Function f;
    f.bdf = info.pci_bdf;
    f.vendor = static_cast<uint16_t>(info.pci_id >> 16);
    f.device = static_cast<uint16_t>(info.pci_id);
    f.class_code = info.pci_class;
    for (unsigned b = 0; b < 6; ++b) {
      if (info.bar_va[b] == 0) continue;
      f.bars[b].size = info.bar_size[b];
      f.bars[b].cpu_address = info.bar_pa[b];
      f.bars[b].pci_address = info.bar_pa[b];
    }
    if (pci_device_type(f) != type) return "the PCI function is not a modern virtio device of this type";
    config_ = pcibus::BusConfig(abi::task_slot::kPciConfig + d);
    PciLayout layout;
    if (const char* why = find_pci_layout(config_, f, &layout)) return why;
    if (!layout.device.present) return "no device-specific configuration structure";
    common_.set_base(info.bar_va[layout.common.bar] + layout.common.offset);
    notify_.set_base(info.bar_va[layout.notify.bar] + layout.notify.offset);
    isr_.set_base(info.bar_va[layout.isr.bar] + layout.isr.offset);
    device_.set_base(info.bar_va[layout.device.bar] + layout.device.offset);
    pci_.set_notify_geometry(layout.notify.length, layout.notify_multiplier);
    transport_ = &pci_;
    pci_device_ = true;
    return nullptr;
  }
  Transport& transport() { return *transport_; }
  // Over PCI, device addresses are the platform's (VIRTIO_F_ACCESS_PLATFORM,
  // bit 33: through an IOMMU when there is one), and a device with
  // iommu_platform=on refuses a driver that does not accept it.
  uint64_t platform_features() const { return pci_device_ ? uint64_t{1} << 33 : 0; }
  bool pci() const { return pci_device_; }

 private:
  MmioRegs regs_{0};
  MmioTransport mmio_{regs_};
  pcibus::BusConfig config_{0};
  MmioIo common_{0}, notify_{0}, isr_{0}, device_{0};
  PciTransport pci_{common_, notify_, 0, 0, isr_, device_};
  Transport* transport_ = &mmio_;
  bool pci_device_ = false;
};

}  // namespace keel::virtio
