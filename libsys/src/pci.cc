#include "keel/pci.h"

namespace keel::pci {
namespace {

// What the walk keeps: interrupt parents by phandle, and the host's raw
// cells (copied: a NodeView is valid only during its visit).
struct Controller {
  uint32_t phandle, address_cells, interrupt_cells;
};
constexpr size_t kMaxControllers = 8;
constexpr size_t kMaxMapCells = 640;  // interrupt-map: 32 routes of up to 20 cells

struct Walk {
  size_t want = 0, seen = 0;
  bool found = false;
  Host* out = nullptr;
  const char* why = "";
  Controller controllers[kMaxControllers];
  size_t controller_count = 0;
  uint32_t map[kMaxMapCells] = {};
  size_t map_cells = 0;
  uint32_t child_address_cells = 3, child_interrupt_cells = 1;
};

uint64_t cells64(const dtb::NodeView& n, const char* prop, size_t at, uint32_t count) {
  uint64_t v = 0;
  for (uint32_t i = 0; i < count; ++i) v = (v << 32) | n.cell(prop, at + i);
  return v;
}

Status visit(void* ctx, const dtb::NodeView& n) {
  Walk& w = *static_cast<Walk*>(ctx);
  if (n.interrupt_cells() != 0 && n.phandle() != 0 && w.controller_count < kMaxControllers) {
    w.controllers[w.controller_count++] = {n.phandle(), n.address_cells(), n.interrupt_cells()};
  }
  if (w.found || !n.is_compatible("pci-host-ecam-generic") || !n.enabled()) return Status::kOk;
  if (w.seen++ != w.want) return Status::kOk;
  w.found = true;
  Host& h = *w.out;
  h = Host{};
  if (!n.path(h.path, sizeof h.path)) h.path[0] = '\0';
  h.dma_coherent = n.dma_coherent();
  if (!n.reg(0, &h.ecam) || h.ecam.size < (1u << 20)) {
    w.why = "its reg (ECAM) is not a readable range of at least one bus";
    return Status::kMalformed;
  }
  h.bus_first = 0;
  h.bus_last = static_cast<uint32_t>(h.ecam.size >> 20) - 1;
  if (n.cells("bus-range") == 2) {
    h.bus_first = n.cell("bus-range", 0);
    h.bus_last = n.cell("bus-range", 1);
  }
  if (h.bus_last < h.bus_first || h.bus_last > 255 || (uint64_t{h.bus_last - h.bus_first + 1} << 20) > h.ecam.size) {
    w.why = "its bus-range does not fit its ECAM";
    return Status::kMalformed;
  }
  // ranges: (phys.hi, phys.mid, phys.lo) PCI address, the parent's CPU
  // address, size (#size-cells of the bridge). phys.hi bits 25:24 give the
  // space (01 I/O, 10 32-bit memory, 11 64-bit memory), bit 30 prefetchable.
  const uint32_t ac = n.address_cells(), pac = n.parent_address_cells(), sc = n.size_cells();
  if (ac != 3 || pac < 1 || pac > 2 || sc < 1 || sc > 2) {
    w.why = "its #address-cells is not 3, or its parent's or its #size-cells not 1..2";
    return Status::kMalformed;
  }
  const size_t entry = ac + pac + sc, total = n.cells("ranges");
  if (total == 0 || total % entry != 0) {
    w.why = "its ranges are not whole (phys.hi, mid, lo, CPU address, size) entries";
    return Status::kMalformed;
  }
  for (size_t at = 0; at < total && h.window_count < kMaxWindows; at += entry) {
    const uint32_t hi = n.cell("ranges", at);
    Window win;
    const uint32_t space = (hi >> 24) & 3;
    if (space == 0) continue;  // config space: not a window
    win.kind = static_cast<Window::Kind>(space);
    win.prefetchable = ((hi >> 30) & 1) != 0;
    win.pci_base = cells64(n, "ranges", at + 1, 2);
    win.cpu_base = cells64(n, "ranges", at + 3, pac);
    win.size = cells64(n, "ranges", at + 3 + pac, sc);
    if (win.size == 0 || win.cpu_base + win.size < win.cpu_base || win.pci_base + win.size < win.pci_base) continue;
    h.windows[h.window_count++] = win;
  }
  // interrupt-map-mask: (phys.hi, mid, lo, pin).
  if (n.cells("interrupt-map-mask") == 4) {
    h.route_device_mask = n.cell("interrupt-map-mask", 0);
    h.route_pin_mask = n.cell("interrupt-map-mask", 3);
  }
  w.child_address_cells = ac;
  w.child_interrupt_cells = n.interrupt_cells() == 0 ? 1 : n.interrupt_cells();
  w.map_cells = n.cells("interrupt-map");
  if (w.map_cells > kMaxMapCells) {
    w.why = "its interrupt-map is longer than keel reads";
    return Status::kMalformed;
  }
  for (size_t i = 0; i < w.map_cells; ++i) w.map[i] = n.cell("interrupt-map", i);
  // iommu-map: (rid-base, iommu phandle, iommu-base, length); keel reads one entry.
  if (n.cells("iommu-map") >= 4) {
    h.iommu = true;
    h.rid_base = n.cell("iommu-map", 0);
    h.iommu_phandle = n.cell("iommu-map", 1);
    h.stream_base = n.cell("iommu-map", 2);
    h.rid_count = n.cell("iommu-map", 3);
  }
  return Status::kOk;
}

// interrupt-map entries: child unit address (3 cells), child interrupt
// (1), parent phandle, the parent's unit address (its #address-cells) and
// interrupt specifier (its #interrupt-cells: the GIC's three).
Status parse_routes(Walk& w) {
  Host& h = *w.out;
  size_t at = 0;
  while (at < w.map_cells) {
    const size_t head = w.child_address_cells + w.child_interrupt_cells;
    if (w.map_cells - at < head + 1) return Status::kMalformed;
    const uint32_t hi = w.map[at], pin = w.map[at + w.child_address_cells];
    const uint32_t phandle = w.map[at + head];
    const Controller* parent = nullptr;
    for (size_t c = 0; c < w.controller_count; ++c) {
      if (w.controllers[c].phandle == phandle) parent = &w.controllers[c];
    }
    if (parent == nullptr) return Status::kMalformed;
    const size_t len = head + 1 + parent->address_cells + parent->interrupt_cells;
    if (w.map_cells - at < len) return Status::kMalformed;
    const uint32_t* spec = &w.map[at + head + 1 + parent->address_cells];
    dtb::Interrupt irq;
    if (parent->interrupt_cells == 3 && dtb::gic_interrupt(spec[0], spec[1], spec[2], &irq) &&
        h.route_count < kMaxRoutes) {
      h.routes[h.route_count++] = {.device = (hi >> 11) & 0x1f, .pin = pin, .irq = irq};
    }
    at += len;
  }
  return Status::kOk;
}

}  // namespace

Status find_host(const void* dtb, size_t size, size_t index, Host* out, const char** why) {
  Walk w;
  w.want = index;
  w.out = out;
  const char* walk_why = "";
  Status s = dtb::walk(dtb, size, visit, &w, &walk_why);
  if (s != Status::kOk) {
    if (why != nullptr) *why = s == Status::kMalformed && w.why[0] != '\0' ? w.why : walk_why;
    return s;
  }
  if (!w.found) return Status::kNotFound;
  if (parse_routes(w) != Status::kOk) {
    if (why != nullptr) *why = "its interrupt-map names an interrupt parent keel cannot read";
    return Status::kMalformed;
  }
  return Status::kOk;
}

uint64_t EcamConfig::at(uint32_t bdf, uint32_t offset) const {
  const uint32_t bus = bdf >> 8;
  if (bus < bus_first_ || offset > 0xffc) return 0;
  const uint64_t off = (uint64_t{bdf - (bus_first_ << 8)} << 12) + (offset & ~3u);
  return off + 4 <= size_ ? base_ + off : 0;
}

uint32_t EcamConfig::read32(uint32_t bdf, uint32_t offset) {
  const uint64_t a = at(bdf, offset);
  return a == 0 ? 0xffffffffu : *reinterpret_cast<volatile uint32_t*>(a);
}

void EcamConfig::write32(uint32_t bdf, uint32_t offset, uint32_t value) {
  const uint64_t a = at(bdf, offset);
  if (a != 0) *reinterpret_cast<volatile uint32_t*>(a) = value;
}

namespace {

// Sizes the BARs of a type-0 function: all ones written, the mask read
// back, the original restored — with decode off meanwhile, so a half-sized
// BAR never claims bus addresses.
void size_bars(Config& c, Function& f) {
  const uint32_t command = c.read32(f.bdf, kCommandStatus) & 0xffff;
  c.write32(f.bdf, kCommandStatus, command & ~uint32_t{kIoSpace | kMemorySpace});
  for (unsigned i = 0; i < 6; ++i) {
    const uint32_t off = kBar0 + 4 * i;
    const uint32_t orig = c.read32(f.bdf, off);
    c.write32(f.bdf, off, 0xffffffffu);
    const uint32_t mask = c.read32(f.bdf, off);
    c.write32(f.bdf, off, orig);
    Bar& b = f.bars[i];
    if (mask == 0 || mask == 0xffffffffu) continue;  // not implemented (or nothing answers)
    if ((orig & 1) != 0) {                           // I/O
      b.io = true;
      const uint32_t m = mask & ~3u;
      b.size = m == 0 ? 0 : (~m + 1) & 0xffff;
      continue;
    }
    b.prefetchable = (orig & 8) != 0;
    uint64_t m = mask & ~0xfull;
    if (((orig >> 1) & 3) == 2 && i < 5) {  // 64-bit: the next BAR holds the high half
      b.mem64 = true;
      const uint32_t hi_orig = c.read32(f.bdf, off + 4);
      c.write32(f.bdf, off + 4, 0xffffffffu);
      m |= uint64_t{c.read32(f.bdf, off + 4)} << 32;
      c.write32(f.bdf, off + 4, hi_orig);
      b.size = m == 0 ? 0 : ~m + 1;
      ++i;  // (the high half is not a BAR of its own)
    } else {
      b.size = m == 0 ? 0 : (~m + 1) & 0xffffffffull;
    }
    // A real BAR's writable bits are contiguous from the top: its size is a
    // power of two. Any other answer (a broken or hostile device) is
    // treated as no BAR, never placed.
    if ((b.size & (b.size - 1)) != 0) b = Bar{};
  }
  c.write32(f.bdf, kCommandStatus, command);
}

}  // namespace

size_t enumerate(Config& config, const Host& host, Function* out, size_t max) {
  Config& c = config;
  size_t n = 0;
  for (uint32_t bus = host.bus_first; bus <= host.bus_last; ++bus) {
    for (uint32_t dev = 0; dev < 32; ++dev) {
      for (uint32_t fn = 0; fn < 8; ++fn) {
        const uint32_t bdf = bus << 8 | dev << 3 | fn;
        const uint32_t id = c.read32(bdf, kVendorDevice);
        if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
          if (fn == 0) break;  // no device here
          continue;
        }
        const uint8_t header = static_cast<uint8_t>(c.read32(bdf, kHeaderType) >> 16);
        if (n < max) {
          Function& f = out[n];
          f = Function{};
          f.bdf = bdf;
          f.vendor = static_cast<uint16_t>(id);
          f.device = static_cast<uint16_t>(id >> 16);
          f.class_code = c.read32(bdf, kClassRevision) >> 8;
          f.header_type = header & 0x7f;
          f.pin = static_cast<uint8_t>(c.read32(bdf, kInterrupt) >> 8);
          if (f.pin > 4) f.pin = 0;
          if (f.header_type == 0) size_bars(c, f);
        }
        ++n;
        if (fn == 0 && (header & 0x80) == 0) break;  // single-function device
      }
    }
    if (bus == 255) break;
  }
  return n;
}

