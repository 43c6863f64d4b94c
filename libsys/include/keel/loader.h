// loader.h — loading an ELF program into a fresh address space, from user
// space, with nothing but capabilities (the kernel allocates nothing).
//
// Every frame and page table comes from `untyped`; their capabilities go to
// consecutive slots of `cnode` from `next_slot` on (the loader advances it).
// Segment bytes are copied through a scratch page in the caller's own
// address space at `scratch_va` (unmapped again afterwards).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"

namespace keel::sys {

struct LoadContext {
  uint64_t cnode;       // the caller's CNode slot
  uint64_t untyped;     // untyped to retype frames and tables from
  uint64_t caller_as;   // the caller's address space slot
  uint64_t scratch_va;  // a page-aligned VA in the caller's space it may map temporarily
  uint64_t next_slot;   // first free slot for new capabilities (advanced)
  uint64_t slot_limit;  // one past the last slot the loader may use
  // Optional: page tables in their own range [next_table, table_limit)
  // (table_limit = 0: with everything else, from next_slot).
  uint64_t next_table = 0;
  uint64_t table_limit = 0;
};

struct LoadedProgram {
  uint64_t entry = 0;
  uint64_t stack_top = 0;  // a 16 KiB stack below abi::kUserStackTop
};

// Where the page tables a mapping needs come from (map_frame): `take` hands
// out a page-table capability slot; after trying to install it at a level,
// map_frame calls `placed` (it is that level's table now) or `unused` (the
// level existed already, or the install failed).
struct TableSource {
  abi::Error (*take)(void* ctx, uint64_t* slot);
  void (*placed)(void* ctx, uint64_t slot, unsigned level);
  void (*unused)(void* ctx, uint64_t slot);
  void* ctx;
};

// Maps frame capability `frame` at va in address space `as` (flags:
// abi::MapFlags), installing tables from `tables` level by level for as long
// as the kernel answers kNoPageTable.
abi::Error map_frame(uint64_t frame, uint64_t as, uint64_t va, uint64_t flags, const TableSource& tables);

// map_frame with tables retyped from ctx's untyped into ctx's slots (a
// table not needed after all is deleted again; its memory stays used until
// the untyped is revoked).
abi::Error map_with_tables(LoadContext& ctx, uint64_t frame, uint64_t as, uint64_t va, uint64_t flags);

// A fresh zeroed frame from ctx.untyped (its capability in the next
// slot), filled from src[0..len) (len <= 4096) through a scratch mapping
// of the caller's, mapped at va in `as` with flags.
abi::Error load_page(LoadContext& ctx, uint64_t as, uint64_t va, const uint8_t* src, size_t len, uint64_t flags);

// Loads the ELF at elf[0..size) into the address space in slot `as` (which
// may be fresh: tables are created as needed). Returns the first error.
// The pages an ELF's loadable segments take (0 if it is not one keel loads).
uint64_t program_pages(const uint8_t* elf, size_t size);

abi::Error load_program(LoadContext& ctx, const uint8_t* elf, size_t size, uint64_t as, LoadedProgram* out);

}  // namespace keel::sys
