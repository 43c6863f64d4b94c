#include "kernel/lib/elf/elf.h"

namespace keel::elf {
namespace {

const char* g_last_error = "";

uint64_t rd(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

bool in_bounds(size_t size, uint64_t off, uint64_t len) { return off <= size && size - off >= len; }

Status fail(const char* why) {
  g_last_error = why;
  return Status::kMalformed;
}

constexpr uint64_t kEhdrSize = 64, kPhdrSize = 56, kShdrSize = 64;
constexpr uint32_t kShtSymtab = 2;

}  // namespace

const char* last_error() { return g_last_error; }

Result<File> File::open(const uint8_t* data, size_t size) {
  g_last_error = "";
  if (size < kEhdrSize) return fail("shorter than an ELF header");
  if (data[0] != 0x7f || data[1] != 'E' || data[2] != 'L' || data[3] != 'F') return fail("not an ELF file (bad magic)");
  if (data[4] != 2) return fail("not ELF64");
  if (data[5] != 1) return fail("not little-endian");
  File f;
  f.data_ = data;
  f.size_ = size;
  f.type_ = static_cast<uint16_t>(rd(data + 16, 2));
  if (rd(data + 18, 2) != kMachineAarch64) return fail("not an AArch64 ELF");
  if (f.type_ != kTypeExec && f.type_ != kTypeDyn) return fail("neither an executable nor a PIE");
  f.entry_ = rd(data + 24, 8);
  f.phoff_ = rd(data + 32, 8);
  f.shoff_ = rd(data + 40, 8);
  if (rd(data + 54, 2) != kPhdrSize) return fail("unexpected program header size");
  f.phnum_ = static_cast<uint16_t>(rd(data + 56, 2));
  uint64_t shentsize = rd(data + 58, 2);
  f.shnum_ = static_cast<uint16_t>(rd(data + 60, 2));
  if (!in_bounds(size, f.phoff_, uint64_t{f.phnum_} * kPhdrSize)) return fail("program headers outside the file");
  if (f.shnum_ != 0 && (shentsize != kShdrSize || !in_bounds(size, f.shoff_, uint64_t{f.shnum_} * kShdrSize))) {
    return fail("section headers outside the file");
  }
  for (size_t i = 0; i < f.phnum_; ++i) {
    Segment s = f.segment(i);
    // Every segment's data, loadable or not (segment_data() is offered for
    // all of them; found by elf_fuzz: a PT_NOTE pointing past the end).
    if (!in_bounds(size, s.offset, s.file_size)) return fail("a segment's data lies outside the file");
    if (s.type != kPtLoad) continue;
    if (s.file_size > s.mem_size) return fail("a segment's file size exceeds its memory size");
    if (s.vaddr + s.mem_size < s.vaddr) return fail("a segment wraps the address space");
  }
  return f;
}

Segment File::segment(size_t i) const {
  const uint8_t* p = data_ + phoff_ + i * kPhdrSize;
  return Segment{static_cast<uint32_t>(rd(p, 4)),
                 static_cast<uint32_t>(rd(p + 4, 4)),
                 rd(p + 8, 8),
                 rd(p + 16, 8),
                 rd(p + 24, 8),
                 rd(p + 32, 8),
                 rd(p + 40, 8),
                 rd(p + 48, 8)};
}

Result<uint64_t> File::symbol(const char* name) const {
  for (size_t i = 0; i < shnum_; ++i) {
    const uint8_t* sh = data_ + shoff_ + i * kShdrSize;
    if (rd(sh + 4, 4) != kShtSymtab) continue;
    uint64_t off = rd(sh + 24, 8), sz = rd(sh + 32, 8), link = rd(sh + 40, 4), entsize = rd(sh + 56, 8);
    if (entsize != 24 || !in_bounds(size_, off, sz) || link >= shnum_) return Status::kMalformed;
    const uint8_t* strsh = data_ + shoff_ + link * kShdrSize;
    uint64_t stroff = rd(strsh + 24, 8), strsz = rd(strsh + 32, 8);
    if (!in_bounds(size_, stroff, strsz)) return Status::kMalformed;
    for (uint64_t e = 0; e + 24 <= sz; e += 24) {
      const uint8_t* sym = data_ + off + e;
      uint64_t n = rd(sym, 4);
      if (n >= strsz) continue;
      const char* s = reinterpret_cast<const char*>(data_ + stroff + n);
      size_t k = 0;
      while (n + k < strsz && s[k] == name[k] && name[k] != '\0') ++k;
      if (n + k < strsz && name[k] == '\0' && s[k] == '\0') return rd(sym + 8, 8);
    }
  }
  return Status::kNotFound;
}

}  // namespace keel::elf
