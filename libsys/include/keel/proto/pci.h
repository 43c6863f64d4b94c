// proto/pci.h — the PCI bus task (servers/pci, `serves = pci`): the only
// writer of PCI config space. It places every BAR at start with decode and
// bus mastering off; a function does nothing until init claims it for a
// driver, and stops issuing DMA when init releases it.
//
// Requests are Calls on the bus task's endpoint; the reply's label is an
// abi::Error. Who may ask what is decided by the badge:
//
// init (its original capability, badge 0):
//   Claim    MR0 = pci::Match packed (pack_match), MR1 = the driver's task id
//            -> MR0 = bdf, MR1 = vendor << 16 | device, MR2 = class code,
//               MR3 = INTx's GIC INTID (0: none), MR4 = 1 if it is edge-triggered,
//               MR5 = IOMMU stream ID (kNoStream: no IOMMU in front of it),
//               MR6 + 2i, MR7 + 2i = BAR i's CPU address and size (i < 6;
//               size 0: no memory BAR there, or it could not be placed).
//            Memory decode and bus mastering are turned on. kInvalidArgument:
//            no such function (or it is claimed already).
//   Release  MR0 = bdf -> bus mastering and decode off (PCIe Base Spec,
//            Command register: with Bus Master Enable clear the function
//            issues no memory requests), the claim dropped. Idempotent.
//
// a driver (a copy init minted with badge kDriverBadge | bdf, for the
// function it was given; only while it is claimed):
//   ConfigRead   MR0 = offset, MR1 = width (1, 2, 4) -> MR0 = value
//   ConfigWrite  MR0 = offset, MR1 = width, MR2 = value
//            as pci::check_config_access allows (kInsufficientRights else).
//
// Unknown labels, or a request from the wrong side, get kInvalidArgument /
// kInsufficientRights.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "keel/pci.h"
#include "keel/sys.h"

namespace keel::pcibus {

constexpr uint64_t kClaim = 1, kRelease = 2, kConfigRead = 3, kConfigWrite = 4;
constexpr uint64_t kDriverBadge = uint64_t{1} << 32;
constexpr uint64_t kNoStream = ~uint64_t{0};

// A Match in one word: by_class (bit 63), instance (bits 48..59), then
// vendor << 16 | device or the class code (bits 0..23) and its mask
// (bits 24..47).
constexpr uint64_t pack_match(const pci::Match& m) {
  const uint64_t what =
      m.by_class ? (uint64_t{m.class_mask} << 24 | m.class_code) : (uint64_t{m.vendor} << 16 | m.device);
  return (m.by_class ? uint64_t{1} << 63 : 0) | (uint64_t{m.instance & 0xfff} << 48) | what;
}
constexpr pci::Match unpack_match(uint64_t w) {
  pci::Match m;
  m.by_class = (w >> 63) != 0;
  m.instance = static_cast<uint32_t>((w >> 48) & 0xfff);
  if (m.by_class) {
    m.class_code = static_cast<uint32_t>(w & 0xffffff);
    m.class_mask = static_cast<uint32_t>((w >> 24) & 0xffffff);
  } else {
    m.vendor = static_cast<uint16_t>(w >> 16);
    m.device = static_cast<uint16_t>(w);
  }
  return m;
}

// What a claim answers.
struct Claimed {
  uint32_t bdf = 0;
  uint16_t vendor = 0, device = 0;
  uint32_t class_code = 0;
  uint32_t intid = 0;
  bool edge = false;
  uint64_t stream = kNoStream;
  uint64_t bar_address[6] = {}, bar_size[6] = {};
};

inline abi::Error claim(const sys::Endpoint& bus, const pci::Match& m, uint64_t task_id, Claimed* out) {
  sys::Message msg;
  msg.label = kClaim;
  msg.mr[0] = pack_match(m);
  msg.mr[1] = task_id;
  msg.length = 2;
  abi::Error e = bus.call(msg);
  if (e == abi::Error::kOk) e = static_cast<abi::Error>(msg.label);
  if (e != abi::Error::kOk) return e;
  out->bdf = static_cast<uint32_t>(msg.mr[0]);
  out->vendor = static_cast<uint16_t>(msg.mr[1] >> 16);
  out->device = static_cast<uint16_t>(msg.mr[1]);
  out->class_code = static_cast<uint32_t>(msg.mr[2]);
  out->intid = static_cast<uint32_t>(msg.mr[3]);
  out->edge = msg.mr[4] != 0;
  out->stream = msg.mr[5];
  for (unsigned i = 0; i < 6; ++i) {
    out->bar_address[i] = msg.mr[6 + 2 * i];
    out->bar_size[i] = msg.mr[7 + 2 * i];
  }
  return abi::Error::kOk;
}

inline abi::Error release(const sys::Endpoint& bus, uint32_t bdf) {
  sys::Message msg;
  msg.label = kRelease;
  msg.mr[0] = bdf;
  msg.length = 1;
  abi::Error e = bus.call(msg);
  return e == abi::Error::kOk ? static_cast<abi::Error>(msg.label) : e;
}

// A driver's view of its function's config space, through the bus task
// (pci::Config: find_pci_layout reads capabilities through it). A refused
// or failed read answers all ones, as a missing function would.
class BusConfig final : public pci::Config {
 public:
  explicit BusConfig(uint64_t slot) : ep_(slot) {}
  abi::Error read(uint32_t offset, uint32_t width, uint32_t* value) const {
    sys::Message msg;
    msg.label = kConfigRead;
    msg.mr[0] = offset;
    msg.mr[1] = width;
    msg.length = 2;
    abi::Error e = ep_.call(msg);
    if (e == abi::Error::kOk) e = static_cast<abi::Error>(msg.label);
    if (e == abi::Error::kOk) *value = static_cast<uint32_t>(msg.mr[0]);
    return e;
  }
  abi::Error write(uint32_t offset, uint32_t width, uint32_t value) const {
    sys::Message msg;
    msg.label = kConfigWrite;
    msg.mr[0] = offset;
    msg.mr[1] = width;
    msg.mr[2] = value;
    msg.length = 3;
    abi::Error e = ep_.call(msg);
    return e == abi::Error::kOk ? static_cast<abi::Error>(msg.label) : e;
  }
  uint32_t read32(uint32_t, uint32_t offset) override {
    uint32_t v = 0xffffffffu;
    return read(offset, 4, &v) == abi::Error::kOk ? v : 0xffffffffu;
  }
  void write32(uint32_t, uint32_t offset, uint32_t value) override { (void)write(offset, 4, value); }

 private:
  sys::Endpoint ep_;
};

}  // namespace keel::pcibus
