// relocate.cc — self-relocation of the physical stage (a PIE linked at 0).
//
// Contract: called from head.S with the MMU off, before any C++ code that
// uses an absolute pointer (a pointer in initialized data, a GOT entry). It
// must itself need no relocation: it only uses PC-relative addresses of
// linker symbols (hidden, so never through the GOT).
#include <stdint.h>

namespace {

struct Rela {
  uint64_t offset;
  uint64_t info;
  int64_t addend;
};
static_assert(sizeof(Rela) == 24, "Elf64_Rela");

constexpr uint32_t kRelative = 1027;  // R_AARCH64_RELATIVE

}  // namespace

extern "C" {
__attribute__((visibility("hidden"))) extern Rela __rela_start[];
__attribute__((visibility("hidden"))) extern Rela __rela_end[];

// Relocation types other than RELATIVE found (reported by phys_main once a
// console exists); 0 if none.
__attribute__((visibility("hidden"))) uint64_t g_bad_relocation_info = 0;

void phys_relocate(uint64_t base) {
  for (Rela* r = __rela_start; r < __rela_end; ++r) {
    if ((r->info & 0xffffffff) == kRelative) {
      *reinterpret_cast<volatile uint64_t*>(base + r->offset) = base + static_cast<uint64_t>(r->addend);
    } else if (g_bad_relocation_info == 0) {
      g_bad_relocation_info = r->info;
    }
  }
}
}