Status assign(Config& config, const Host& host, Function* functions, size_t count) {
  Config& c = config;
  Function* fs = functions;
  // Next free PCI address in each window.
  uint64_t next[kMaxWindows];
  for (size_t w = 0; w < host.window_count; ++w) next[w] = host.windows[w].pci_base;
  Status result = Status::kOk;
  // Largest BARs first (fewest alignment holes): repeatedly the largest unplaced.
  for (;;) {
    Function* bf = nullptr;
    unsigned bi = 0;
    for (size_t i = 0; i < count; ++i) {
      if (fs[i].header_type != 0) continue;
      for (unsigned b = 0; b < 6; ++b) {
        const Bar& bar = fs[i].bars[b];
        if (bar.size == 0 || bar.io || bar.cpu_address != 0 || bar.pci_address == ~uint64_t{0}) continue;
        if (bf == nullptr || bar.size > bf->bars[bi].size) bf = &fs[i], bi = b;
      }
    }
    if (bf == nullptr) return result;
    Bar& bar = bf->bars[bi];
    // A 64-bit BAR prefers the 64-bit window; any BAR may use a 32-bit one.
    bool placed = false;
    for (int pass = 0; pass < 2 && !placed; ++pass) {
      for (size_t w = 0; w < host.window_count && !placed; ++w) {
        const Window& win = host.windows[w];
        const bool want = pass == 0 ? (bar.mem64 && win.kind == Window::kMem64) : win.kind == Window::kMem32;
        if (!want) continue;
        const uint64_t align = bar.size < 4096 ? 4096 : bar.size;  // (page-aligned: a driver maps it alone)
        const uint64_t at = (next[w] + align - 1) & ~(align - 1);
        if (at < next[w] || at + bar.size > win.pci_base + win.size || at + bar.size < at) continue;
        if (!bar.mem64 && at + bar.size > (uint64_t{1} << 32)) continue;
        next[w] = at + align;
        bar.pci_address = at;
        bar.cpu_address = win.cpu_base + (at - win.pci_base);
        const uint32_t off = kBar0 + 4 * bi;
        const uint32_t low_flags = c.read32(bf->bdf, off) & 0xf;
        c.write32(bf->bdf, off, static_cast<uint32_t>(at) | low_flags);
        if (bar.mem64) c.write32(bf->bdf, off + 4, static_cast<uint32_t>(at >> 32));
        placed = true;
      }
    }
    if (!placed) {
      bar.pci_address = ~uint64_t{0};  // (marked: not tried again)
      result = Status::kNoMemory;
    }
  }
}

