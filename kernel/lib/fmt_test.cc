#include "kernel/lib/fmt.h"

#include <gtest/gtest.h>

#include <string>

namespace keel {
namespace {

#pragma clang diagnostic ignored "-Wformat-security"
#pragma clang diagnostic ignored "-Wformat-nonliteral"

std::string F(const char* fmt, auto... args) {
  char buf[256];
  size_t n = snformat(buf, sizeof buf, fmt, args...);
  EXPECT_EQ(n, std::string(buf).size());
  return buf;
}

TEST(Fmt, Conversions) {
  EXPECT_EQ(F("a%db", -42), "a-42b");
  EXPECT_EQ(F("%u", 4000000000u), "4000000000");
  EXPECT_EQ(F("%lx", 0xffffffff80000000ul), "ffffffff80000000");
  EXPECT_EQ(F("%016llx", 0x1234ull), "0000000000001234");
  EXPECT_EQ(F("%X", 0xabcu), "ABC");
  EXPECT_EQ(F("%s|%-5s|%5s", "x", "ab", "cd"), "x|ab   |   cd");
  EXPECT_EQ(F("%c%%", 'z'), "z%");
  EXPECT_EQ(F("%zu", size_t{77}), "77");
  EXPECT_EQ(F("%p", reinterpret_cast<void*>(0x1000)), "0x1000");
  EXPECT_EQ(F("%s", static_cast<const char*>(nullptr)), "(null)");
}

TEST(Fmt, UnknownConversionIsLiteralAndConsumesNothing) {
  EXPECT_EQ(F("%q %d", 5), "%q 5");
  EXPECT_EQ(F("trailing %"), "trailing %");
}

TEST(Fmt, TruncatesButReportsFullLength) {
  char buf[6];
  size_t n = snformat(buf, sizeof buf, "%s", "abcdefghij");
  EXPECT_EQ(n, 10u);
  EXPECT_STREQ(buf, "abcde");
}

}  // namespace
}  // namespace keel
