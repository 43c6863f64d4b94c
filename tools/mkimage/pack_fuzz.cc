// pack_fuzz — libFuzzer target: the image packer's reading of its two ELF
// inputs (the physical stage and the kernel) and its module list. Input:
// the boot ELF and the kernel ELF back to back (the kernel starts at the
// second ELF magic) — the seed is the real pair. Oracle: the sanitizers,
// and what an image it accepts promises the physical stage: the manifest
// page after the boot stage, with segments inside the image.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "kernel/boot/manifest.h"
#include "tools/mkimage/pack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uint8_t kMagic[4] = {0x7f, 'E', 'L', 'F'};
  size_t split = size;
  for (size_t i = 4; i + 4 <= size; ++i) {
    if (memcmp(data + i, kMagic, 4) == 0) {
      split = i;
      break;
    }
  }
  std::vector<uint8_t> boot(data, data + split), kernel(data + split, data + size);
  std::vector<keel::tools::Module> modules;
  if (size > 0 && (data[size - 1] & 1) != 0) modules.push_back({"init", kernel, true});  // a module, too
  auto img = keel::tools::pack_image(boot, kernel, keel::boot::Inject::kNone, keel::boot::Selftest::kNone, modules);
  if (!img.ok()) return 0;
  // Where the packer says the manifest and the kernel are must be inside the image.
  const std::vector<uint8_t>& im = *img;
  bool found = false;
  for (size_t off = 0; off + sizeof(keel::boot::ImageManifest) <= im.size(); off += 4096) {
    keel::boot::ImageManifest m;
    memcpy(&m, im.data() + off, sizeof m);
    if (m.magic != keel::boot::kManifestMagic) continue;
    found = true;
    if (m.kernel_offset > im.size()) __builtin_trap();
    for (uint32_t i = 0; i < m.module_count && i < keel::boot::kMaxModules; ++i) {
      if (m.modules[i].offset > im.size() || m.modules[i].size > im.size() - m.modules[i].offset) __builtin_trap();
    }
    break;
  }
  if (!found) __builtin_trap();
  return 0;
}
