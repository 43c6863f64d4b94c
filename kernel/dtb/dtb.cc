#include "kernel/dtb/dtb.h"

namespace keel::dtb {
namespace {

constexpr uint32_t kBeginNode = 1;
constexpr uint32_t kEndNode = 2;
constexpr uint32_t kProp = 3;
constexpr uint32_t kNop = 4;
constexpr uint32_t kEnd = 9;

// Big-endian reads; the caller has bounds-checked the 4 or 8 bytes.
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool str_eq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

// A property value: `len` bytes at `data`, bounds already checked.
struct Value {
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  bool present() const { return data != nullptr; }
  // True if the value is a NUL-terminated string list containing s.
  bool has_string(const char* s) const {
    uint32_t i = 0;
    while (i < len) {
      const char* item = reinterpret_cast<const char*>(data + i);
      uint32_t n = 0;
      while (i + n < len && data[i + n] != 0) ++n;
      if (i + n == len) return false;  // unterminated
      if (str_eq(item, s)) return true;
      i += n + 1;
    }
    return false;
  }
  // The value as a string if it is NUL-terminated, else "".
  const char* str() const {
    if (len == 0 || data[len - 1] != 0) return "";
    return reinterpret_cast<const char*>(data);
  }
  bool u32(uint32_t* out) const {
    if (len != 4) return false;
    *out = be32(data);
    return true;
  }
};

// Reads `cells` 32-bit cells at *pos (bounds-checked against v) as one number.
// More than two cells (PCI-style addresses) never describe what keel reads.
bool read_cells(const Value& v, uint32_t* pos, uint32_t cells, uint64_t* out) {
  if (cells > 2 || *pos > v.len || v.len - *pos < cells * 4) return false;
  uint64_t x = 0;
  for (uint32_t i = 0; i < cells; ++i) x = (x << 32) | be32(v.data + *pos + size_t{4} * i);
  *pos += cells * 4;
  *out = x;
  return true;
}

}  // namespace

namespace detail {

// Per-node state collected while its properties stream past (the DTB puts
// a node's properties before its children, so an ancestor's are complete
// when a descendant ends).
struct Node {
  const char* name = "";
  uint32_t address_cells = 2;  // this node's #address-cells (for its children)
  uint32_t size_cells = 1;
  Value reg, compatible, device_type, method, interrupts, status, stdout_path, bootargs, ranges;
  // Arrays of cells a PCI host bridge's reader needs (NodeView::cells).
  Value interrupt_map, interrupt_map_mask, bus_range, iommu_map;
  uint32_t phandle = 0;
  uint32_t interrupt_cells = 0;     // #interrupt-cells (0: none)
  bool is_cpus = false;             // /cpus
  bool is_reserved_memory = false;  // /reserved-memory
  bool is_chosen = false;
  bool no_map = false;        // a no-map property (reserved-memory children)
  bool dma_coherent = false;  // a dma-coherent property
  // For the boot reader: which compatibles it knows this node has (Kind
  // bits | kKnown once computed); reset as the node begins.
  mutable uint32_t kinds = 0;
};

// The structure-block reader: a stack of open nodes, a visitor called as
// each node ends. Never recurses; every read is bounds-checked.
struct Walker {
  const uint8_t* base;
  uint32_t struct_off, struct_size, strings_off, strings_size;
  Node stack[kMaxDepth];
  size_t depth = 0;  // number of open nodes
  const char* error = "";

  Status fail(Status s, const char* why) {
    error = why;
    return s;
  }

  // The properties this reader keeps, by name. A DTB names each property
  // through an offset into its strings block, and dtc stores each name
  // once: so a name is compared with the known ones once per offset, and
  // every later property with that offset hits this cache instead (a
  // cpu node's five names cost ~150 instructions of string compares each
  // time otherwise).
  enum class PropKind : uint8_t {
    kOther,
    kAddressCells,
    kSizeCells,
    kInterruptCells,
    kReg,
    kRanges,
    kCompatible,
    kDeviceType,
    kDmaCoherent,
    kMethod,
    kInterrupts,
    kInterruptMap,
    kInterruptMapMask,
    kIommuMap,
    kPhandle,
    kStatus,
    kStdoutPath,
    kBootargs,
    kBusRange,
    kNoMap,
  };
  static constexpr uint32_t kKindCache = 64;  // direct-mapped by offset (valid: key = offset + 1)
  uint32_t kind_key[kKindCache] = {};
  PropKind kind_value[kKindCache] = {};

