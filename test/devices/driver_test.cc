// driver_test — a driver as the device model makes it (system/driver_test.system:
// role = driver, device = virtio,mmio#0, dma = 64K), checking what it was
// given and, as an attacker, what it was not:
//   - its device: the node, the register range mapped where the start info
//     says (the virtio-mmio magic value reads back), its interrupt bound;
//   - its DMA memory: physically contiguous (FrameAddress of each frame),
//     mapped and zeroed, usable;
//   - refused: the address of a frame it does not hold, an IrqControl it
//     was not given, binding a handler it does not hold, a second mapping
//     through its device frame's capability.
#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;

sys::Checks g_checks("driver");

bool starts_with(const char* s, const char* p) {
  while (*p != '\0') {
    if (*s++ != *p++) return false;
  }
  return true;
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const abi::StartInfo* info = abi::start_info();
  const abi::DeviceInfo& d = info->devices[0];

  // Its device.
  g_checks.report(info->device_count == 1 && starts_with(d.spec, "virtio,mmio#0") &&
                      starts_with(d.path, "/virtio_mmio@") && d.range_count == 1 && d.ranges[0].size == 0x200 &&
                      d.ranges[0].va >= abi::kDeviceVa && d.ranges[0].va < abi::kDeviceVa + abi::kDeviceWindow,
                  "the start info names its device", "%s = %s, PA 0x%llx + 0x%llx at VA 0x%llx", d.spec, d.path,
                  static_cast<unsigned long long>(d.ranges[0].pa), static_cast<unsigned long long>(d.ranges[0].size),
                  static_cast<unsigned long long>(d.ranges[0].va));
  const uint32_t magic = *reinterpret_cast<volatile uint32_t*>(d.ranges[0].va);
  g_checks.report(magic == 0x74726976, "its registers are mapped", "MagicValue 0x%x ('virt')", magic);
  g_checks.report(d.irq_count == 1 && d.intid[0] >= 32, "its interrupt is named", "INTID %llu",
                  static_cast<unsigned long long>(d.intid[0]));
  // The handler is bound already (init did it): Ack is accepted.
  g_checks.check(sys::IrqHandler(slot::kDeviceIrq).ack() == Error::kOk, "its IrqHandler is bound to its notification");

  // Its DMA memory: contiguous, in order, zeroed, usable.
  const uint64_t frames = info->dma_size / 4096;
  bool contiguous = frames == 16 && info->dma_va == abi::kDmaVa;
  for (uint64_t i = 0; i < frames && contiguous; ++i) {
    uint64_t pa = 0;
    contiguous = sys::FrameCap(slot::kDmaFrames + i).address(&pa) == Error::kOk && pa == info->dma_pa + i * 4096;
  }
  g_checks.report(contiguous, "DMA memory is physically contiguous", "%llu KiB at PA 0x%llx, VA 0x%llx%s",
                  static_cast<unsigned long long>(info->dma_size >> 10), static_cast<unsigned long long>(info->dma_pa),
                  static_cast<unsigned long long>(info->dma_va), info->dma_uncached ? " (uncached)" : " (write-back)");
  auto* mem = reinterpret_cast<volatile uint64_t*>(info->dma_va);
  bool zero = true, kept = true;
  for (uint64_t i = 0; i < info->dma_size / 8; ++i) zero &= mem[i] == 0;
  for (uint64_t i = 0; i < info->dma_size / 8; ++i) mem[i] = i * 0x9e3779b97f4a7c15ull;
  for (uint64_t i = 0; i < info->dma_size / 8; ++i) kept &= mem[i] == i * 0x9e3779b97f4a7c15ull;
  g_checks.check(zero && kept, "DMA memory starts zeroed and holds what is written");

  // Attacks: what it was not given.
  uint64_t pa = 0;
  g_checks.check(sys::FrameCap(slot::kDmaFrames + frames).address(&pa) == Error::kInvalidCapability,
                 "no physical address for a frame it does not hold");
  g_checks.check(sys::FrameCap(slot::kServerEndpoint).address(&pa) == Error::kInvalidCapability,
                 "no physical address of an endpoint");
  g_checks.check(sys::IrqControl(abi::init_slot::kIrqControl).get(33, slot::kFirstFree) == Error::kInvalidCapability,
                 "no IrqControl: it cannot claim another device's interrupt");
  g_checks.check(
      sys::IrqHandler(slot::kDeviceIrq + 1).set_notification(slot::kDeviceNotification) == Error::kInvalidCapability,
      "no handler it was not given can be bound");
  // Its device frame: the capability in its CNode is the one whose mapping
  // init made (one mapping per capability), so it maps nothing else.
  uint64_t device_frame = 0;
  for (uint64_t s = slot::kImage; s < slot::kImageMax && device_frame == 0; ++s) {
    uint64_t fpa = 0;
    if (sys::FrameCap(s).address(&fpa) == Error::kOk && fpa == (d.ranges[0].pa & ~uint64_t{0xfff})) device_frame = s;
  }
  Error copied =
      device_frame == 0
          ? Error::kInvalidCapability
          : sys::CNode(slot::kCNode).copy(slot::kFirstFree + 1, device_frame, abi::kRightRead | abi::kRightWrite);
  g_checks.check(copied == Error::kOk, "its device frame's capability is in its CNode", copied);
  g_checks.check(
      sys::FrameCap(device_frame).map(slot::kAddressSpace, 0x7000'0000, abi::kMapWrite) == Error::kSlotOccupied,
      "the mapped capability maps nothing else");
  return g_checks.summary("driver_test");
}
