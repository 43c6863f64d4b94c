// dtb.h — a bounds-checked flattened device tree (DTB) reader.
//
// Reads exactly what keel needs to boot: memory, reserved memory (both the
// /memreserve/ block and /reserved-memory), CPUs, the PSCI conduit, the GIC,
// the console UART (PL011, preferring /chosen/stdout-path) and the generic
// timer's interrupts.
//
// Contract: parse_dtb never reads outside [blob, blob + max_size), never
// recurses, and rejects any structural error with a Status and a short
// reason (DtbInfo::error). It allocates nothing and touches no globals, so it
// runs with the MMU off (the physical boot stage) and on the host.
// Spec: Devicetree Specification v0.4, chapter 5 "Flattened Devicetree (DTB) Format".
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/lib/status.h"

namespace keel::dtb {

constexpr uint32_t kMagic = 0xd00dfeed;
constexpr size_t kMaxMemoryRanges = 8;
constexpr size_t kMaxReservedRanges = 16;
constexpr size_t kMaxCpus = 64;
constexpr size_t kMaxDepth = 16;
constexpr size_t kMaxDtbSize = 2u << 20;  // larger than any board keel targets
constexpr size_t kMaxDeviceRanges = 96;
constexpr size_t kMaxWithheldRanges = 16;

struct Range {
  uint64_t base = 0;
  uint64_t size = 0;
};

enum class PsciConduit : uint8_t { kNone, kHvc, kSmc };

struct GicInfo {
  unsigned version = 0;  // 2 or 3; 0 if no GIC was found
  Range distributor;
  Range cpu_or_redist;  // GICv2 CPU interface, or GICv3 redistributor region
};

struct UartInfo {
  bool present = false;
  Range mmio;
  uint32_t intid = 0;  // GIC INTID (SPI n -> 32 + n)
};

struct TimerInfo {
  bool present = false;
  uint32_t phys_ns_intid = 0;  // EL1 physical timer PPI
  uint32_t virt_intid = 0;     // EL1 virtual timer PPI
};

struct DtbInfo {
  uint32_t total_size = 0;
  Range memory[kMaxMemoryRanges];
  size_t memory_count = 0;
  // /memreserve/ entries and every reg range of every /reserved-memory
  // child; reserved_no_map[i]: the child said no-map (the kernel must not
  // map it at all, not even in its linear map).
  Range reserved[kMaxReservedRanges];
  bool reserved_no_map[kMaxReservedRanges] = {};
  size_t reserved_count = 0;
  size_t cpu_count = 0;
  uint64_t cpu_mpidr[kMaxCpus] = {};
  PsciConduit psci = PsciConduit::kNone;
  GicInfo gic;
  UartInfo uart;
  TimerInfo timer;
  // MMIO: every reg range of every enabled device node (a node with a
  // compatible and a reg, outside /memory, /cpus and /reserved-memory), in
  // CPU physical addresses (translated through the parents' `ranges`; a
  // range no parent translates is left out), the GIC included. At most
  // kMaxDeviceRanges; device_count counts them all.
  Range devices[kMaxDeviceRanges];
  size_t device_count = 0;
  // Hardware the kernel keeps and never hands to user space as device
  // memory: every reg range of the interrupt controller node and of all its
  // descendants (GICv2 CPU interface and virtualization frames, GICv3
  // redistributors, ITS and v2m MSI frames), of any ITS / v2m frame
  // elsewhere, and of the IOMMU (arm,smmu-v3). Fails closed: a DTB with more
  // such ranges than kMaxWithheldRanges does not parse.
  Range withheld[kMaxWithheldRanges];
  size_t withheld_count = 0;
  // The first arm,smmu-v3 node (the kernel drives it: kernel/core/iommu.h):
  // its registers and the interrupt its event queue raises (the binding's
  // first interrupt, "eventq" in QEMU's and Linux's order; 0: none).
  struct {
    bool present = false;
    Range regs;
    uint32_t eventq_intid = 0;
  } smmu;
  char bootargs[128] = {};     // /chosen/bootargs (QEMU -append), NUL-terminated, possibly truncated
  char stdout_path[128] = {};  // /chosen/stdout-path up to its ":options" (empty: none, or too long)
  const char* error = "";      // why parsing failed (a static string)