  static PropKind classify(const char* n) {
    switch (n[0]) {  // (the first character rules most names out)
      case '#':
        if (str_eq(n, "#address-cells")) return PropKind::kAddressCells;
        if (str_eq(n, "#size-cells")) return PropKind::kSizeCells;
        if (str_eq(n, "#interrupt-cells")) return PropKind::kInterruptCells;
        break;
      case 'r':
        if (str_eq(n, "reg")) return PropKind::kReg;
        if (str_eq(n, "ranges")) return PropKind::kRanges;
        break;
      case 'c':
        if (str_eq(n, "compatible")) return PropKind::kCompatible;
        break;
      case 'd':
        if (str_eq(n, "device_type")) return PropKind::kDeviceType;
        if (str_eq(n, "dma-coherent")) return PropKind::kDmaCoherent;
        break;
      case 'm':
        if (str_eq(n, "method")) return PropKind::kMethod;
        break;
      case 'i':
        if (str_eq(n, "interrupts")) return PropKind::kInterrupts;
        if (str_eq(n, "interrupt-map")) return PropKind::kInterruptMap;
        if (str_eq(n, "interrupt-map-mask")) return PropKind::kInterruptMapMask;
        if (str_eq(n, "iommu-map")) return PropKind::kIommuMap;
        break;
      case 'p':
        if (str_eq(n, "phandle")) return PropKind::kPhandle;
        break;
      case 's':
        if (str_eq(n, "status")) return PropKind::kStatus;
        if (str_eq(n, "stdout-path")) return PropKind::kStdoutPath;
        break;
      case 'b':
        if (str_eq(n, "bootargs")) return PropKind::kBootargs;
        if (str_eq(n, "bus-range")) return PropKind::kBusRange;
        break;
      case 'n':
        if (str_eq(n, "no-map")) return PropKind::kNoMap;
        break;
      default: break;
    }
    return PropKind::kOther;
  }
  PropKind prop_kind(uint32_t nameoff, const char* name) {
    const uint32_t i = nameoff % kKindCache;
    if (kind_key[i] == nameoff + 1) return kind_value[i];
    const PropKind k = classify(name);
    kind_key[i] = nameoff + 1;
    kind_value[i] = k;
    return k;
  }

  // Translates the bus address `addr` of a node at depth `node_depth` into
  // a CPU physical address through the `ranges` of each ancestor below the
  // root (Devicetree Spec v0.4, 2.3.8): an empty `ranges` is the identity,
  // a missing one means the bus is not memory-mapped (false), as does an
  // address no entry covers or cells this reader cannot hold (> 2).
  bool translate(size_t node_depth, uint64_t addr, uint64_t size, uint64_t* out) const {
    for (size_t k = node_depth - 1; k >= 1; --k) {
      const Node& bus = stack[k];
      const Node& up = stack[k - 1];
      if (!bus.ranges.present()) return false;
      if (bus.ranges.len == 0) continue;
      const uint32_t child_ac = bus.address_cells, parent_ac = up.address_cells, sc = bus.size_cells;
      const uint32_t entry = (child_ac + parent_ac + sc) * 4;
      if (entry == 0 || bus.ranges.len % entry != 0) return false;
      bool found = false;
      for (uint32_t pos = 0; pos < bus.ranges.len && !found;) {
        uint64_t cb = 0, pb = 0, len = 0;
        if (!read_cells(bus.ranges, &pos, child_ac, &cb) || !read_cells(bus.ranges, &pos, parent_ac, &pb) ||
            !read_cells(bus.ranges, &pos, sc, &len)) {
          return false;
        }
        if (addr >= cb && addr - cb < len && size <= len - (addr - cb)) {
          addr = pb + (addr - cb);
          found = true;
        }
      }
      if (!found) return false;
    }
    *out = addr;
    return true;
  }

