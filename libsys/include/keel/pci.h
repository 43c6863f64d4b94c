// pci.h — PCI Express as keel's PCI bus task sees it: the host bridge from
// the DTB (pci-host-ecam-generic: its ECAM, address windows, legacy
// interrupt routing and IOMMU stream IDs), the functions found by walking
// ECAM, and their BARs sized and placed in the bridge's windows. Portable
// (config space through an interface), host-tested against QEMU's DTB and
// an emulated config space.
// References: PCI Express Base Specification (type 0 header, BARs, the
// Command register); Devicetree bindings pci/host-generic-pci.yaml and
// pci-iommu.txt (ranges' phys.hi cell, interrupt-map, iommu-map).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/dtb/dtb.h"
#include "kernel/lib/status.h"

namespace keel::pci {

// A window of the host bridge (`ranges`): PCI bus addresses and the CPU
// physical addresses they appear at.
struct Window {
  enum Kind : uint8_t { kIo = 1, kMem32 = 2, kMem64 = 3 } kind = kMem32;
  bool prefetchable = false;
  uint64_t pci_base = 0, cpu_base = 0, size = 0;
};

// One legacy interrupt route (`interrupt-map`): the device number its
// entry names (after the mask), its pin (1..4: INTA..INTD) and the GIC
// interrupt it arrives as.
struct IntxRoute {
  uint32_t device = 0;
  uint32_t pin = 0;
  dtb::Interrupt irq;
};

constexpr size_t kMaxWindows = 4;
constexpr size_t kMaxRoutes = 32;

struct Host {
  char path[96] = {};
  dtb::Range ecam;  // config space, 1 MiB per bus from bus_first
  uint32_t bus_first = 0, bus_last = 0;
  Window windows[kMaxWindows];
  size_t window_count = 0;
  IntxRoute routes[kMaxRoutes];
  size_t route_count = 0;
  uint32_t route_device_mask = 0;  // interrupt-map-mask's device bits (phys.hi 15:11)
  uint32_t route_pin_mask = 0;
  // iommu-map (one entry): requester IDs [rid_base, rid_base + rid_count)
  // reach the IOMMU (its phandle) as stream IDs from stream_base.
  bool iommu = false;
  uint32_t iommu_phandle = 0, rid_base = 0, stream_base = 0, rid_count = 0;
  bool dma_coherent = false;
};

// The index-th enabled pci-host-ecam-generic node. kNotFound: none; a node
// whose ECAM, ranges or interrupt-map cannot be read: kMalformed (why says).
Status find_host(const void* dtb, size_t size, size_t index, Host* out, const char** why = nullptr);

// Config space of one bus/device/function (bdf = bus << 8 | device << 3 |
// function), 32-bit aligned accesses.
struct Config {
  virtual uint32_t read32(uint32_t bdf, uint32_t offset) = 0;
  virtual void write32(uint32_t bdf, uint32_t offset, uint32_t value) = 0;

 protected:
  ~Config() = default;
};

// ECAM mapped at `base` (a VA of the host's ecam.base), bus_first at offset 0.
class EcamConfig final : public Config {
 public:
  EcamConfig(uint64_t base, uint32_t bus_first, uint64_t size) : base_(base), bus_first_(bus_first), size_(size) {}
  uint32_t read32(uint32_t bdf, uint32_t offset) override;
  void write32(uint32_t bdf, uint32_t offset, uint32_t value) override;

