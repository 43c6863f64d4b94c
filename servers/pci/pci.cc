// pci — the PCI Express bus task (`role = driver`, `device =
// pci-host-ecam-generic`, `serves = pci`; protocol keel/proto/pci.h).
//
// It is the only task that writes PCI config space. At start it reads the
// host bridge from its copy of the DTB (ECAM, windows, interrupt-map,
// iommu-map: keel/pci.h), walks the buses its ECAM mapping covers, sizes
// every BAR and places it in the bridge's windows with memory decode and
// bus mastering off — with `-kernel` no firmware has done it, and a
// function nobody was given must not answer or DMA. Then it serves:
//   - init claims a function for a driver (by vendor:device or class, the
//     Nth match): decode and bus mastering on, and init learns its BARs
//     (which it maps into the driver: the frames are init's), its INTx
//     route and its IOMMU stream ID; init releases it when the driver stops
//     (bus mastering off first: the function stops DMA before its memory
//     is reused);
//   - a driver reads its own function's config space and writes what
//     pci::check_config_access allows — never a BAR, the Command register's
//     decode and bus-master bits, MSI/MSI-X or extended space. The badge
//     init minted names the function, so no driver can name another.
//
// Trusted: a bug here reaches every PCI device (docs/security.md).
#include "keel/pci.h"

#include <stddef.h>
#include <stdint.h>

#include "keel/proto/pci.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "kernel/lib/fmt.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace pci = keel::pci;
namespace bus = keel::pcibus;
namespace slot = keel::abi::task_slot;

constexpr size_t kMaxFunctions = 64;
pci::Host g_host;
pci::Function g_fn[kMaxFunctions];
bool g_claimed[kMaxFunctions] = {};
uint64_t g_owner[kMaxFunctions] = {};  // the claiming driver's task id
size_t g_count = 0;

pci::EcamConfig* g_ecam = nullptr;

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

pci::Function* find_bdf(uint64_t bdf) {
  for (size_t i = 0; i < g_count; ++i) {
    if (g_fn[i].bdf == bdf) return &g_fn[i];
  }
  return nullptr;
}

void set_command(const pci::Function& f, uint32_t on, uint32_t off) {
  const uint32_t cmd = g_ecam->read32(f.bdf, pci::kCommandStatus) & 0xffff;
  g_ecam->write32(f.bdf, pci::kCommandStatus, (cmd & ~off) | on);  // (Status half 0: its bits are RW1C)
}

void claim(const sys::Message& m, sys::Message* out) {
  const pci::Match want = bus::unpack_match(m.mr[0]);
  uint32_t seen = 0;
  for (size_t i = 0; i < g_count; ++i) {
    pci::Function& f = g_fn[i];
    if (!pci::matches(f, want) || seen++ != want.instance) continue;
    if (g_claimed[i]) {
      sys::print("pci: %02x:%02x.%u is claimed already (task %llu)\n", f.bdf >> 8, (f.bdf >> 3) & 0x1f, f.bdf & 7,
                 ull(g_owner[i]));
      out->label = static_cast<uint64_t>(Error::kSlotOccupied);
      return;
    }
    keel::dtb::Interrupt irq;
    const bool has_irq = pci::intx(g_host, f, &irq);
    uint32_t stream = 0;
    const bool has_stream = pci::stream_id(g_host, f.bdf, &stream);
    out->mr[0] = f.bdf;
    out->mr[1] = uint64_t{f.vendor} << 16 | f.device;
    out->mr[2] = f.class_code;
    out->mr[3] = has_irq ? irq.intid : 0;
    out->mr[4] = has_irq && irq.edge ? 1 : 0;
    out->mr[5] = has_stream ? stream : bus::kNoStream;
    for (unsigned b = 0; b < 6; ++b) {
      const pci::Bar& bar = f.bars[b];
      const bool mem = bar.cpu_address != 0 && !bar.io && bar.size != 0;
      out->mr[6 + 2 * b] = mem ? bar.cpu_address : 0;
      out->mr[7 + 2 * b] = mem ? bar.size : 0;
    }
    out->length = 18;
    // Decode on; bus mastering on (DMA: until the kernel confines it with
    // the IOMMU, into anything — docs/security.md); INTx enabled.
    set_command(f, pci::kMemorySpace | pci::kBusMaster, pci::kIntxDisable | pci::kIoSpace);
    g_claimed[i] = true;
    g_owner[i] = m.mr[1];
    out->label = static_cast<uint64_t>(Error::kOk);
    return;
  }
  out->label = static_cast<uint64_t>(Error::kInvalidArgument);
}

void release(const sys::Message& m, sys::Message* out) {
  pci::Function* f = find_bdf(m.mr[0]);
  if (f == nullptr) {
    out->label = static_cast<uint64_t>(Error::kInvalidArgument);
    return;
  }
  // Bus mastering off first (no more DMA), then decode; INTx masked.
  set_command(*f, pci::kIntxDisable, pci::kBusMaster);
  set_command(*f, 0, pci::kMemorySpace);
  (void)g_ecam->read32(f->bdf, pci::kCommandStatus);  // (a read completes the non-posted writes before the reply)
  g_claimed[f - g_fn] = false;
  out->label = static_cast<uint64_t>(Error::kOk);
}

