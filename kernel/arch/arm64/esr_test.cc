#include "kernel/arch/arm64/esr.h"

#include <gtest/gtest.h>

#include <string>

namespace keel::arm64 {
namespace {

std::string D(uint64_t esr) {
  char buf[128];
  describe_esr(esr, buf, sizeof buf);
  return buf;
}

TEST(Esr, Aborts) {
  // EC 0x21 instruction abort same EL, IFSC 0x06 = translation fault level 2.
  EXPECT_EQ(D((0x21ull << 26) | (1 << 25) | 0x06), "translation fault, level 2, on instruction fetch");
  // EC 0x25 data abort same EL, WnR, DFSC 0x04 = translation fault level 0.
  EXPECT_EQ(D(0x96000044), "translation fault, level 0, on data write");
  EXPECT_EQ(D(0x96000007), "translation fault, level 3, on data read");
  EXPECT_EQ(D(0x9600004f), "permission fault, level 3, on data write");
  EXPECT_EQ(D(0x9600000b), "access flag fault, level 3, on data read");
  EXPECT_EQ(D(0x96000021), "alignment fault, on data read");
  EXPECT_EQ(D(0x96000002), "address size fault, level 2, on data read");
  EXPECT_EQ(D((0x24ull << 26) | (1 << 8) | 0x05), "translation fault, level 1, on cache maintenance");
}

TEST(Esr, OtherClasses) {
  EXPECT_EQ(esr_ec(0xf2000000 | 0x3e8), ec::kBrk);
  EXPECT_EQ(D(0xf20003e8), "BRK #1000");
  EXPECT_EQ(D(0x56000007), "SVC #7");
  EXPECT_EQ(D(0x02000000), "undefined or unallocated instruction");
  EXPECT_STREQ(exception_class_name(0x25), "data abort, same EL");
  EXPECT_STREQ(exception_class_name(0x3f), "reserved exception class");
  EXPECT_EQ(fault_status_level(0x10), -1);
  EXPECT_STREQ(fault_status_name(0x08), "reserved fault status");
}

TEST(Esr, VectorSlots) {
  EXPECT_STREQ(vector_origin(4), "current EL with SP_ELx");
  EXPECT_STREQ(vector_kind(4), "synchronous");
  EXPECT_STREQ(vector_origin(9), "lower EL, AArch64");
  EXPECT_STREQ(vector_kind(9), "IRQ");
  EXPECT_STREQ(vector_kind(15), "SError");
}

}  // namespace
}  // namespace keel::arm64
