// elf.h — a bounds-checked reader for ELF64 little-endian AArch64 files.
//
// Used by tools/mkimage to pack the kernel (and later by the user-space ELF
// loader). Contract: every accessor checks offsets and sizes against the
// buffer it was given; a malformed file is a Status with a reason, never an
// out-of-bounds read. No allocation.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/lib/status.h"

namespace keel::elf {

constexpr uint16_t kTypeExec = 2;
constexpr uint16_t kTypeDyn = 3;
constexpr uint16_t kMachineAarch64 = 183;
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;

struct Segment {
  uint32_t type;
  uint32_t flags;
  uint64_t offset;
  uint64_t vaddr;
  uint64_t paddr;  // where a loader that ignores virtual addresses (QEMU -kernel) puts it
  uint64_t file_size;
  uint64_t mem_size;
  uint64_t align;
};

class File {
 public:
  // Validates the header and the program/section header tables.
  static Result<File> open(const uint8_t* data, size_t size);

  File() = default;
  uint16_t type() const { return type_; }
  uint64_t entry() const { return entry_; }
  size_t segment_count() const { return phnum_; }
  // i < segment_count(); the segment's file range is checked by open().
  Segment segment(size_t i) const;
  // The bytes of a segment's file image.
  const uint8_t* segment_data(const Segment& s) const { return data_ + s.offset; }
  // Looks a symbol up in .symtab by name.
  Result<uint64_t> symbol(const char* name) const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint16_t type_ = 0;
  uint64_t entry_ = 0;
  uint64_t phoff_ = 0, shoff_ = 0;
  uint16_t phnum_ = 0, shnum_ = 0;
};

// Why the last open() failed (a static string).
const char* last_error();

}  // namespace keel::elf