  Status run(Visit visit, void* ctx) {
    const bool strings_terminated = strings_size > 0 && base[strings_off + strings_size - 1] == 0;
    uint32_t pos = struct_off;
    const uint32_t end = struct_off + struct_size;
    auto need = [&](uint32_t n) { return pos <= end && end - pos >= n; };
    for (;;) {
      if (!need(4)) return fail(Status::kTruncated, "structure block ends without FDT_END");
      uint32_t token = be32(base + pos);
      pos += 4;
      switch (token) {
        case kBeginNode: {
          const char* name = reinterpret_cast<const char*>(base + pos);
          uint32_t n = 0;
          while (need(n + 1) && base[pos + n] != 0) ++n;
          if (!need(n + 1)) return fail(Status::kMalformed, "node name not terminated");
          pos += (n + 1 + 3) & ~3u;
          if (depth == 0 && n != 0) return fail(Status::kMalformed, "root node has a name");
          if (depth >= kMaxDepth) return fail(Status::kUnsupported, "nodes nested too deeply");
          Node& node = stack[depth];
          node = Node{};
          node.name = name;
          if (depth == 1) {
            node.is_cpus = str_eq(name, "cpus");
            node.is_reserved_memory = str_eq(name, "reserved-memory");
            node.is_chosen = str_eq(name, "chosen");
          }
          ++depth;
          break;
        }
        case kEndNode: {
          if (depth == 0) return fail(Status::kMalformed, "FDT_END_NODE without a node");
          --depth;
          if (depth > 0) {  // (the root itself is never visited)
            Status s = visit(ctx, NodeView{this, depth});
            if (s != Status::kOk) return s;
          }
          break;
        }
        case kProp: {
          if (depth == 0) return fail(Status::kMalformed, "property outside any node");
          if (!need(8)) return fail(Status::kTruncated, "property header truncated");
          uint32_t len = be32(base + pos);
          uint32_t nameoff = be32(base + pos + 4);
          pos += 8;
          if (!need(len)) return fail(Status::kTruncated, "property value runs past the structure block");
          if (nameoff >= strings_size) return fail(Status::kMalformed, "property name offset outside strings block");
          const char* pname = reinterpret_cast<const char*>(base + strings_off + nameoff);
          // A strings block that ends in NUL terminates every name in it:
          // checked once (run), not per property (a scan of each name cost
          // about a third of a walk).
          if (!strings_terminated) {
            uint32_t k = 0;
            while (nameoff + k < strings_size && pname[k] != 0) ++k;
            if (nameoff + k >= strings_size) return fail(Status::kMalformed, "property name not terminated");
          }
          Value v{base + pos, len};
          pos += (len + 3) & ~3u;
          Node& node = stack[depth - 1];
          uint32_t cells = 0;
          switch (prop_kind(nameoff, pname)) {
            case PropKind::kAddressCells:
              if (!v.u32(&cells) || cells > 4) return fail(Status::kMalformed, "#address-cells is not a cell count");
              node.address_cells = cells;
              break;
            case PropKind::kSizeCells:
              if (!v.u32(&cells) || cells > 4) return fail(Status::kMalformed, "#size-cells is not a cell count");
              node.size_cells = cells;
              break;
            case PropKind::kInterruptCells:
              if (!v.u32(&cells) || cells > 4) return fail(Status::kMalformed, "#interrupt-cells is not a cell count");
              node.interrupt_cells = cells;
              break;
            case PropKind::kReg: node.reg = v; break;
            case PropKind::kRanges: node.ranges = v; break;
            case PropKind::kCompatible: node.compatible = v; break;
            case PropKind::kDeviceType: node.device_type = v; break;
            case PropKind::kDmaCoherent: node.dma_coherent = true; break;
            case PropKind::kMethod: node.method = v; break;
            case PropKind::kInterrupts: node.interrupts = v; break;
            case PropKind::kInterruptMap: node.interrupt_map = v; break;
            case PropKind::kInterruptMapMask: node.interrupt_map_mask = v; break;
            case PropKind::kIommuMap: node.iommu_map = v; break;
            case PropKind::kPhandle:
              if (!v.u32(&node.phandle)) return fail(Status::kMalformed, "phandle is not one cell");
              break;
            case PropKind::kStatus: node.status = v; break;
            case PropKind::kStdoutPath: node.stdout_path = v; break;
            case PropKind::kBootargs: node.bootargs = v; break;
            case PropKind::kBusRange: node.bus_range = v; break;
            case PropKind::kNoMap: node.no_map = true; break;
            case PropKind::kOther: break;
          }
          break;
        }
        case kNop: break;
        case kEnd:
          if (depth != 0) return fail(Status::kMalformed, "FDT_END inside an open node");
          return Status::kOk;
        default: return fail(Status::kMalformed, "unknown structure token");
      }
    }
  }
};

}  // namespace detail

// ---- NodeView ----------------------------------------------------------------------

namespace {
const detail::Node& node_of(const NodeView& v) { return v.walker->stack[v.depth]; }
const detail::Node& parent_of(const NodeView& v) { return v.walker->stack[v.depth - 1]; }
// Bytes of one (address, size) pair of this node's reg; 0 if the parent's
// cells are not something keel reads (an address of 1..2 cells, a size of 0..2).
uint32_t reg_entry_bytes(const NodeView& v) {
  const detail::Node& p = parent_of(v);
  if (p.address_cells == 0 || p.address_cells > 2 || p.size_cells > 2) return 0;
  return (p.address_cells + p.size_cells) * 4;
}
}  // namespace

const char* NodeView::name() const { return node_of(*this).name; }

bool NodeView::path(char* buf, size_t size) const {
  size_t n = 0;
  for (size_t d = 1; d <= depth; ++d) {
    if (n + 1 >= size) return false;
    buf[n++] = '/';
    for (const char* c = walker->stack[d].name; *c != '\0'; ++c) {
      if (n + 1 >= size) return false;
      buf[n++] = *c;
    }
  }
  if (size == 0) return false;
  buf[n] = 0;
  return true;
}

bool NodeView::path_is(const char* p) const {
  // Compares component by component without a buffer.
  for (size_t d = 1; d <= depth; ++d) {
    if (*p++ != '/') return false;
    for (const char* c = walker->stack[d].name; *c != '\0'; ++c) {
      if (*p++ != *c) return false;
    }
  }
  return *p == '\0';
}

bool NodeView::is_compatible(const char* s) const { return node_of(*this).compatible.has_string(s); }
bool NodeView::dma_coherent() const { return node_of(*this).dma_coherent; }
bool NodeView::has_compatible() const { return node_of(*this).compatible.present(); }

bool NodeView::enabled() const {
  const Value& st = node_of(*this).status;
  return !st.present() || str_eq(st.str(), "okay") || str_eq(st.str(), "ok");
}

size_t NodeView::reg_count() const {
  const uint32_t e = reg_entry_bytes(*this);
  const Value& reg = node_of(*this).reg;
  return e == 0 || reg.len % e != 0 ? 0 : reg.len / e;
}

bool NodeView::reg(size_t i, Range* out) const {
  if (i >= reg_count()) return false;
  const detail::Node& p = parent_of(*this);
  const Value& reg = node_of(*this).reg;
  uint32_t pos = static_cast<uint32_t>(i) * reg_entry_bytes(*this);
  Range r;
  if (!read_cells(reg, &pos, p.address_cells, &r.base) || !read_cells(reg, &pos, p.size_cells, &r.size)) return false;
  if (r.size != 0 && r.base + r.size < r.base) return false;
  if (!walker->translate(depth, r.base, r.size, &r.base)) return false;
  *out = r;
  return true;
}

// Interrupt specifiers in the GIC's three-cell form (type, number, flags):
// Devicetree binding arm,gic: type 0 = SPI (INTID 32 + n, n < 988), 1 = PPI
// (INTID 16 + n, n < 16); flags bits [3:0] = trigger (1, 2: edge; 4, 8: level).
size_t NodeView::interrupt_count() const {
  const Value& v = node_of(*this).interrupts;
  return v.len % 12 != 0 ? 0 : v.len / 12;
}

bool NodeView::interrupt(size_t i, Interrupt* out) const {
  if (i >= interrupt_count()) return false;
  const Value& v = node_of(*this).interrupts;
  uint32_t pos = static_cast<uint32_t>(i) * 12;
  uint64_t type = 0, num = 0, flags = 0;
  if (!read_cells(v, &pos, 1, &type) || !read_cells(v, &pos, 1, &num) || !read_cells(v, &pos, 1, &flags)) return false;
  return gic_interrupt(static_cast<uint32_t>(type), static_cast<uint32_t>(num), static_cast<uint32_t>(flags), out);
}

bool gic_interrupt(uint32_t type, uint32_t number, uint32_t flags, Interrupt* out) {
  if (type == 0 && number < 988) {
    out->intid = 32 + number;
  } else if (type == 1 && number < 16) {
    out->intid = 16 + number;
  } else {
    return false;
  }
  out->edge = (flags & 0x3) != 0;
  return true;
}

namespace {
const Value* cell_array(const detail::Node& n, const char* property) {
  if (str_eq(property, "ranges")) return &n.ranges;
  if (str_eq(property, "interrupt-map")) return &n.interrupt_map;
  if (str_eq(property, "interrupt-map-mask")) return &n.interrupt_map_mask;
  if (str_eq(property, "bus-range")) return &n.bus_range;
  if (str_eq(property, "iommu-map")) return &n.iommu_map;
  if (str_eq(property, "reg")) return &n.reg;
  return nullptr;
}
}  // namespace

size_t NodeView::cells(const char* property) const {
  const Value* v = cell_array(node_of(*this), property);
  return v == nullptr || v->len % 4 != 0 ? 0 : v->len / 4;
}

uint32_t NodeView::cell(const char* property, size_t i) const {
  const Value* v = cell_array(node_of(*this), property);
  return v == nullptr || i >= cells(property) ? 0 : be32(v->data + 4 * i);
}

uint32_t NodeView::address_cells() const { return node_of(*this).address_cells; }
uint32_t NodeView::size_cells() const { return node_of(*this).size_cells; }
uint32_t NodeView::parent_address_cells() const { return parent_of(*this).address_cells; }
uint32_t NodeView::phandle() const { return node_of(*this).phandle; }
uint32_t NodeView::interrupt_cells() const { return node_of(*this).interrupt_cells; }

const char* NodeView::string(const char* property) const {
  const detail::Node& n = node_of(*this);
  if (str_eq(property, "stdout-path")) return n.stdout_path.str();
  if (str_eq(property, "bootargs")) return n.bootargs.str();
  if (str_eq(property, "device_type")) return n.device_type.str();
  if (str_eq(property, "method")) return n.method.str();
  if (str_eq(property, "status")) return n.status.str();
  return "";
}

namespace {

// The compatibles the boot reader acts on, found in one pass over a node's
// compatible list (boot reads every node of the DTB twice: keep it cheap).
enum Kind : uint32_t {
  kGicV3 = 1u << 0,
  kGicV2 = 1u << 1,
  kMsiFrame = 1u << 2,  // arm,gic-v3-its / arm,gic-v2m-frame
  kSmmu = 1u << 3,
  kPsci = 1u << 4,
  kPl011 = 1u << 5,
  kTimer = 1u << 6,
  kKnown = 1u << 31,
};
struct KnownCompatible {
  const char* name;
  Kind kind;
};
constexpr KnownCompatible kKnownCompatibles[] = {
    {"arm,gic-v3", kGicV3},        {"arm,cortex-a15-gic", kGicV2}, {"arm,gic-400", kGicV2},
    {"arm,cortex-a9-gic", kGicV2}, {"arm,gic-v3-its", kMsiFrame},  {"arm,gic-v2m-frame", kMsiFrame},
    {"arm,smmu-v3", kSmmu},        {"arm,psci-1.0", kPsci},        {"arm,psci-0.2", kPsci},
    {"arm,psci", kPsci},           {"arm,pl011", kPl011},          {"arm,armv8-timer", kTimer},
    {"arm,armv7-timer", kTimer},
};

uint32_t kinds_of(const detail::Node& n) {
  if ((n.kinds & kKnown) != 0) return n.kinds;
  uint32_t k = kKnown;
  const Value& v = n.compatible;
  for (uint32_t i = 0; i < v.len;) {
    uint32_t len = 0;
    while (i + len < v.len && v.data[i + len] != 0) ++len;
    if (i + len == v.len) break;  // unterminated: not a string list
    const char* item = reinterpret_cast<const char*>(v.data + i);
    if (len > 4 && item[0] == 'a' && item[1] == 'r' && item[2] == 'm' && item[3] == ',') {
      for (const KnownCompatible& c : kKnownCompatibles) {
        if (str_eq(item, c.name)) k |= c.kind;
      }
    }
    i += len + 1;
  }
  n.kinds = k;
  return k;
}

bool is_gic(const detail::Node& n) { return (kinds_of(n) & (kGicV3 | kGicV2)) != 0; }

// Hardware the kernel keeps wherever it sits in the tree (DtbInfo::withheld).
bool is_kernel_owned(const detail::Node& n) { return (kinds_of(n) & (kGicV3 | kGicV2 | kMsiFrame | kSmmu)) != 0; }

constexpr size_t kMaxUartCandidates = 4;
constexpr size_t kPathMax = 128;

struct UartCandidate {
  char path[kPathMax];
  UartInfo info;
};

// The boot reader: parse_dtb's visitor, filling a DtbInfo.
struct BootReader {
  DtbInfo* out;
  UartCandidate uarts[kMaxUartCandidates];
  size_t uart_count = 0;
  char stdout_path[kPathMax] = {};
  const char* error = nullptr;  // set with a failing Status