 private:
  // The function's config page, or 0 outside the mapped ECAM.
  uint64_t at(uint32_t bdf, uint32_t offset) const;
  uint64_t base_;
  uint32_t bus_first_;
  uint64_t size_;
};

// Config header offsets and Command bits used here.
enum : uint32_t {
  kVendorDevice = 0x00,
  kCommandStatus = 0x04,
  kClassRevision = 0x08,
  kHeaderType = 0x0c,  // (byte 2 of the dword)
  kBar0 = 0x10,
  kCapabilities = 0x34,
  kInterrupt = 0x3c,  // line (byte 0), pin (byte 1)
};
enum Command : uint32_t { kIoSpace = 1, kMemorySpace = 2, kBusMaster = 4, kIntxDisable = 1u << 10 };

struct Bar {
  uint64_t size = 0;  // 0: not implemented
  bool io = false, mem64 = false, prefetchable = false;
  uint64_t pci_address = 0;  // as programmed (assign)
  uint64_t cpu_address = 0;  // where the CPU reaches it (0: not placed)
};

struct Function {
  uint32_t bdf = 0;
  uint16_t vendor = 0, device = 0;
  uint32_t class_code = 0;  // class, subclass, prog-if (24 bits)
  uint8_t header_type = 0;  // 0: endpoint; 1: bridge (not configured here)
  uint8_t pin = 0;          // 1..4 INTA..INTD, 0 none
  Bar bars[6];
};

// Every function on the host's buses that answers (vendor != 0xffff);
// type-0 functions get their BARs sized (decode off meanwhile; the BAR
// restored). Bridges are listed but their buses are not walked. Returns
// how many were found (at most max in out).
size_t enumerate(Config& config, const Host& host, Function* out, size_t max);

// Places every memory BAR of the type-0 functions in the host's memory
// windows (naturally aligned, largest first; 64-bit BARs may use the 64-bit
// window, 32-bit ones only a 32-bit one) and programs it. I/O BARs are left
// unplaced. Memory decode and bus mastering stay off: the bus task turns
// them on for a function it gives to a driver. kNoMemory if a BAR fits in
// no window (that function's BARs are left unplaced, the rest go on).
Status assign(Config& config, const Host& host, Function* functions, size_t count);

// The GIC interrupt the function's INTx pin arrives as: the pin swizzled
// by the device number is what a bridge forwards; on the root bus it is
// routed by interrupt-map. False if it has no pin or no route.
bool intx(const Host& host, const Function& f, dtb::Interrupt* out);

// The IOMMU stream ID of the function's requester ID (iommu-map); false if
// the host has no IOMMU or the RID is outside the map.
bool stream_id(const Host& host, uint32_t bdf, uint32_t* out);

// "1af4:1042 at 00:02.0" into buf.
void describe(const Function& f, char* buf, size_t size);

// A description's `device = pci:VENDOR:DEVICE[#N]` or `pci:CLASS[#N]`
// (hex; CLASS is class and subclass, 4 digits, or with the programming
// interface, 6): which function, and the how-manieth (from 0) that matches.
struct Match {
  bool by_class = false;
  uint16_t vendor = 0, device = 0;
  uint32_t class_code = 0;  // 24 bits
  uint32_t class_mask = 0;  // 0xffffff, or 0xffff00 for CLASS of 4 digits
  uint32_t instance = 0;
};
constexpr char kSpecPrefix[] = "pci:";
// True for a spec of that form (a PCI device, found through the bus task).
bool is_spec(const char* spec);
// nullptr on success, else what is wrong with the spec.
const char* parse_match(const char* spec, Match* out);
// Whether f is one the match names (ignoring instance); bridges never are.
bool matches(const Function& f, const Match& m);

// The bus task's rule for a driver's config-space access to the function
// it was given (the bus task is the only writer of everyone's config
// space; the driver asks it). `offset` must be aligned to `width` (1, 2 or
// 4) and below 4 KiB; reads are otherwise free. Writes are refused
// (kPermissionDenied) to:
//   - the header (0x00..0x3f), but for the Command register's INTx-disable
//     bit: a driver may not move its BARs onto someone else's, turn off its
//     decode, or turn on bus mastering the bus task turned off;
//   - an MSI or MSI-X capability: an enabled MSI is a DMA write to an
//     address the device chooses (keel has no safe MSI path yet);
//   - extended config space (0x100..): ATS, ACS, resizable BARs and the
//     like are the bus task's.
// kInvalidArgument: a bad width, a misaligned or out-of-range offset.
Status check_config_access(Config& config, uint32_t bdf, uint32_t offset, uint32_t width, bool write);

// A narrow access to config space through 32-bit ones. config_write is a
// driver's write that check_config_access allowed: it merges the other
// bytes of its dword as read, and in the Command/Status dword changes only
// INTx-disable (the Status half is written 0: its bits are write-1-to-clear).
uint32_t config_read(Config& config, uint32_t bdf, uint32_t offset, uint32_t width);
void config_write(Config& config, uint32_t bdf, uint32_t offset, uint32_t width, uint32_t value);

}  // namespace keel::pci
