// pack.h — building a keel boot image from the two ELF files (the logic of
// tools/mkimage, separate so tests can feed it good and bad inputs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernel/boot/manifest.h"

namespace keel::tools {

// A boot module: a user program's ELF file (or, with elf = false, data such
// as the system description) and the name the kernel knows it by.
struct Module {
  std::string name;
  std::vector<uint8_t> bytes;
  bool elf = true;
};

// Returns the image bytes, or an error naming what is wrong with an input.
absl::StatusOr<std::vector<uint8_t>> pack_image(const std::vector<uint8_t>& boot_bytes,
                                                const std::vector<uint8_t>& kernel_bytes, boot::Inject inject,
                                                boot::Selftest selftest, const std::vector<Module>& modules = {},
                                                uint32_t flags = 0);

}  // namespace keel::tools