  Status fail(Status s, const char* why) {
    error = why;
    return s;
  }

  Status add_range(Range* arr, size_t* count, size_t cap, uint64_t base, uint64_t size, const char* overflow) {
    if (size == 0) return Status::kOk;
    if (*count >= cap) return fail(Status::kUnsupported, overflow);
    arr[(*count)++] = Range{base, size};
    return Status::kOk;
  }

  static Status visit(void* ctx, const NodeView& v) { return static_cast<BootReader*>(ctx)->finish_node(v); }

  Status finish_node(const NodeView& v) {
    const detail::Node& n = node_of(v);
    const detail::Node& parent = parent_of(v);
    const size_t node_depth = v.depth;
    if (!v.enabled()) return Status::kOk;  // disabled devices are invisible
    uint32_t ac = parent.address_cells, sc = parent.size_cells;
    auto reg_entry = [&](uint32_t index, Range* r) -> bool {
      uint32_t pos = index * (ac + sc) * 4;
      return read_cells(n.reg, &pos, ac, &r->base) && read_cells(n.reg, &pos, sc, &r->size);
    };
    // Every (address, size) pair of n's reg into arr; flags (if given) gets
    // `flag` for each range added. The messages name the node's kind.
    struct RegErrors {
      const char* not_pairs;
      const char* unreadable;
      const char* wraps;
      const char* too_many;
    };
    auto add_reg_ranges = [&](const RegErrors& err, Range* arr, size_t* count, size_t cap, bool* flags,
                              bool flag) -> Status {
      if (ac == 0 || (ac + sc) == 0 || n.reg.len % ((ac + sc) * 4) != 0) return fail(Status::kMalformed, err.not_pairs);
      for (uint32_t i = 0; i < n.reg.len / ((ac + sc) * 4); ++i) {
        Range r;
        if (!reg_entry(i, &r)) return fail(Status::kMalformed, err.unreadable);
        if (r.size != 0 && r.base + r.size < r.base) return fail(Status::kMalformed, err.wraps);
        const size_t before = *count;
        Status s = add_range(arr, count, cap, r.base, r.size, err.too_many);
        if (s != Status::kOk) return s;
        if (flags != nullptr && *count > before) flags[before] = flag;
      }
      return Status::kOk;
    };
    if (node_depth == 1 && (str_eq(n.device_type.str(), "memory"))) {
      return add_reg_ranges({.not_pairs = "memory node reg is not a whole number of (address, size) pairs",
                             .unreadable = "memory node reg unreadable",
                             .wraps = "memory range wraps",
                             .too_many = "more memory ranges than keel supports"},
                            out->memory, &out->memory_count, kMaxMemoryRanges, nullptr, false);
    }
    if (node_depth == 2 && parent.is_cpus && str_eq(n.device_type.str(), "cpu")) {
      uint64_t mpidr = 0;
      uint32_t pos = 0;
      if (!read_cells(n.reg, &pos, ac, &mpidr)) return fail(Status::kMalformed, "cpu node without a readable reg");
      if (out->cpu_count < kMaxCpus) out->cpu_mpidr[out->cpu_count] = mpidr;
      ++out->cpu_count;
      return Status::kOk;
    }
    if (node_depth == 2 && parent.is_reserved_memory && n.reg.present()) {
      // Every (address, size) pair: a child may reserve several ranges.
      return add_reg_ranges({.not_pairs = "reserved-memory child reg is not a whole number of (address, size) pairs",
                             .unreadable = "reserved-memory child reg unreadable",
                             .wraps = "reserved range wraps",
                             .too_many = "more reserved ranges than keel supports"},
                            out->reserved, &out->reserved_count, kMaxReservedRanges, out->reserved_no_map, n.no_map);
    }
    const uint32_t kinds = kinds_of(n);
    if ((kinds & kPsci) != 0) {
      const char* m = n.method.str();
      if (str_eq(m, "hvc")) {
        out->psci = PsciConduit::kHvc;
      } else if (str_eq(m, "smc")) {
        out->psci = PsciConduit::kSmc;
      } else {
        return fail(Status::kMalformed, "psci node method is neither \"hvc\" nor \"smc\"");
      }
      return Status::kOk;
    }
    // Kernel-owned: the node is the GIC (or an MSI frame, or the IOMMU), or
    // sits anywhere below the GIC.
    bool kernel_owned = is_kernel_owned(n);
    for (size_t k = 1; k < node_depth && !kernel_owned; ++k) kernel_owned = is_gic(v.walker->stack[k]);
    if (n.compatible.present() && n.reg.present() && !parent.is_cpus && !parent.is_reserved_memory) {
      const size_t count = v.reg_count();
      if (count == 0 && kernel_owned) {
        return fail(Status::kMalformed, "interrupt-controller/IOMMU node reg is not readable (address/size cells)");
      }
      for (size_t i = 0; i < count; ++i) {
        Range r;
        if (!v.reg(i, &r) || r.size == 0) continue;  // (not memory-mapped: not a device range)
        if (kernel_owned) {
          // Fail closed: a range the kernel cannot record would be handed out.
          Status s = add_range(out->withheld, &out->withheld_count, kMaxWithheldRanges, r.base, r.size,
                               "more interrupt-controller/IOMMU ranges than keel can withhold");
          if (s != Status::kOk) return s;
        }
        if (out->device_count < kMaxDeviceRanges) out->devices[out->device_count] = r;
        ++out->device_count;
      }
    }
    // A PCI host bridge's memory windows (its `ranges`, phys.hi space code
    // 2: 32-bit, 3: 64-bit memory) are device memory too: BARs are placed
    // there (keel/pci.h), and the frames a PCI driver is given come from
    // them. The I/O-space window is not (keel does not use port I/O). An
    // entry that cannot be read or translated is skipped, not guessed.
    if (!kernel_owned && str_eq(n.device_type.str(), "pci") && n.ranges.present() && n.address_cells == 3) {
      const uint32_t entry = (3 + parent.address_cells + n.size_cells) * 4;
      for (uint32_t pos = 0; entry > 12 && pos + entry <= n.ranges.len;) {
        uint64_t hi = 0, child = 0, cpu = 0, len = 0;
        if (!read_cells(n.ranges, &pos, 1, &hi) || !read_cells(n.ranges, &pos, 2, &child) ||
            !read_cells(n.ranges, &pos, parent.address_cells, &cpu) ||
            !read_cells(n.ranges, &pos, n.size_cells, &len)) {
          break;
        }
        const uint64_t space = (hi >> 24) & 3;
        if ((space != 2 && space != 3) || len == 0 || cpu + len < cpu) continue;
        if (!v.walker->translate(node_depth, cpu, len, &cpu)) continue;
        if (out->device_count < kMaxDeviceRanges) out->devices[out->device_count] = Range{cpu, len};
        ++out->device_count;
      }
    }
    if ((kinds & kSmmu) != 0 && !out->smmu.present && v.reg(0, &out->smmu.regs) && out->smmu.regs.size >= 0x20000) {
      out->smmu.present = true;
      Interrupt irq;
      if (v.interrupt(0, &irq)) out->smmu.eventq_intid = irq.intid;
    }
    if (is_gic(n) && out->gic.version == 0) {
      GicInfo& g = out->gic;
      if (!v.reg(0, &g.distributor) || !v.reg(1, &g.cpu_or_redist)) {
        return fail(Status::kMalformed,
                    "GIC node reg lacks distributor and CPU/redistributor regions in the CPU's address space");
      }
      g.version = (kinds & kGicV3) != 0 ? 3 : 2;
      return Status::kOk;
    }
    if ((kinds & kPl011) != 0 && uart_count < kMaxUartCandidates) {
      UartCandidate& c = uarts[uart_count];
      if (!v.reg(0, &c.info.mmio)) return fail(Status::kMalformed, "pl011 node reg unreadable");
      Interrupt irq;
      if (v.interrupt(0, &irq)) c.info.intid = irq.intid;
      c.info.present = true;
      if (!v.path(c.path, sizeof c.path)) c.path[0] = 0;
      ++uart_count;
      return Status::kOk;
    }
    if ((kinds & kTimer) != 0) {
      // interrupts: secure phys, non-secure phys, virtual, hypervisor (3 cells each).
      uint64_t cells[12];
      uint32_t pos = 0;
      for (uint64_t& c : cells) {
        if (!read_cells(n.interrupts, &pos, 1, &c)) return fail(Status::kMalformed, "timer interrupts too short");
      }
      out->timer.present = true;
      out->timer.phys_ns_intid = static_cast<uint32_t>(16 + cells[4]);
      out->timer.virt_intid = static_cast<uint32_t>(16 + cells[7]);
      return Status::kOk;
    }
    if (n.is_chosen && n.bootargs.present()) {  // (a string; truncated to fit, always terminated)
      const char* p = n.bootargs.str();
      size_t i = 0;
      for (; p[i] != '\0' && i + 1 < sizeof out->bootargs; ++i) out->bootargs[i] = p[i];
      out->bootargs[i] = 0;
    }
    if (n.is_chosen && n.stdout_path.present()) {
      const char* p = n.stdout_path.str();
      size_t i = 0;
      for (; p[i] != '\0' && p[i] != ':' && i + 1 < kPathMax; ++i) stdout_path[i] = p[i];
      stdout_path[i] = 0;
    }
    return Status::kOk;
  }
};

struct Header {
  uint32_t totalsize, off_dt_struct, off_dt_strings, off_mem_rsvmap, version, last_comp_version, size_dt_strings,
      size_dt_struct;
};

Status read_header(const uint8_t* b, size_t max_size, Header* h, const char** why) {
  if (max_size < 40) {
    *why = "smaller than a DTB header";
    return Status::kTruncated;
  }
  if (be32(b) != kMagic) {
    *why = "bad magic (not a DTB)";
    return Status::kMalformed;
  }
  h->totalsize = be32(b + 4);
  h->off_dt_struct = be32(b + 8);
  h->off_dt_strings = be32(b + 12);
  h->off_mem_rsvmap = be32(b + 16);
  h->version = be32(b + 20);
  h->last_comp_version = be32(b + 24);
  h->size_dt_strings = be32(b + 32);
  h->size_dt_struct = be32(b + 36);
  if (h->last_comp_version > 17 || h->version < 16) {
    *why = "unsupported DTB version";
    return Status::kUnsupported;
  }
  if (h->totalsize > kMaxDtbSize) {
    *why = "larger than the 2 MiB keel accepts";
    return Status::kUnsupported;
  }
  if (h->totalsize < 40 || h->totalsize > max_size) {
    *why = "totalsize larger than the memory it was given";
    return Status::kTruncated;
  }
  auto inside = [&](uint32_t off, uint32_t size) { return off <= h->totalsize && h->totalsize - off >= size; };
  if (!inside(h->off_dt_struct, h->size_dt_struct) || (h->off_dt_struct & 3) != 0) {
    *why = "structure block outside the blob or misaligned";
    return Status::kMalformed;
  }
  if (!inside(h->off_dt_strings, h->size_dt_strings)) {
    *why = "strings block outside the blob";
    return Status::kMalformed;
  }
  if (!inside(h->off_mem_rsvmap, 16) || (h->off_mem_rsvmap & 7) != 0) {
    *why = "memory reservation block outside the blob or misaligned";
    return Status::kMalformed;
  }
  return Status::kOk;
}

}  // namespace

Result<uint32_t> header_total_size(const void* blob, size_t max_size, const char** why) {
  Header h;
  const char* reason = "";
  Status s = read_header(static_cast<const uint8_t*>(blob), max_size, &h, &reason);
  if (why != nullptr) *why = reason;
  if (s != Status::kOk) return s;
  return h.totalsize;
}

Status parse_dtb(const void* blob, size_t max_size, DtbInfo* out) {
  *out = DtbInfo{};
  const auto* b = static_cast<const uint8_t*>(blob);
  Header h;
  Status s = read_header(b, max_size, &h, &out->error);
  if (s != Status::kOk) return s;
  out->total_size = h.totalsize;

  // /memreserve/ entries: (address, size) pairs of 64-bit big-endian values,
  // terminated by a (0, 0) pair that must lie inside the blob.
  for (uint32_t off = h.off_mem_rsvmap;; off += 16) {
    if (off > h.totalsize || h.totalsize - off < 16) {
      out->error = "memory reservation block not terminated";
      return Status::kTruncated;
    }
    uint64_t addr = (uint64_t{be32(b + off)} << 32) | be32(b + off + 4);
    uint64_t size = (uint64_t{be32(b + off + 8)} << 32) | be32(b + off + 12);
    if (addr == 0 && size == 0) break;
    if (out->reserved_count >= kMaxReservedRanges) {
      out->error = "more reserved ranges than keel supports";
      return Status::kUnsupported;
    }
    out->reserved[out->reserved_count++] = Range{addr, size};
  }

  detail::Walker w{.base = b,
                   .struct_off = h.off_dt_struct,
                   .struct_size = h.size_dt_struct,
                   .strings_off = h.off_dt_strings,
                   .strings_size = h.size_dt_strings};
  BootReader p{.out = out};
  s = w.run(&BootReader::visit, &p);
  if (s != Status::kOk) {
    out->error = p.error != nullptr ? p.error : w.error;
    return s;
  }
  if (out->memory_count == 0) {
    out->error = "no memory node";
    return Status::kNotFound;
  }
  if (out->cpu_count == 0) {
    out->error = "no cpu nodes under /cpus";
    return Status::kNotFound;
  }
  static_assert(sizeof out->stdout_path == kPathMax);
  for (size_t i = 0; i < kPathMax; ++i) out->stdout_path[i] = p.stdout_path[i];
  // Console: the PL011 /chosen/stdout-path names, else the first one.
  for (size_t i = 0; i < p.uart_count; ++i) {
    if (p.stdout_path[0] != 0 && str_eq(p.uarts[i].path, p.stdout_path)) out->uart = p.uarts[i].info;
  }
  if (!out->uart.present && p.uart_count > 0) out->uart = p.uarts[0].info;
  return Status::kOk;
}

Status walk(const void* blob, size_t max_size, Visit visit, void* ctx, const char** why) {
  const auto* b = static_cast<const uint8_t*>(blob);
  Header h;
  const char* reason = "";
  Status s = read_header(b, max_size, &h, &reason);
  if (s == Status::kOk) {
    detail::Walker w{.base = b,
                     .struct_off = h.off_dt_struct,
                     .struct_size = h.size_dt_struct,
                     .strings_off = h.off_dt_strings,
                     .strings_size = h.size_dt_strings};
    s = w.run(visit, ctx);
    reason = w.error;
  }
  if (why != nullptr) *why = reason;
  return s;
}

const char* psci_conduit_name(PsciConduit c) {
  switch (c) {
    case PsciConduit::kNone: return "none";
    case PsciConduit::kHvc: return "hvc";
    case PsciConduit::kSmc: return "smc";
  }
  return "?";
}

}  // namespace keel::dtb
