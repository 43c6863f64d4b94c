// qemu_dtb_file.h — host tests only: a DTB QEMU wrote at build time
// (kernel/dtb/BUILD's QEMU_DTBS, in the test's runfiles), by name.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace keel::dtb::testing {

inline std::vector<uint8_t> load_qemu_dtb(const std::string& name) {
  std::ifstream f("kernel/dtb/" + name + ".dtb", std::ios::binary);
  EXPECT_TRUE(f.good()) << "kernel/dtb/" << name << ".dtb (a qemu_dtb in the test's data?)";
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

}  // namespace keel::dtb::testing
