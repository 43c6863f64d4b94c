// The doctor's pure parts on the host: the RSP framing and decoding, QEMU's
// exception log, and the rules on hand-made translation tables.
#include "tools/doctor/diagnose.h"

#include <gtest/gtest.h>

#include <map>

#include "tools/doctor/rsp.h"

namespace keel::doctor {
namespace {

TEST(Rsp, FramingAndDecoding) {
  EXPECT_EQ(frame_packet("g"), "$g#67");
  EXPECT_EQ(frame_packet("m40080000,8"), "$m40080000,8#5d");
  EXPECT_EQ(decode_le_hex("78563412"), 0x12345678u);
  EXPECT_EQ(decode_le_hex("0010000000000000"), 0x1000u);
  EXPECT_FALSE(decode_le_hex("123").has_value()) << "odd length";
  EXPECT_FALSE(decode_le_hex("E01x").has_value());
  EXPECT_EQ(unescape_binary("a}\x03"
                            "b"),
            "a#b");
}

TEST(Rsp, RegisterNumbersFromTheTargetDescription) {
  std::map<std::string, int> regs;
  std::vector<std::string> includes;
  int next = parse_register_xml(
      "<target><xi:include href=\"aarch64-core.xml\"/><xi:include href=\"system-registers.xml\"/></target>", 0, &regs,
      &includes);
  EXPECT_EQ(next, 0);
  ASSERT_EQ(includes.size(), 2u);
  next = parse_register_xml(
      "<feature><reg name=\"x0\" bitsize=\"64\"/><reg name=\"x1\" bitsize=\"64\"/>"
      "<reg name=\"sp\" bitsize=\"64\" regnum=\"31\"/><reg name=\"pc\" bitsize=\"64\"/></feature>",
      next, &regs, &includes);
  EXPECT_EQ(regs["x1"], 1);
  EXPECT_EQ(regs["pc"], 32) << "numbered on from an explicit regnum";
  parse_register_xml("<feature><reg name=\"SCTLR\" bitsize=\"64\" regnum=\"74\"/></feature>", next, &regs, &includes);
  EXPECT_EQ(regs["SCTLR"], 74);
}

constexpr const char* kStormLog =
    "Taking exception 3 [Prefetch Abort] on CPU 0\n"
    "...from EL1 to EL1\n"
    "...with ESR 0x21/0x86000005\n"
    "...with FAR 0x40080070\n"
    "...with ELR 0x40080070\n"
    "...to EL1 PC 0x40080a00 PSTATE 0x3c5\n"
    "Taking exception 3 [Prefetch Abort] on CPU 0\n"
    "...from EL1 to EL1\n"
    "...with ESR 0x21/0x86000005\n"
    "...with FAR 0x40080a00\n"
    "...with ELR 0x40080a00\n"
    "...to EL1 PC 0x40080a00 PSTATE 0x3c5\n";

void feed(ExceptionLog* log, const std::string& text) {
  size_t at = 0;
  for (size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) log->feed(text.substr(at, nl - at));
}

TEST(ExceptionLog, KeepsTheFirstFaultAndTheLast) {
  ExceptionLog log;
  feed(&log,
       "Taking exception 5 [IRQ] on CPU 0\n...from EL0 to EL1\n...with ELR 0x400100\n...to EL1 PC 0xffff0480 "
       "PSTATE 0x3c5\n");
  // QEMU prints an ESR beside an IRQ too (the register's current value; 0
  // before any synchronous exception): still not a fault.
  feed(&log,
       "Taking exception 5 [IRQ] on CPU 0\n...from EL0 to EL1\n...with ESR 0x0/0x0\n...with ELR 0x40669c\n"
       "...to EL1 PC 0xffffffff80000c80 PSTATE 0x3c5\n");
  feed(&log, kStormLog);
  EXPECT_EQ(log.count(), 4u);
  ASSERT_TRUE(log.first_fault().has_value()) << "an IRQ is not a fault";
  EXPECT_EQ(log.first_fault()->name, "Prefetch Abort");
  EXPECT_EQ(log.first_fault()->esr, 0x86000005u);
  EXPECT_EQ(log.first_fault()->elr, 0x40080070u);
  EXPECT_EQ(log.first_fault()->from_el, 1);
  ASSERT_TRUE(log.last().has_value());
  EXPECT_EQ(log.last()->elr, 0x40080a00u);
  EXPECT_EQ(log.last()->vector_pc, 0x40080a00u);
}

// A machine like QEMU virt with one level-1 table (T0SZ 25) at 0x1000.
struct Machine {
  std::map<uint64_t, uint64_t> mem;
  Snapshot s;
  static constexpr uint64_t kDevice = (1ull << 10) | 0b01;                            // AF, block, AttrIndx 0
  static constexpr uint64_t kNormal = (1ull << 10) | (3ull << 8) | (1u << 2) | 0b01;  // AttrIndx 1
  Machine() {
    s.sctlr = 1;
    s.tcr = 25 | (25ull << 16) | (2ull << 30) | (1ull << 23) | (2ull << 32);  // TG1 4K, EPD1, IPS 40
    s.mair = 0xff00;
    s.ttbr0 = 0x40001000;
    s.vbar = 0x40080800;
    s.sp = 0x40090000;
    s.pc = 0x40080100;
    s.ram = {Range{0x40000000, 0x20000000}};
    s.uart = Range{0x09000000, 0x1000};
    s.read_phys = [this](uint64_t pa, uint64_t* out) {
      auto it = mem.find(pa);
      *out = it == mem.end() ? 0 : it->second;
      return true;
    };
    mem[0x40001000] = 0x00000000 | kDevice;  // 0..1 GiB: Device
    mem[0x40001008] = 0x40000000 | kNormal;  // 1..2 GiB: RAM
  }
  bool has(const Diagnosis& d, const std::string& rule) {
    for (const Finding& f : d.findings) {
      if (f.rule == rule) return true;
    }
    return false;
  }
};

TEST(Diagnose, ACorrectSetupHasNoFindings) {
  Machine m;
  const Diagnosis d = diagnose(m.s);
  EXPECT_TRUE(d.findings.empty()) << d.findings[0].text;
  EXPECT_NE(d.setup.find("0x40000000..0x7fffffff -> 0x40000000 Normal"), std::string::npos) << d.setup;
}

TEST(Diagnose, TheInstructionAfterTheSwitchIsNotMapped) {
  Machine m;
  m.mem.erase(0x40001008);  // no identity map of RAM
  m.s.sctlr_writes = {0x400800fc};
  feed(&m.s.log,
       "Taking exception 3 [Prefetch Abort] on CPU 0\n...from EL1 to EL1\n...with ESR 0x21/0x86000005\n...with FAR "
       "0x40080100\n...with ELR 0x40080100\n...to EL1 PC 0x40080a00 PSTATE 0x3c5\n");
  const Diagnosis d = diagnose(m.s);
  EXPECT_TRUE(m.has(d, "sctlr-next-unmapped"));
  EXPECT_TRUE(m.has(d, "vbar-unmapped"));
  EXPECT_NE(d.first_fault.find("translation fault, level 1"), std::string::npos) << d.first_fault;
}

TEST(Diagnose, RulesOnRegistersAndAttributes) {
  Machine m;
  m.mem[0x40001000] = 0x00000000 | Machine::kNormal;    // the UART as Normal memory
  m.s.tcr = (m.s.tcr & ~(3ull << 30)) & ~(1ull << 23);  // TG1 = 0b00, TTBR1 walks on
  m.s.ttbr1 = m.s.ttbr0;
  m.s.vbar = 0;
  const Diagnosis d = diagnose(m.s);
  EXPECT_TRUE(m.has(d, "device-normal"));
  EXPECT_TRUE(m.has(d, "tcr-tg1-reserved"));
  EXPECT_TRUE(m.has(d, "ttbr-same"));
  EXPECT_TRUE(m.has(d, "vbar-unset"));
  // Another device from the DTB (a GIC distributor) in a Normal block.
  Machine g;
  g.s.devices = {Range{0x08000000, 0x10000}};
  g.mem[0x40001000] = 0x00000000 | Machine::kNormal;
  g.s.uart = Range{};
  const Diagnosis gd = diagnose(g.s);
  ASSERT_TRUE(g.has(gd, "device-normal"));
  EXPECT_NE(gd.findings[0].text.find("1 other device(s) from the DTB (at PA 0x8000000)"), std::string::npos)
      << gd.findings[0].text;
  Machine u;
  u.mem.erase(0x40001000);  // the UART unmapped, its PA still in x19
  u.s.x[19] = 0x09000000;
  EXPECT_TRUE(u.has(diagnose(u.s), "pointer-physical"));
  Machine t;
  t.s.ttbr0 = 0x40002000;  // an empty page
  EXPECT_TRUE(t.has(diagnose(t.s), "ttbr-empty-table"));
  t.s.ttbr0 = 0x40001800;  // misaligned
  EXPECT_TRUE(t.has(diagnose(t.s), "ttbr-unaligned"));
}

}  // namespace
}  // namespace keel::doctor
