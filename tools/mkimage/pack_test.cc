// pack_image on the real aarch64 ELFs, and on broken variants of them.
#include "tools/mkimage/pack.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "kernel/boot/layout.h"
#include "kernel/lib/elf/elf.h"

namespace keel::tools {
namespace {

std::vector<uint8_t> Read(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.good()) << p;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

class PackTest : public ::testing::Test {
 protected:
  std::vector<uint8_t> boot_ = Read("kernel/arch/arm64/boot/boot");
  std::vector<uint8_t> kernel_ = Read("kernel/kernel");
};

template <typename T>
T At(const std::vector<uint8_t>& v, size_t off) {
  T t;
  std::memcpy(&t, v.data() + off, sizeof t);
  return t;
}

TEST_F(PackTest, RealImageHasHeaderManifestAndKernel) {
  auto img = pack_image(boot_, kernel_, boot::Inject::kNone, boot::Selftest::kNone);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(At<uint32_t>(*img, boot::kImageHeaderMagicOffset), boot::kImageHeaderMagic);
  uint64_t image_size = At<uint64_t>(*img, boot::kImageHeaderImageSizeOffset);
  EXPECT_GE(image_size, img->size()) << "image_size covers the file and the bss after it";
  EXPECT_EQ(At<uint64_t>(*img, 0x18), 0xau) << "flags: LE, 4K, anywhere";
  Result<elf::File> bootf = elf::File::open(boot_.data(), boot_.size());
  ASSERT_TRUE(bootf.ok());
  uint64_t phys_end = bootf.value().symbol("__phys_end").value();
  auto m = At<boot::ImageManifest>(*img, phys_end);
  EXPECT_EQ(m.magic, boot::kManifestMagic);
  EXPECT_EQ(m.image_size, image_size);
  EXPECT_EQ(m.kernel_vbase, layout::kKernelVirtBase);
  EXPECT_EQ(m.kernel_entry, layout::kKernelVirtBase);
  EXPECT_EQ(m.kernel_vectors % 2048, 0u);
  EXPECT_EQ(m.kernel_stack_top - m.kernel_stack_bottom, layout::kKernelStackSize);
  ASSERT_EQ(m.segment_count, 3u);
  EXPECT_EQ(m.segments[0].flags, boot::kSegR | boot::kSegX);
  EXPECT_EQ(m.segments[1].flags, boot::kSegR);
  EXPECT_EQ(m.segments[2].flags, boot::kSegR | boot::kSegW);
  // The kernel's first instruction sits at kernel_offset in the image.
  Result<elf::File> kf = elf::File::open(kernel_.data(), kernel_.size());
  elf::Segment text = kf.value().segment(0);
  EXPECT_EQ(std::memcmp(img->data() + m.kernel_offset, kf.value().segment_data(text), 64), 0);
}

TEST_F(PackTest, InjectionAndSelftestReachTheManifest) {
  auto img = pack_image(boot_, kernel_, boot::Inject::kConsoleNormal, boot::Selftest::kDataAbort);
  ASSERT_TRUE(img.ok());
  uint64_t phys_end = elf::File::open(boot_.data(), boot_.size()).value().symbol("__phys_end").value();
  auto m = At<boot::ImageManifest>(*img, phys_end);
  EXPECT_EQ(m.inject, boot::Inject::kConsoleNormal);
  EXPECT_EQ(m.selftest, boot::Selftest::kDataAbort);
  EXPECT_EQ(m.flags, 0u) << "the invariant checker is off unless asked for";
  auto checked = pack_image(boot_, kernel_, boot::Inject::kNone, boot::Selftest::kNone, {}, boot::kImageFlagInvariants);
  ASSERT_TRUE(checked.ok());
  EXPECT_EQ(At<boot::ImageManifest>(*checked, phys_end).flags, boot::kImageFlagInvariants);
}

TEST_F(PackTest, SwappedInputsAreRefused) {
  auto img = pack_image(kernel_, boot_, boot::Inject::kNone, boot::Selftest::kNone);
  ASSERT_FALSE(img.ok());
  EXPECT_NE(std::string(img.status().message()).find("PIE"), std::string::npos) << img.status();
}

TEST_F(PackTest, NotAnElfIsRefused) {
  std::vector<uint8_t> junk(100, 0x42);
  auto img = pack_image(boot_, junk, boot::Inject::kNone, boot::Selftest::kNone);
  ASSERT_FALSE(img.ok());
  EXPECT_NE(std::string(img.status().message()).find("bad magic"), std::string::npos) << img.status();
  std::vector<uint8_t> truncated(kernel_.begin(), kernel_.begin() + 200);
  EXPECT_FALSE(pack_image(boot_, truncated, boot::Inject::kNone, boot::Selftest::kNone).ok());
}

TEST_F(PackTest, WritableExecutableKernelSegmentIsRefused) {
  // Set PF_W on the text segment (program header 0, p_flags at +4).
  std::vector<uint8_t> k = kernel_;
  uint64_t phoff = At<uint64_t>(k, 32);
  uint32_t flags = At<uint32_t>(k, phoff + 4) | elf::kPfW;
  std::memcpy(k.data() + phoff + 4, &flags, 4);
  auto img = pack_image(boot_, k, boot::Inject::kNone, boot::Selftest::kNone);
  ASSERT_FALSE(img.ok());
  EXPECT_NE(std::string(img.status().message()).find("writable and executable"), std::string::npos);
}

TEST_F(PackTest, KernelLinkedElsewhereIsRefused) {
  std::vector<uint8_t> k = kernel_;
  uint64_t phoff = At<uint64_t>(k, 32);
  uint64_t vaddr = 0x4000'0000;  // a physical address: the classic mistake
  std::memcpy(k.data() + phoff + 16, &vaddr, 8);
  auto img = pack_image(boot_, k, boot::Inject::kNone, boot::Selftest::kNone);
  ASSERT_FALSE(img.ok());
  EXPECT_NE(std::string(img.status().message()).find("outside the kernel image window"), std::string::npos)
      << img.status();
}

TEST(Elf, SegmentBeyondFileIsRefused) {
  std::vector<uint8_t> k = Read("kernel/kernel");
  uint64_t phoff = At<uint64_t>(k, 32);
  uint64_t filesz = k.size() * 2;
  std::memcpy(k.data() + phoff + 32, &filesz, 8);
  Result<elf::File> f = elf::File::open(k.data(), k.size());
  ASSERT_FALSE(f.ok());
  EXPECT_STREQ(elf::last_error(), "a segment's data lies outside the file");
}

TEST(Elf, SymbolsOfTheRealKernel) {
  std::vector<uint8_t> k = Read("kernel/kernel");
  Result<elf::File> f = elf::File::open(k.data(), k.size());
  ASSERT_TRUE(f.ok()) << elf::last_error();
  EXPECT_EQ(f.value().symbol("kernel_entry").value(), layout::kKernelVirtBase);
  EXPECT_TRUE(f.value().symbol("kernel_main").ok());
  EXPECT_EQ(f.value().symbol("no_such_symbol").status(), Status::kNotFound);
}

}  // namespace
}  // namespace keel::tools
