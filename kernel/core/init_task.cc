#include "kernel/core/init_task.h"

#include "keel/abi.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"
#include "kernel/lib/elf/elf.h"
#include "kernel/object/capability.h"
#include "kernel/object/memory_map.h"
#include "kernel/object/objects.h"

namespace keel {
namespace {

abi::InitBootInfo* g_boot_info = nullptr;  // (the page init reads, through the linear map)

using layout::linear;

using abi::ObjectType;
using object::Capability;
using object::Slot;
namespace slot = abi::init_slot;

constexpr uint64_t kPage = arm64::kPageSize;
constexpr size_t kMaxBlocks = 64;
// Init's page tables: every slot from kFirstPageTable up to kFirstFrame.
constexpr size_t kInitPageTables = slot::kFirstFrame - slot::kFirstPageTable;

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// Slots that hold capabilities before init's CNode exists (kernel bss).
Slot g_boot_untyped;
Slot g_boot_cnode;

void check(Status s, const char* what) {
  if (s != Status::kOk) panic("creating init: %s: %s", what, status_name(s));
}

Slot* retype_one(Slot* ut, ObjectType type, unsigned bits, Slot* dst, const char* what) {
  check(object::retype(ut, type, bits, &dst, 1, object_hooks()), what);
  return dst;
}

}  // namespace

namespace {
Slot* g_init_cnode = nullptr;  // (for the forget_record self-test)
}  // namespace

void forget_first_frame_record() {
  if (g_init_cnode != nullptr) g_init_cnode[slot::kFirstFrame].cap.badge = 0;
}

void boot_info_set_cpus_online(size_t n) {
  if (g_boot_info != nullptr) g_boot_info->cpus_online = n;
}

Thread* create_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt) {
  // 1. Free RAM as untyped blocks.
  object::Region ram[dtb::kMaxMemoryRanges];
  for (size_t i = 0; i < dt.memory_count; ++i) ram[i] = {dt.memory[i].base, dt.memory[i].size};
  object::Region reserved[dtb::kMaxReservedRanges + 3];
  size_t nres = 0;
  reserved[nres++] = {bi.image_pa, bi.image_size};  // boot stage, tables, kernel, modules
  reserved[nres++] = {bi.dtb_pa, bi.dtb_size};
  for (size_t i = 0; i < dt.reserved_count; ++i) reserved[nres++] = {dt.reserved[i].base, dt.reserved[i].size};
  // The per-page records (object/page_info.h) for all of RAM, at the
  // top of RAM; kept from untyped like the image.
  uint64_t ram_lo = ~0ull, ram_hi = 0;
  for (size_t i = 0; i < dt.memory_count; ++i) {
    if (ram[i].base < ram_lo) ram_lo = ram[i].base & ~(kPage - 1);
    if (ram[i].base + ram[i].size > ram_hi) ram_hi = ram[i].base + ram[i].size;
  }
  const uint64_t pages = (ram_hi - ram_lo + kPage - 1) / kPage;
  const uint64_t records_bytes = (pages * sizeof(object::PageInfo) + kPage - 1) & ~(kPage - 1);
  uint64_t records_pa = 0;
  if (!object::place_at_top(ram, dt.memory_count, reserved, nres, records_bytes, &records_pa)) {
    panic("creating init: no room for the page records (%llu KiB)", ull(records_bytes >> 10));
  }
  reserved[nres++] = {records_pa, records_bytes};
  pages_init(records_pa, ram_lo, pages);
  object::UntypedBlock blocks[kMaxBlocks];
  size_t nblocks = object::carve_untyped(ram, dt.memory_count, reserved, nres, 12, blocks, kMaxBlocks);
  if (nblocks == 0) panic("creating init: no free memory");
  if (nblocks > kMaxBlocks) nblocks = kMaxBlocks;  // the rest stays unused (reported below)
  size_t largest = 0;
  uint64_t free_bytes = 0;
  for (size_t i = 0; i < nblocks; ++i) {
    free_bytes += 1ull << blocks[i].size_bits;
    if (blocks[i].size_bits > blocks[largest].size_bits) largest = i;
  }

  // 2. init's root CNode, from the largest block; then every block goes in.
  check(object::insert_original(&g_boot_untyped,
                                Capability{.type = ObjectType::kUntyped,
                                           .rights = abi::kRightsAll,
                                           .size_bits = static_cast<uint8_t>(blocks[largest].size_bits),
                                           .object = blocks[largest].base},
                                mdb_anchor()),
        "the first untyped");
  retype_one(&g_boot_untyped, ObjectType::kCNode, abi::kInitCNodeBits, &g_boot_cnode, "root CNode");
  Slot* cnode = linear<Slot>(g_boot_cnode.cap.object);
  g_init_cnode = cnode;
  check(object::move(&g_boot_cnode, &cnode[slot::kCNode]), "placing the root CNode");
  check(object::move(&g_boot_untyped, &cnode[slot::kFirstUntyped]), "placing the first untyped");
  uint64_t next_ut = slot::kFirstUntyped + 1;
  auto add_untyped = [&](const object::UntypedBlock& b, uint8_t flags) {
    static_assert(slot::kFirstUntyped + slot::kMaxBootUntyped <= (1ull << abi::kInitCNodeBits));
    if (next_ut >= slot::kFirstUntyped + slot::kMaxBootUntyped) return false;
    check(object::insert_original(&cnode[next_ut++],
                                  Capability{.type = ObjectType::kUntyped,
                                             .rights = abi::kRightsAll,
                                             .size_bits = static_cast<uint8_t>(b.size_bits),
                                             .flags = flags,
                                             .object = b.base},
                                  mdb_anchor()),
          "an untyped");
    return true;
  };
  for (size_t i = 0; i < nblocks; ++i) {
    if (i != largest) add_untyped(blocks[i], 0);
  }
  // Device MMIO as device untyped: every device range the DTB names, page
  // rounded and merged, minus what the kernel keeps (DtbInfo::withheld: the
  // interrupt controller with all its frames, MSI frames, the IOMMU),
  // rounded out to whole pages so no page of it is ever handed out. The
  // console UART is among them: the UART server's, once it exists (the
  // kernel keeps writing its own lines there until then).
  object::Region mmio[dtb::kMaxDeviceRanges];
  size_t nmmio = 0;
  for (size_t i = 0; i < dt.device_count && i < dtb::kMaxDeviceRanges; ++i) {
    mmio[nmmio++] = {dt.devices[i].base, dt.devices[i].size};
  }
  object::Region kernel_mmio[dtb::kMaxWithheldRanges];
  size_t nkernel = 0;
  for (size_t i = 0; i < dt.withheld_count; ++i) kernel_mmio[nkernel++] = {dt.withheld[i].base, dt.withheld[i].size};
  object::UntypedBlock dev_blocks[kMaxBlocks];
  uint64_t dev_bytes = 0;
  size_t ndev = object::carve_device_untyped(mmio, &nmmio, kernel_mmio, &nkernel, dev_blocks, kMaxBlocks);
  kprintf("keel: withheld from user space (interrupt controller, MSI frames, IOMMU):");
  for (size_t i = 0; i < nkernel; ++i) {
    kprintf(" [0x%llx, 0x%llx)", ull(kernel_mmio[i].base), ull(kernel_mmio[i].base + kernel_mmio[i].size));
  }
  kprintf("\n");
  for (size_t i = 0; i < ndev && i < kMaxBlocks && add_untyped(dev_blocks[i], object::kFlagDevice); ++i) {
    dev_bytes += 1ull << dev_blocks[i].size_bits;
  }
  check(object::insert_original(&cnode[slot::kIrqControl],
                                Capability{.type = ObjectType::kIrqControl, .rights = abi::kRightsAll}, mdb_anchor()),
        "IRQ control");
  check(object::insert_original(&cnode[slot::kIoControl],
                                Capability{.type = ObjectType::kIoControl, .rights = abi::kRightsAll}, mdb_anchor()),
        "IO control");
  check(object::insert_original(&cnode[slot::kKernelLog],
                                Capability{.type = ObjectType::kKernelLog, .rights = abi::kRightsAll}, mdb_anchor()),
        "kernel log");
  Slot* ut = &cnode[slot::kFirstUntyped];

  // 3. Thread, address space, page tables (contiguous: one bump allocator).
  Slot* th = retype_one(ut, ObjectType::kThread, 0, &cnode[slot::kThread], "thread");
  Slot* as = retype_one(ut, ObjectType::kAddressSpace, 0, &cnode[slot::kAddressSpace], "address space");
  Slot* pts[kInitPageTables];
  for (size_t i = 0; i < kInitPageTables; ++i) pts[i] = &cnode[slot::kFirstPageTable + i];
  check(object::retype(ut, ObjectType::kPageTable, 0, pts, kInitPageTables, object_hooks()), "page tables");
  arm64::PhysWindow window{layout::kLinearMapBase};
  arm64::PageAllocator tables(window, pts[0]->cap.object, pts[0]->cap.object + kInitPageTables * kPage);
  arm64::PageTableBuilder vspace(window, &tables, as->cap.object);
  uint64_t next_frame = slot::kFirstFrame;
  const uint32_t space_id = page_info(as->cap.object)->id;
  auto map_frame = [&](uint64_t va, bool writable, bool executable) -> uint64_t {
    if (next_frame >= slot::kFirstUntyped)
      panic("creating init: more than %d frames", int(slot::kFirstUntyped - slot::kFirstFrame));
    Slot* f = retype_one(ut, ObjectType::kFrame4K, 0, &cnode[next_frame++], "a frame");
    check(vspace.map(va, f->cap.object, kPage,
                     arm64::MapAttrs{.type = arm64::MemType::kNormal,
                                     .writable = writable,
                                     .executable = executable,
                                     .user = true,
                                     .global = false},
                     {.allow_blocks = false}),
          "mapping a frame");
    // Recorded: deleting the capability unmaps it.
    object::MappingRecord{.va = va, .level = 3, .root = as->cap.object, .space_id = space_id}.store(&f->cap);
    return f->cap.object;
  };

  // 4. The init ELF, segment by segment, copied into fresh frames.
  const boot::ManifestModule* mod = nullptr;
  for (uint32_t i = 0; i < bi.module_count; ++i) {
    const char* n = bi.modules[i].name;
    if (n[0] == 'i' && n[1] == 'n' && n[2] == 'i' && n[3] == 't' && n[4] == '\0') mod = &bi.modules[i];
  }
  if (mod == nullptr) panic("the image has no boot module named init");
  const auto* bytes = linear<const uint8_t>(mod->offset);
  Result<elf::File> elf = elf::File::open(bytes, mod->size);
  if (!elf.ok()) panic("init is not a usable ELF: %s", elf::last_error());
  for (size_t i = 0; i < elf.value().segment_count(); ++i) {
    elf::Segment s = elf.value().segment(i);
    if (s.type != elf::kPtLoad || s.mem_size == 0) continue;
    if (s.vaddr >= abi::kUserLimit || s.mem_size > abi::kUserLimit - s.vaddr || (s.vaddr & (kPage - 1)) != 0) {
      panic("init's segment at 0x%llx is not a page-aligned user range", ull(s.vaddr));
    }
    const uint8_t* data = elf.value().segment_data(s);
    for (uint64_t off = 0; off < s.mem_size; off += kPage) {
      uint64_t pa = map_frame(s.vaddr + off, (s.flags & elf::kPfW) != 0, (s.flags & elf::kPfX) != 0);
      auto* dst = linear<uint8_t>(pa);
      // The page's part of the file (the frame is zeroed already). A byte
      // loop here cost about 4 instructions per byte of init's image at
      // every boot; memcpy moves aligned 64-byte runs.
      const uint64_t n = off < s.file_size ? (s.file_size - off < kPage ? s.file_size - off : kPage) : 0;
      __builtin_memcpy(dst, data + off, n);  // (kernel/lib/string.cc: 64 bytes a turn when aligned)
    }
  }
  for (uint64_t va = abi::kUserStackTop - abi::kUserStackSize; va < abi::kUserStackTop; va += kPage) {
    map_frame(va, true, false);
  }
  map_frame(abi::kIpcBufferVa, true, false);

  // 5. The boot-info page (read-only for init) and the boot modules, mapped
  // read-only from the image so init can load programs from them.
  auto* info = linear<abi::InitBootInfo>(map_frame(abi::kInitBootInfoVa, false, false));
  g_boot_info = info;
  info->magic = abi::kInitBootInfoMagic;
  info->cpus_online = 1;
  info->cpu_count = dt.cpu_count;
  info->memory_bytes = dt.memory_bytes();
  for (size_t i = 0; i + 1 < sizeof info->bootargs && dt.bootargs[i] != '\0'; ++i) info->bootargs[i] = dt.bootargs[i];
  static_assert(sizeof info->stdout_path == sizeof dt.stdout_path);
  for (size_t i = 0; i + 1 < sizeof info->stdout_path && dt.stdout_path[i] != '\0'; ++i) {
    info->stdout_path[i] = dt.stdout_path[i];
  }
  for (uint64_t s = slot::kFirstUntyped; s < next_ut && info->untyped_count < 64; ++s) {
    info->untyped[info->untyped_count++] = abi::BootUntyped{s, cnode[s].cap.object, cnode[s].cap.size_bits,
                                                            (cnode[s].cap.flags & object::kFlagDevice) != 0 ? 1u : 0u};
  }
  // The modules one after another, page aligned: the tables they need grow
  // with their total size (one per 2 MiB), not with their number.
  uint64_t module_va = abi::kBootModulesVa;
  for (uint32_t i = 0; i < bi.module_count && i < boot::kMaxModules; ++i) {
    uint64_t pa = bi.modules[i].offset, size = (bi.modules[i].size + kPage - 1) & ~(kPage - 1);
    if (vspace.map(module_va, pa, size, arm64::MapAttrs{.type = arm64::MemType::kNormal, .user = true, .global = false},
                   {.allow_blocks = false}) != Status::kOk) {
      panic("creating init: its %zu page tables cannot map the boot modules (%u of them, %llu KiB up to module '%s')",
            kInitPageTables, bi.module_count,
            static_cast<unsigned long long>((module_va + size - abi::kBootModulesVa) >> 10), bi.modules[i].name);
    }
    abi::BootModule& m = info->modules[info->module_count++];
    for (size_t c = 0; c + 1 < sizeof m.name && bi.modules[i].name[c] != '\0'; ++c) m.name[c] = bi.modules[i].name[c];
    m.va = module_va;
    m.size = bi.modules[i].size;
    module_va += size;
  }
  // The DTB, read-only after the modules (its header's size, whole pages;
  // the pages around an unaligned DTB are reserved with it, never untyped).
  {
    const uint64_t pa = bi.dtb_pa & ~(kPage - 1);
    const uint64_t size = ((bi.dtb_pa + dt.total_size + kPage - 1) & ~(kPage - 1)) - pa;
    if (vspace.map(module_va, pa, size, arm64::MapAttrs{.type = arm64::MemType::kNormal, .user = true, .global = false},
                   {.allow_blocks = false}) != Status::kOk) {
      panic("creating init: its %zu page tables cannot map the DTB after the boot modules", kInitPageTables);
    }
    info->dtb_va = module_va + (bi.dtb_pa - pa);
    info->dtb_size = dt.total_size;
    module_va += size;
  }
  // Every table the builder installed gets its mapping record, like one
  // PageTableMap made: installed once (deleting its capability removes it).
  struct Level {
    uint64_t table, va;
  } stack[kInitPageTables + 1];  // (every entry pushed is a distinct table of the pool)
  size_t depth = 0;
  stack[depth++] = {as->cap.object | 0, 0};  // (level in the low bits of .table)
  while (depth > 0) {
    Level l = stack[--depth];
    const unsigned level = static_cast<unsigned>(l.table & 3);
    const uint64_t* e = linear<uint64_t>(l.table & ~3ull);
    for (uint64_t i = 0; i < kPage / 8; ++i) {
      arm64::Pte pte{e[i]};
      if (level == 3 || !pte.valid() || !pte.table_or_page()) continue;
      const uint64_t child = pte.address(), va = l.va | (i << (39 - 9 * level));
      const uint64_t index = (child - pts[0]->cap.object) / kPage;
      if (child < pts[0]->cap.object || index >= kInitPageTables) panic("creating init: a table not from its pool");
      object::MappingRecord{.va = va, .level = level + 1, .root = as->cap.object, .space_id = space_id}.store(
          &pts[index]->cap);
      page_info(child)->kind = object::PageKind::kInstalledTable;
      if (level + 1 < 3) stack[depth++] = {child | (level + 1), va};
    }
  }

  // The walker must see complete tables before the first user access
  // (Arm ARM D8.2.6: table writes need a DSB before a walk can use them).
  arm64::dsb_ishst();

  // 6. The thread, entering init's _start at EL0 with IRQs (the tick) and
  // SErrors unmasked.
  auto* t = linear<Thread>(th->cap.object);
  t->frame.elr = elf.value().entry();
  t->frame.sp = abi::kUserStackTop;
  t->frame.set_entry_argument(abi::kInitBootInfoVa);
  t->frame.spsr = arm64::Spsr{}.m(arm64::Spsr::kEl0t).d(1).f(1).raw;  // IRQs on: the tick preempts
  t->as_root = as->cap.object;
  check(object::derive(&cnode[slot::kCNode], &t->cspace_slot, abi::kRightsAll, 0), "init's CNode reference");
  check(object::derive(as, &t->vspace_slot, abi::kRightsAll, 0), "init's address space reference");
  t->cspace_slot.cap.flags |= object::kFlagHeld;
  t->vspace_slot.cap.flags |= object::kFlagHeld;
  t->priority = abi::kMaxPriority;
  t->ipc_buffer = abi::kIpcBufferVa;
  set_state(t, ThreadState::kRunnable);
  const char name[] = "init";
  for (size_t i = 0; i < sizeof name; ++i) t->name[i] = name[i];
  kprintf(
      "keel: init: %zu untyped blocks (%llu MiB free), %llu KiB of device MMIO, %llu frames, %llu page tables; "
      "entry 0x%llx\n",
      nblocks, ull(free_bytes >> 20), ull(dev_bytes >> 10), ull(next_frame - slot::kFirstFrame),
      ull((tables.used_end() - pts[0]->cap.object) / kPage), ull(t->frame.elr));
  return t;
}

}  // namespace keel
