// elf_fuzz — libFuzzer target: the ELF reader on arbitrary bytes (the
// packer and the user-space loader read ELF files they did not write).
// Oracle: the sanitizers — every segment open() accepted is readable in
// full, symbol lookups stay inside the buffer — and segment ranges that do
// not wrap.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <string>

#include "kernel/lib/elf/elf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keel::Result<keel::elf::File> f = keel::elf::File::open(data, size);
  if (!f.ok()) return 0;
  uint64_t sum = 0;
  for (size_t i = 0; i < f.value().segment_count(); ++i) {
    keel::elf::Segment s = f.value().segment(i);
    if (s.offset + s.file_size < s.offset || s.offset + s.file_size > size) __builtin_trap();
    const uint8_t* p = f.value().segment_data(s);
    if (s.file_size > 0) sum += p[0] + p[s.file_size - 1];  // (ASan: the whole range is the buffer's)
  }
  // Names a symbol table could hold, and one made of the input's last bytes.
  (void)f.value().symbol("_start");
  (void)f.value().symbol("__phys_end");
  std::string name(reinterpret_cast<const char*>(data + (size > 16 ? size - 16 : 0)), size > 16 ? 16 : size);
  (void)f.value().symbol(name.c_str());
  return sum == 0xffffffffffffffffull ? 1 : 0;
}