void config(const sys::Message& m, sys::Message* out, bool write) {
  const uint64_t bdf = m.badge & ~bus::kDriverBadge;
  pci::Function* f = find_bdf(bdf);
  if (f == nullptr || !g_claimed[f - g_fn]) {
    out->label = static_cast<uint64_t>(Error::kInsufficientRights);
    return;
  }
  if (m.mr[0] > 0xfff || m.mr[1] > 4) {
    out->label = static_cast<uint64_t>(Error::kInvalidArgument);
    return;
  }
  const auto offset = static_cast<uint32_t>(m.mr[0]), width = static_cast<uint32_t>(m.mr[1]);
  const keel::Status s = pci::check_config_access(*g_ecam, f->bdf, offset, width, write);
  if (s != keel::Status::kOk) {
    out->label = static_cast<uint64_t>(s == keel::Status::kInsufficientRights ? Error::kInsufficientRights
                                                                              : Error::kInvalidArgument);
    return;
  }
  if (write) {
    pci::config_write(*g_ecam, f->bdf, offset, width, static_cast<uint32_t>(m.mr[2]));
  } else {
    out->mr[0] = pci::config_read(*g_ecam, f->bdf, offset, width);
    out->length = 1;
  }
  out->label = static_cast<uint64_t>(Error::kOk);
}

// What the start info says, checked: the host bridge's ECAM as its one
// device (init maps at most a prefix of it: the buses beyond are not
// walked), and the DTB.
const char* start(const abi::StartInfo* info) {
  if (info->magic != abi::kStartInfoMagic) return "no start info";
  if (info->device_count != 1 || info->devices[0].range_count < 1) return "expected the host bridge as one device";
  if (info->dtb_va == 0 || info->dtb_size == 0) return "no DTB (init gives it to a task that serves pci)";
  const char* why = "";
  if (pci::find_host(reinterpret_cast<const void*>(info->dtb_va), info->dtb_size, 0, &g_host, &why) !=
      keel::Status::kOk) {
    sys::print("pci: the host bridge in the DTB: %s\n", why);
    return "no usable host bridge";
  }
  const abi::DeviceRange& r = info->devices[0].ranges[0];
  if (r.pa != g_host.ecam.base) return "the device given is not the host bridge's ECAM";
  const uint64_t buses = r.size >> 20;
  if (buses == 0) return "less than one bus of ECAM mapped";
  if (g_host.bus_last - g_host.bus_first + 1 > buses) {
    sys::print("pci: ECAM mapped for buses %u-%llu of %u-%u; the rest are not walked\n", g_host.bus_first,
               ull(g_host.bus_first + buses - 1), g_host.bus_first, g_host.bus_last);
    g_host.bus_last = static_cast<uint32_t>(g_host.bus_first + buses - 1);
  }
  static pci::EcamConfig ecam(r.va, g_host.bus_first, r.size);
  g_ecam = &ecam;
  return nullptr;
}

void report() {
  sys::print("pci: %s: %zu functions on buses %u-%u%s\n", g_host.path, g_count, g_host.bus_first, g_host.bus_last,
             g_host.iommu ? ", behind an IOMMU" : "");
  for (size_t i = 0; i < g_count; ++i) {
    const pci::Function& f = g_fn[i];
    char name[32];
    pci::describe(f, name, sizeof name);
    char bars[160];
    size_t n = 0;
    bars[0] = '\0';
    for (unsigned b = 0; b < 6 && n < sizeof bars; ++b) {
      const pci::Bar& bar = f.bars[b];
      if (bar.size == 0 || bar.io) continue;
      n += keel::snformat(bars + n, sizeof bars - n, ", BAR%u 0x%llx %llu KiB", b, ull(bar.cpu_address),
                          ull(bar.size >> 10));
    }
    sys::print("pci:   %s class %06x%s\n", name, f.class_code, bars);
  }
}

}  // namespace

int main() {
  const abi::StartInfo* info = abi::start_info();
  sys::set_console(slot::kConsole);
  if (const char* why = start(info)) {
    sys::print("pci: %s; not serving\n", why);
    return 1;
  }
  g_count = pci::enumerate(*g_ecam, g_host, g_fn, kMaxFunctions);
  if (g_count > kMaxFunctions) g_count = kMaxFunctions;
  // Whatever a previous run (or firmware) left on: off, before placing.
  for (size_t i = 0; i < g_count; ++i) {
    if (g_fn[i].header_type == 0) set_command(g_fn[i], pci::kIntxDisable, pci::kBusMaster | pci::kMemorySpace);
  }
  if (pci::assign(*g_ecam, g_host, g_fn, g_count) != keel::Status::kOk) {
    sys::print("pci: some BARs fit in no window of the host bridge; their functions cannot be given\n");
  }
  report();
  sys::serve(sys::Endpoint(slot::kServerEndpoint), [](const sys::Message& m, sys::Message* out) {
    *out = sys::Message{};
    const bool from_init = m.badge == 0, from_driver = (m.badge & bus::kDriverBadge) != 0;
    if (m.label == bus::kClaim && from_init) {
      claim(m, out);
    } else if (m.label == bus::kRelease && from_init) {
      release(m, out);
    } else if ((m.label == bus::kConfigRead || m.label == bus::kConfigWrite) && from_driver) {
      config(m, out, m.label == bus::kConfigWrite);
    } else if (m.label >= bus::kClaim && m.label <= bus::kConfigWrite) {
      out->label = static_cast<uint64_t>(Error::kInsufficientRights);
    } else {
      out->label = static_cast<uint64_t>(Error::kInvalidArgument);
    }
  });
}
