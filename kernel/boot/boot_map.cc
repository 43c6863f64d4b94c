#include "kernel/boot/boot_map.h"

#include "kernel/boot/layout.h"

namespace keel::boot {

using arm64::kPageSize;
using arm64::MapAttrs;
using arm64::MemType;

namespace {

constexpr uint64_t page_down(uint64_t x) { return x & ~(kPageSize - 1); }
constexpr uint64_t page_up(uint64_t x) { return (x + kPageSize - 1) & ~(kPageSize - 1); }

}  // namespace

Status build_boot_map(const BootMapInput& in, arm64::PhysWindow window, arm64::PageAllocator* alloc, BootMap* out,
                      const char** what) {
  *out = BootMap{};
  const ImageManifest& m = *in.manifest;
  auto root0 = alloc->alloc_page();
  auto root1 = alloc->alloc_page();
  if (!root0.ok() || !root1.ok()) {
    *what = "allocating root tables";
    return Status::kNoMemory;
  }
  arm64::PageTableBuilder t0(window, alloc, root0.value());
  arm64::PageTableBuilder t1(window, alloc, root1.value());
  auto note_pa = [&](uint64_t end) {
    if (end > out->max_pa) out->max_pa = end;
  };

  // Kernel image, segment by segment, 4 KiB pages so permissions are exact.
  for (uint32_t i = 0; i < m.segment_count; ++i) {
    const ManifestSegment& s = m.segments[i];
    MapAttrs a{.type = MemType::kNormal, .writable = (s.flags & kSegW) != 0, .executable = (s.flags & kSegX) != 0};
    if (a.writable && a.executable) {
      *what = "kernel segment is both writable and executable";
      return Status::kInvalidArgument;
    }
    uint64_t pa = in.kernel_pa + (s.vaddr - m.kernel_vbase);
    uint64_t size = page_up(s.mem_size);
    arm64::Pte leaf = arm64::leaf_template(a);
    if (in.inject == Inject::kWrongMairIndex && a.executable) {
      leaf = leaf.attr_index(4);  // MAIR index 4 is left 0: Device-nGnRnE
    }
    Status st = t1.map_raw(s.vaddr, pa, size, leaf, {.allow_blocks = false});
    if (st != Status::kOk) {
      *what = "mapping a kernel segment";
      return st;
    }
    note_pa(pa + size);
  }
  if (in.inject == Inject::kNoKernelStack) {
    Status st = t1.unmap_pages(m.kernel_stack_bottom, m.kernel_stack_top - m.kernel_stack_bottom);
    if (st != Status::kOk) {
      *what = "injecting: unmapping the kernel stack";
      return st;
    }
  }

  if (in.inject == Inject::kUnmappedEntryNoPreflight) {
    Status st = t1.unmap_pages(m.kernel_entry & ~(kPageSize - 1), kPageSize);
    if (st != Status::kOk) {
      *what = "injecting: unmapping the kernel entry page";
      return st;
    }
  }

  // Linear map of all RAM but the no-map reserved ranges (the binding:
  // they must not be mapped at all — a speculative access to a firmware
  // carve-out can raise an external abort). RAM ranges are trimmed inward
  // to whole pages, no-map holes widened outward.
  for (size_t i = 0; i < in.dtb->memory_count; ++i) {
    uint64_t base = page_up(in.dtb->memory[i].base);
    const uint64_t end = page_down(in.dtb->memory[i].base + in.dtb->memory[i].size);
    if (end <= base) continue;
    if (end > layout::kLinearMapSize) {
      *what = "memory beyond the linear map's reach";
      return Status::kUnsupported;
    }
    note_pa(end);
    while (base < end) {
      // The lowest no-map hole that ends above base, clipped to this range.
      uint64_t hole = end, hole_end = end;
      for (size_t r = 0; r < in.dtb->reserved_count; ++r) {
        if (!in.dtb->reserved_no_map[r]) continue;
        const uint64_t hb = page_down(in.dtb->reserved[r].base);
        const uint64_t he = page_up(in.dtb->reserved[r].base + in.dtb->reserved[r].size);
        if (he <= base || hb >= end || hb >= hole) continue;
        hole = hb > base ? hb : base;
        hole_end = he < end ? he : end;
      }
      if (hole > base) {
        Status st = t1.map(layout::phys_to_linear(base), base, hole - base,
                           MapAttrs{.type = MemType::kNormal, .writable = true, .executable = false});
        if (st != Status::kOk) {
          *what = "mapping RAM into the linear map";
          return st;
        }
      }
      base = hole_end;
    }
  }

  // Console UART: first page of the device window.
  uint64_t console_page = page_down(in.console_pa);
  out->console_va = layout::kDeviceWindowBase + (in.console_pa - console_page);
  MapAttrs dev{.type = in.inject == Inject::kConsoleNormal ? MemType::kNormal : MemType::kDevice, .writable = true};
  Status st = t1.map(layout::kDeviceWindowBase, console_page, kPageSize, dev);
  if (st != Status::kOk) {
    *what = "mapping the console";
    return st;
  }
  note_pa(console_page + kPageSize);

  // TTBR0: the trampoline page, identity mapped, executable at EL1.
  if (in.inject != Inject::kNoTrampolineMap) {
    st = t0.map(in.trampoline_pa, in.trampoline_pa, kPageSize,
                MapAttrs{.type = MemType::kNormal, .writable = false, .executable = true});
    if (st != Status::kOk) {
      *what = "identity-mapping the trampoline";
      return st;
    }
  }
  note_pa(in.trampoline_pa + kPageSize);

  uint64_t ips = in.pa_range_enc > 5 ? 5 : in.pa_range_enc;  // keel uses 48-bit OAs at most
  out->tcr = arm64::TcrEl1{}
                 .t0sz(64 - arm64::kVaBits)
                 .t1sz(64 - arm64::kVaBits)
                 .tg0(arm64::Tg0::k4K)
                 .tg1(arm64::Tg1::k4K)
                 .irgn0(arm64::WalkCache::kWbWa)
                 .orgn0(arm64::WalkCache::kWbWa)
                 .sh0(arm64::Shareability::kInner)
                 .irgn1(arm64::WalkCache::kWbWa)
                 .orgn1(arm64::WalkCache::kWbWa)
                 .sh1(arm64::Shareability::kInner)
                 .ips(ips);
  if (in.inject == Inject::kBadTcrGranule) {
    out->tcr.raw = arm64::set_bits(out->tcr.raw, 31, 30, static_cast<uint64_t>(arm64::Tg0::k4K));
  }
  out->mair = arm64::kKeelMair;
  out->sctlr = kKernelSctlr;
  out->ttbr0 = t0.root();
  out->ttbr1 = t1.root();
  return Status::kOk;
}

}  // namespace keel::boot