bool intx(const Host& host, const Function& f, dtb::Interrupt* out) {
  if (f.pin < 1 || f.pin > 4) return false;
  const uint32_t device = (f.bdf >> 3) & 0x1f;
  // On the root bus the map is indexed by the device's own number and pin
  // (masked as interrupt-map-mask says).
  const uint32_t dev_key = ((device << 11) & host.route_device_mask) >> 11;
  const uint32_t pin_key = f.pin & host.route_pin_mask;
  for (size_t i = 0; i < host.route_count; ++i) {
    const IntxRoute& r = host.routes[i];
    if (r.device == dev_key && r.pin == pin_key) {
      *out = r.irq;
      return true;
    }
  }
  return false;
}

bool stream_id(const Host& host, uint32_t bdf, uint32_t* out) {
  if (!host.iommu || bdf < host.rid_base || bdf - host.rid_base >= host.rid_count) return false;
  *out = host.stream_base + (bdf - host.rid_base);
  return true;
}

void describe(const Function& f, char* buf, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  char tmp[32];
  size_t n = 0;
  auto hex = [&](uint32_t v, int digits) {
    for (int d = digits - 1; d >= 0; --d) tmp[n++] = kHex[(v >> (4 * d)) & 0xf];
  };
  hex(f.vendor, 4);
  tmp[n++] = ':';
  hex(f.device, 4);
  for (const char* s = " at "; *s != '\0'; ++s) tmp[n++] = *s;
  hex(f.bdf >> 8, 2);
  tmp[n++] = ':';
  hex((f.bdf >> 3) & 0x1f, 2);
  tmp[n++] = '.';
  tmp[n++] = static_cast<char>('0' + (f.bdf & 7));
  size_t i = 0;
  for (; i + 1 < size && i < n; ++i) buf[i] = tmp[i];
  if (size > 0) buf[i] = '\0';
}

}  // namespace keel::pci

