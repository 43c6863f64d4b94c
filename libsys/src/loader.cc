#include "keel/loader.h"

#include "keel/sys.h"
#include "kernel/lib/elf/elf.h"

namespace keel::sys {
namespace {

using abi::Error;
using abi::ObjectType;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kStackPages = 4;

Error take_slot(LoadContext& ctx, uint64_t* slot) {
  if (ctx.next_slot >= ctx.slot_limit) return Error::kNotEnoughMemory;
  *slot = ctx.next_slot++;
  return Error::kOk;
}

}  // namespace

// A fresh zeroed frame, filled from src[0..len), mapped at va in `as`.
Error load_page(LoadContext& ctx, uint64_t as, uint64_t va, const uint8_t* src, size_t len, uint64_t flags) {
  uint64_t frame = 0, scratch = 0;
  Error e = take_slot(ctx, &frame);
  if (e == Error::kOk) e = Untyped(ctx.untyped).retype(ObjectType::kFrame4K, 0, frame);
  if (e != Error::kOk) return e;
  if (len > 0) {  // (zero pages need no copy: retype zeroes)
    // Write it through a second capability mapped in our own space; deleting
    // that capability unmaps it again.
    e = take_slot(ctx, &scratch);
    if (e == Error::kOk) e = CNode(ctx.cnode).copy(scratch, frame, abi::kRightRead | abi::kRightWrite);
    if (e == Error::kOk) e = map_with_tables(ctx, scratch, ctx.caller_as, ctx.scratch_va, abi::kMapWrite);
    if (e != Error::kOk) return e;
    // (memcpy: kernel/lib/string.cc, aligned 64-byte runs where it can;
    // the syscall that unmaps the page is a compiler barrier.)
    __builtin_memcpy(reinterpret_cast<void*>(ctx.scratch_va), src, len);
    e = CNode(ctx.cnode).remove(scratch);
    if (e != Error::kOk) return e;
  }
  return map_with_tables(ctx, frame, as, va, flags);
}

Error map_frame(uint64_t frame, uint64_t as, uint64_t va, uint64_t flags, const TableSource& tables) {
  Error e = FrameCap(frame).map(as, va, flags);
  for (unsigned level = 1; e == Error::kNoPageTable && level <= 3; ++level) {
    uint64_t table = 0;
    e = tables.take(tables.ctx, &table);
    if (e != Error::kOk) return e;
    e = PageTableCap(table).map(as, va, level);
    if (e == Error::kOk) {
      if (tables.placed != nullptr) tables.placed(tables.ctx, table, level);
    } else {
      tables.unused(tables.ctx, table);
      if (e != Error::kSlotOccupied) return e;  // (occupied: that level exists already)
    }
    e = FrameCap(frame).map(as, va, flags);
  }
  return e;
}

Error map_with_tables(LoadContext& ctx, uint64_t frame, uint64_t as, uint64_t va, uint64_t flags) {
  const TableSource fresh{
      .take =
          [](void* c, uint64_t* slot) {
            auto& lc = *static_cast<LoadContext*>(c);
            Error e = Error::kNotEnoughMemory;
            if (lc.table_limit != 0) {
              if (lc.next_table < lc.table_limit) *slot = lc.next_table++, e = Error::kOk;
            } else {
              e = take_slot(lc, slot);
            }
            return e == Error::kOk ? Untyped(lc.untyped).retype(ObjectType::kPageTable, 0, *slot) : e;
          },
      .placed = nullptr,
      .unused = [](void* c, uint64_t slot) { (void)CNode(static_cast<LoadContext*>(c)->cnode).remove(slot); },
      .ctx = &ctx};
  return map_frame(frame, as, va, flags, fresh);
}

uint64_t program_pages(const uint8_t* elf_bytes, size_t size) {
  Result<elf::File> f = elf::File::open(elf_bytes, size);
  if (!f.ok()) return 0;
  uint64_t pages = 0;
  for (size_t i = 0; i < f.value().segment_count(); ++i) {
    elf::Segment s = f.value().segment(i);
    if (s.type != elf::kPtLoad || s.mem_size == 0 || s.mem_size > abi::kUserLimit) continue;
    pages += (s.mem_size + (s.vaddr & (kPage - 1)) + kPage - 1) / kPage;
  }
  return pages;
}

Error load_program(LoadContext& ctx, const uint8_t* elf_bytes, size_t size, uint64_t as, LoadedProgram* out) {
  Result<elf::File> f = elf::File::open(elf_bytes, size);
  if (!f.ok()) return Error::kInvalidArgument;
  for (size_t i = 0; i < f.value().segment_count(); ++i) {
    elf::Segment s = f.value().segment(i);
    if (s.type != elf::kPtLoad || s.mem_size == 0) continue;
    if ((s.vaddr & (kPage - 1)) != 0 || s.vaddr >= abi::kUserLimit || s.mem_size > abi::kUserLimit - s.vaddr) {
      return Error::kInvalidArgument;
    }
    uint64_t flags = ((s.flags & elf::kPfW) ? abi::kMapWrite : 0) | ((s.flags & elf::kPfX) ? abi::kMapExecute : 0);
    const uint8_t* data = f.value().segment_data(s);
    for (uint64_t off = 0; off < s.mem_size; off += kPage) {
      size_t len = off < s.file_size ? (s.file_size - off < kPage ? s.file_size - off : kPage) : 0;
      Error e = load_page(ctx, as, s.vaddr + off, data + off, len, flags);
      if (e != Error::kOk) return e;
    }
  }
  for (uint64_t p = 1; p <= kStackPages; ++p) {
    Error e = load_page(ctx, as, abi::kUserStackTop - p * kPage, nullptr, 0, abi::kMapWrite);
    if (e != Error::kOk) return e;
  }
  out->entry = f.value().entry();
  out->stack_top = abi::kUserStackTop;
  return Error::kOk;
}

}  // namespace keel::sys
