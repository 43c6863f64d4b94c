// page_table_seed — writes a seed input for page_table_fuzz: real tables
// made by the builder (a user image, a stack, a kernel high half with
// blocks), in the fuzz target's format: TCR, a VA seed, the
// root page index, then the arena (table addresses are arena-relative).
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "kernel/arch/arm64/page_table.h"

int main(int argc, char** argv) {
  using namespace keel::arm64;  // NOLINT(google-build-using-namespace)
  if (argc != 2) return 2;
  constexpr size_t kPages = 8;
  std::vector<uint64_t> backing((kPages + 1) * kPageSize / 8);
  auto base = (reinterpret_cast<uintptr_t>(backing.data()) + kPageSize - 1) & ~(kPageSize - 1);
  PhysWindow window{base};                                     // "physical" 0 .. 8 pages
  PageAllocator alloc(window, kPageSize, kPages * kPageSize);  // (page 0 left out: 0 is "no table" to the builder)
  uint64_t root = alloc.alloc_page().value();
  PageTableBuilder b(window, &alloc, root);
  MapOptions pages{.allow_blocks = false};
  if (b.map(0x400000, 0x4000'0000, 4 * kPageSize, MapAttrs{.executable = true, .user = true, .global = false}, pages) !=
          keel::Status::kOk ||
      b.map(0x600000, 0x4100'0000, 2 * kPageSize, MapAttrs{.writable = true, .user = true, .global = false}, pages) !=
          keel::Status::kOk ||
      b.map(0xffff'ffff'8000'0000, 0x4020'0000, 0x40'0000, MapAttrs{.executable = true}) != keel::Status::kOk) {
    return 1;
  }
  uint64_t header[3] = {1 /* the modelled TCR */, 0x400123, root / kPageSize};
  FILE* f = fopen(argv[1], "wb");
  if (f == nullptr) return 1;
  fwrite(header, sizeof header, 1, f);
  fwrite(reinterpret_cast<void*>(base), kPageSize, kPages, f);
  return fclose(f) == 0 ? 0 : 1;
}