namespace keel::pci {
namespace {

// A hex number of exactly `digits` digits (0: 1..8) at s; its end in *end.
bool hex_field(const char* s, unsigned digits, uint32_t* out, const char** end) {
  uint32_t v = 0;
  unsigned n = 0;
  for (; n < 8 && s[n] != '\0'; ++n) {
    const char c = s[n];
    unsigned d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      break;
    }
    v = v << 4 | d;
  }
  if (n == 0 || (digits != 0 && n != digits)) return false;
  *out = v;
  *end = s + n;
  return true;
}

// The capability (id) whose structure holds offset, walking the list from
// 0x34 (at most 48 entries: a looping list is cut off). Its length is
// taken as what the next capability or 0x100 leaves (MSI and MSI-X are
// short; the bound only needs to cover them).
bool in_capability(Config& config, uint32_t bdf, uint32_t offset, uint8_t id) {
  if ((config.read32(bdf, kCommandStatus) & (1u << 20)) == 0) return false;  // Status: capabilities list
  uint32_t at = config.read32(bdf, kCapabilities) & 0xfc;
  for (unsigned n = 0; n < 48 && at >= 0x40; ++n) {
    const uint32_t head = config.read32(bdf, at);
    const uint32_t next = (head >> 8) & 0xfc;
    // MSI is at most 24 bytes (64-bit, per-vector masking), MSI-X 12.
    if ((head & 0xff) == id && offset >= at && offset < at + 24) return true;
    at = next;
  }
  return false;
}

}  // namespace

