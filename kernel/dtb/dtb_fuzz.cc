// dtb_fuzz — libFuzzer target: the DTB parser on arbitrary bytes (it reads
// whatever a bootloader hands the kernel). Oracle: the sanitizers (no read
// outside the blob, no undefined behaviour) and what a successful parse
// promises: counts within their arrays, sizes that do not wrap.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "kernel/dtb/dtb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint64_t> aligned((size + 7) / 8 + 1);  // the kernel's DTB is 8-byte aligned
  if (size > 0) memcpy(aligned.data(), data, size);
  keel::dtb::DtbInfo info{};
  if (keel::dtb::parse_dtb(aligned.data(), size, &info) != keel::Status::kOk) return 0;
  if (info.memory_count > keel::dtb::kMaxMemoryRanges || info.reserved_count > keel::dtb::kMaxReservedRanges) {
    __builtin_trap();
  }
  for (size_t i = 0; i < info.memory_count; ++i) {
    if (info.memory[i].size == 0 || info.memory[i].base + info.memory[i].size < info.memory[i].base) __builtin_trap();
  }
  return 0;
}