  uint64_t memory_bytes() const {
    uint64_t sum = 0;
    for (size_t i = 0; i < memory_count; ++i) sum += memory[i].size;
    return sum;
  }
};

// Reads just the header: returns the blob's total size, or an error if the
// magic, version or size fields are invalid. Lets a caller bound max_size
// before calling parse_dtb.
Result<uint32_t> header_total_size(const void* blob, size_t max_size, const char** why = nullptr);

// ---- The generic reader ------------------------------------------------------------
//
// walk() streams the tree and shows each node to a visitor when the node
// ends (children before their parent; the root is not shown). The boot
// reader (parse_dtb) is one visitor; libsys's device lookup is another. A
// NodeView is valid only during the call.

namespace detail {
struct Walker;
}

// An interrupt as the GIC numbers it.
struct Interrupt {
  uint32_t intid = 0;  // SPI n -> 32 + n, PPI n -> 16 + n
  bool edge = false;   // edge-triggered (else level)
};

struct NodeView {
  const detail::Walker* walker;
  size_t depth;  // 1 for a child of the root

  const char* name() const;                 // "uart@9000000"
  bool path(char* buf, size_t size) const;  // "/pl011@9000000"; false if it does not fit
  bool path_is(const char* path) const;
  bool has_compatible() const;
  bool is_compatible(const char* s) const;  // one entry of the compatible list equals s
  bool enabled() const;                     // no status, or "okay"/"ok"
  bool dma_coherent() const;                // a dma-coherent property: the device snoops the CPU's caches
  // reg, in CPU physical addresses: the parent's #address-cells (1..2) and
  // #size-cells (0..2), translated through every ancestor's `ranges`. A
  // range on a bus that is not memory-mapped cannot be read (false).
  size_t reg_count() const;
  bool reg(size_t i, Range* out) const;
  // interrupts in the GIC's three-cell form (an interrupt-parent with other
  // cells is not read: count 0).
  size_t interrupt_count() const;
  bool interrupt(size_t i, Interrupt* out) const;
  // A string property keel reads ("stdout-path", "bootargs", "device_type",
  // "method", "status"); "" if absent or not a string.
  const char* string(const char* property) const;
  // The cells of an array property keel reads ("ranges", "reg",
  // "interrupt-map", "interrupt-map-mask", "bus-range", "iommu-map"):
  // how many (0 if absent or not whole cells), and cell i (0 past the end).
  size_t cells(const char* property) const;
  uint32_t cell(const char* property, size_t i) const;
  uint32_t address_cells() const;         // its #address-cells (for its children; 2 if unsaid)
  uint32_t size_cells() const;            // its #size-cells (1 if unsaid)
  uint32_t parent_address_cells() const;  // its parent's (how its reg and ranges' parent side are written)
  uint32_t phandle() const;               // 0: none
  uint32_t interrupt_cells() const;       // its #interrupt-cells (0: not an interrupt parent)
};

// A GIC interrupt specifier (type, number, flags; binding arm,gic) as the
// GIC numbers it. False for a type or number it cannot be.
bool gic_interrupt(uint32_t type, uint32_t number, uint32_t flags, Interrupt* out);

// Called for every node; any status but kOk stops the walk and is returned
// (a visitor that has found what it looked for returns kStop).
using Visit = Status (*)(void* ctx, const NodeView& node);

// The same header and structure checks as parse_dtb; why: the reason of a
// structural failure (a visitor's own failures are its to explain).
Status walk(const void* blob, size_t max_size, Visit visit, void* ctx, const char** why = nullptr);

// Parses the DTB at blob, which the caller guarantees is readable for
// max_size bytes (the header's totalsize must fit inside it).
Status parse_dtb(const void* blob, size_t max_size, DtbInfo* out);

const char* psci_conduit_name(PsciConduit c);

}  // namespace keel::dtb
