// The doctor's pure parts on the host: the RSP framing and decoding, QEMU's
// exception log, and the rules on hand-made translation tables.
#include "tools/doctor/diagnose.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_format.h"
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
  static std::string text_of(const Diagnosis& d, const std::string& rule) {
    for (const Finding& f : d.findings) {
      if (f.rule == rule) return f.text;
    }
    return "";
  }
  bool has_note(const Diagnosis& d, const std::string& rule) {
    for (const Finding& f : d.notes) {
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

// A data abort at `far` (from EL1), as QEMU logs it.
std::string data_abort(uint64_t far, uint64_t elr) {
  return absl::StrFormat(
      "Taking exception 4 [Data Abort] on CPU 0\n...from EL1 to EL1\n...with ESR 0x25/0x96000045\n...with FAR "
      "0x%x\n...with ELR 0x%x\n...to EL1 PC 0x40080a00 PSTATE 0x3c5\n",
      far, elr);
}

TEST(Diagnose, WithoutEvidenceTheyAreNotes) {
  Machine m;
  m.mem[0x40001000] = 0x00000000 | Machine::kNormal;    // the UART as Normal memory
  m.s.tcr = (m.s.tcr & ~(3ull << 30)) & ~(1ull << 23);  // TG1 = 0b00, TTBR1 walks on
  m.s.ttbr1 = m.s.ttbr0;
  m.s.vbar = 0;
  const Diagnosis d = diagnose(m.s);
  EXPECT_TRUE(d.findings.empty()) << "nothing faulted: " << d.findings[0].rule;
  for (const char* rule : {"device-normal", "tcr-tg1-reserved", "ttbr-same", "vbar-unset"}) {
    EXPECT_TRUE(m.has_note(d, rule)) << rule;
  }
  // Another device from the DTB (a GIC distributor) in a Normal block.
  Machine g;
  g.s.devices = {Range{0x08000000, 0x10000}};
  g.mem[0x40001000] = 0x00000000 | Machine::kNormal;
  g.s.uart = Range{};
  const Diagnosis gd = diagnose(g.s);
  ASSERT_TRUE(g.has_note(gd, "device-normal"));
  EXPECT_NE(gd.notes[0].text.find("1 other device(s) from the DTB (at PA 0x8000000)"), std::string::npos)
      << gd.notes[0].text;
  // A healthy kernel idling without a stack (SP = 0): a note, not a problem.
  Machine idle;
  idle.s.sp = 0;
  const Diagnosis id = diagnose(idle.s);
  EXPECT_TRUE(id.findings.empty()) << id.findings[0].text;
  EXPECT_TRUE(idle.has_note(id, "stack-unmapped"));
  // TTBR0 parked on an empty table while the kernel runs in the high half (Linux).
  Machine parked;
  parked.s.ttbr0 = 0x40002000;  // an empty page
  parked.s.tcr &= ~(1ull << 23);
  parked.s.ttbr1 = 0x40001000;
  parked.s.pc = 0xffffff8040080100ull;
  parked.s.vbar = 0xffffff8040080800ull;
  parked.s.sp = 0xffffff8040090000ull;
  const Diagnosis pd = diagnose(parked.s);
  EXPECT_TRUE(pd.findings.empty()) << pd.findings[0].text;
  EXPECT_TRUE(parked.has_note(pd, "ttbr-empty-table"));
}

TEST(Diagnose, WithEvidenceTheyAreProblems) {
  Machine u;
  u.mem.erase(0x40001000);  // the UART unmapped, its PA still in x19 ...
  u.s.x[19] = 0x09000000;
  EXPECT_TRUE(u.has_note(diagnose(u.s), "pointer-physical"));
  feed(&u.s.log, data_abort(0x09000000, 0x40080094));  // ... and a store to it faulted
  EXPECT_TRUE(u.has(diagnose(u.s), "pointer-physical"));
  Machine t;
  t.s.ttbr0 = 0x40002000;  // an empty page, and the kernel faulted in that half
  feed(&t.s.log, data_abort(0x40085000, 0x40080094));
  EXPECT_TRUE(t.has(diagnose(t.s), "ttbr-empty-table"));
  t.s.ttbr0 = 0x40001800;  // misaligned
  EXPECT_TRUE(t.has(diagnose(t.s), "ttbr-unaligned"));
  Machine st;
  st.s.sp = 0x80090000;  // unmapped, and the first fault is a push there
  feed(&st.s.log, data_abort(0x8008fff0, 0x40080090));
  const Diagnosis sd = diagnose(st.s);
  EXPECT_TRUE(st.has(sd, "stack-unmapped"));
  Machine v;
  v.s.vbar = 0;
  feed(&v.s.log,
       "Taking exception 1 [Undefined Instruction] on CPU 0\n...from EL1 to EL1\n...with ESR 0x0/0x2000000\n"
       "...with ELR 0x40080100\n...to EL1 PC 0x200 PSTATE 0x3c5\n");
  EXPECT_TRUE(v.has(diagnose(v.s), "vbar-unset"));
}

// Tables built for 4 KiB granules, TCR selecting another: the rule names
// the field, its value and the one that would work.
TEST(Diagnose, GranuleMismatchNamesTheField) {
  Machine m;                                           // TTBR0: one 4 KiB-layout level-1 table (T0SZ 25)
  m.s.tcr = (m.s.tcr & ~(3ull << 14)) | (1ull << 14);  // TG0 = 0b01: 64 KiB
  feed(&m.s.log,
       "Taking exception 3 [Prefetch Abort] on CPU 0\n...from EL1 to EL1\n...with ESR 0x21/0x86000006\n...with FAR "
       "0x40080100\n...with ELR 0x40080100\n...to EL1 PC 0x40080a00 PSTATE 0x3c5\n");
  Diagnosis d = diagnose(m.s);
  ASSERT_TRUE(m.has(d, "granule-mismatch")) << (d.findings.empty() ? "none" : d.findings[0].rule);
  EXPECT_NE(Machine::text_of(d, "granule-mismatch")
                .find("TCR_EL1.TG0 = 0b01 (64 KiB) but the table at TTBR0_EL1 is laid out for 4 KiB granules: with "
                      "TG0 = 0b00 the PC 0x40080100 would be mapped"),
            std::string::npos)
      << Machine::text_of(d, "granule-mismatch");
  EXPECT_FALSE(m.has(d, "ttbr-unaligned")) << "its TTBR's alignment was judged under the wrong granule";
  EXPECT_FALSE(m.has(d, "pc-unmapped")) << "the mismatch explains it";
  // The high half: TG1 = 0b11 (64 KiB) over a 4 KiB layout; TG1's 4 KiB is 0b10.
  Machine h;
  h.s.tcr = 25 | (25ull << 16) | (3ull << 30) | (1ull << 7) | (2ull << 32);  // EPD0, TG1 64 KiB
  h.s.ttbr1 = 0x40001000;
  h.s.pc = 0xffffff8040080100ull;
  h.s.vbar = 0xffffff8040080800ull;
  h.s.sp = 0xffffff8040090000ull;
  feed(&h.s.log,
       "Taking exception 3 [Prefetch Abort] on CPU 0\n...from EL1 to EL1\n...with ESR 0x21/0x86000006\n...with FAR "
       "0xffffff8040080100\n...with ELR 0xffffff8040080100\n...to EL1 PC 0xffffff8040080a00 PSTATE 0x3c5\n");
  d = diagnose(h.s);
  ASSERT_TRUE(h.has(d, "granule-mismatch"));
  EXPECT_NE(Machine::text_of(d, "granule-mismatch")
                .find("TCR_EL1.TG1 = 0b11 (64 KiB) but the table at TTBR1_EL1 is laid out for 4 KiB granules: with "
                      "TG1 = 0b10"),
            std::string::npos)
      << Machine::text_of(d, "granule-mismatch");
  // Tables really laid out for 64 KiB, TG0 = 64 KiB: nothing to say.
  Machine k;
  k.mem.clear();
  k.s.tcr = 25 | (1ull << 14) | (1ull << 23) | (2ull << 32);  // T0SZ 25, TG0 64 KiB, EPD1
  k.s.ttbr0 = 0x40010000;
  k.mem[0x40010000 + 8 * 2] = 0x40000000 | Machine::kNormal;  // L2[2]: 512 MiB at 1 GiB
  k.mem[0x40010000 + 8 * 0] = 0x00000000 | Machine::kDevice;  // L2[0]: the UART's 512 MiB
  const Diagnosis kd = diagnose(k.s);
  EXPECT_TRUE(kd.findings.empty()) << kd.findings[0].text;
  EXPECT_NE(kd.setup.find("0x40000000..0x5fffffff -> 0x40000000 Normal"), std::string::npos) << kd.setup;
}

}  // namespace
}  // namespace keel::doctor