bool is_spec(const char* spec) {
  for (size_t i = 0; i + 1 < sizeof kSpecPrefix; ++i) {
    if (spec[i] != kSpecPrefix[i]) return false;
  }
  return true;
}

const char* parse_match(const char* spec, Match* out) {
  if (!is_spec(spec)) return "not a pci: device";
  const char* s = spec + sizeof kSpecPrefix - 1;
  Match m;
  uint32_t a = 0;
  const char* end = s;
  if (!hex_field(s, 0, &a, &end)) return "expected pci:VENDOR:DEVICE or pci:CLASS (hex)";
  if (*end == ':') {
    uint32_t b = 0;
    if (end - s != 4) return "the vendor is 4 hex digits";
    if (!hex_field(end + 1, 4, &b, &end)) return "the device is 4 hex digits";
    m.vendor = static_cast<uint16_t>(a);
    m.device = static_cast<uint16_t>(b);
  } else if (end - s == 6 || end - s == 4) {
    m.by_class = true;
    m.class_code = end - s == 6 ? a : a << 8;
    m.class_mask = end - s == 6 ? 0xffffff : 0xffff00;
  } else {
    return "CLASS is 4 (class, subclass) or 6 (with programming interface) hex digits";
  }
  if (*end == '#') {
    uint32_t n = 0;
    const char* p = end + 1;
    for (; *p >= '0' && *p <= '9' && n < 1000; ++p) n = n * 10 + static_cast<uint32_t>(*p - '0');
    if (p == end + 1 || n >= 1000) return "#N is a decimal number below 1000";
    m.instance = n;
    end = p;
  }
  if (*end != '\0') return "unexpected characters after the device";
  *out = m;
  return nullptr;
}

bool matches(const Function& f, const Match& m) {
  if (f.header_type != 0) return false;
  if (m.by_class) return (f.class_code & m.class_mask) == m.class_code;
  return f.vendor == m.vendor && f.device == m.device;
}

Status check_config_access(Config& config, uint32_t bdf, uint32_t offset, uint32_t width, bool write) {
  if ((width != 1 && width != 2 && width != 4) || offset % width != 0 || offset >= 0x1000) {
    return Status::kInvalidArgument;
  }
  if (!write) return Status::kOk;
  if (offset >= 0x100) return Status::kInsufficientRights;
  if (offset < 0x40) {
    // Only the Command register (bytes 4..5) and only as the whole of it
    // or its high byte; config_write keeps every other bit as it is.
    const bool command = (offset == kCommandStatus && width >= 2) || (offset == kCommandStatus + 1 && width == 1);
    return command ? Status::kOk : Status::kInsufficientRights;
  }
  for (uint32_t b = offset; b < offset + width; ++b) {
    if (in_capability(config, bdf, b, 0x05) || in_capability(config, bdf, b, 0x11)) return Status::kInsufficientRights;
  }
  return Status::kOk;
}

uint32_t config_read(Config& config, uint32_t bdf, uint32_t offset, uint32_t width) {
  const uint32_t v = config.read32(bdf, offset & ~3u) >> (8 * (offset & 3));
  return width == 4 ? v : v & ((1u << (8 * width)) - 1);
}

void config_write(Config& config, uint32_t bdf, uint32_t offset, uint32_t width, uint32_t value) {
  const uint32_t at = offset & ~3u, shift = 8 * (offset & 3);
  const uint32_t mask = (width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1) << shift;
  const uint32_t old = config.read32(bdf, at);
  if (at == kCommandStatus) {
    // The Command register: only INTx-disable is the driver's; memory
    // decode, bus mastering and the rest stay as the bus task set them.
    // The Status half is written 0 (its error bits are write-1-to-clear).
    const uint32_t command = old & 0xffff;
    const uint32_t asked = (value << shift) & mask;
    const uint32_t next = (mask & kIntxDisable) != 0 ? (command & ~kIntxDisable) | (asked & kIntxDisable) : command;
    config.write32(bdf, at, next);
    return;
  }
  config.write32(bdf, at, (old & ~mask) | ((value << shift) & mask));
}

}  // namespace keel::pci
