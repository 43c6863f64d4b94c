#include "tools/doctor/diagnose.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kernel/arch/arm64/esr.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/pte.h"
#include "kernel/arch/arm64/regs.h"

namespace keel::doctor {

using arm64::Pte;
using arm64::TcrEl1;
using arm64::Translation;
using arm64::TranslationRegime;
using arm64::WalkFault;

// ---- QEMU's exception log ----------------------------------------------------
//
// QEMU 7.2 `-d int` writes, per exception:
//   Taking exception 4 [Data Abort] on CPU 0
//   ...from EL1 to EL1
//   ...with ESR 0x25/0x96000045
//   ...with FAR 0x9000000
//   ...with ELR 0x40080094
//   ...to EL1 PC 0x40080a00 PSTATE 0x3c5

namespace {

std::optional<uint64_t> hex_after(const std::string& line, const std::string& key) {
  size_t at = line.find(key);
  if (at == std::string::npos) return std::nullopt;
  at += key.size();
  if (line.compare(at, 2, "0x") == 0) at += 2;
  size_t end = at;
  while (end < line.size() && isxdigit(static_cast<unsigned char>(line[end]))) ++end;
  uint64_t v = 0;
  if (end == at || !absl::SimpleHexAtoi(line.substr(at, end - at), &v)) return std::nullopt;
  return v;
}

bool is_fault(const LoggedException& e) {
  // An interrupt is never a fault, whatever ESR QEMU prints beside it (it
  // logs the register's current value: a stale syndrome, or 0 at reset,
  // which would read as EC 0x00, "unknown reason").
  if (e.name == "IRQ" || e.name == "FIQ" || e.name == "vIRQ" || e.name == "vFIQ") return false;
  if (!e.has_esr) return false;  // no syndrome: nothing to decode
  const uint32_t ec = arm64::esr_ec(e.esr);
  return ec != 0x15 && ec != 0x16 && ec != 0x17;  // SVC, HVC, SMC are requests, not faults
}

}  // namespace

void ExceptionLog::finish() {
  if (!current_) return;
  if (!first_fault_ && is_fault(*current_)) first_fault_ = current_;
  last_ = current_;
  current_.reset();
}

void ExceptionLog::feed(const std::string& line) {
  if (absl::StartsWith(line, "Taking exception ")) {
    finish();
    ++count_;
    LoggedException e;
    size_t open = line.find('['), close = line.find(']');
    if (open != std::string::npos && close != std::string::npos && close > open) {
      e.name = line.substr(open + 1, close - open - 1);
    }
    current_ = e;
    return;
  }
  if (!current_ || !absl::StartsWith(line, "...")) return;
  if (absl::StartsWith(line, "...from EL")) {
    int from = -1, to = -1;
    if (sscanf(line.c_str(), "...from EL%d to EL%d", &from, &to) == 2) current_->from_el = from, current_->to_el = to;
  } else if (absl::StartsWith(line, "...with ESR ")) {
    // "0x25/0x96000045": the EC, then the whole syndrome.
    size_t slash = line.find('/');
    if (auto v = slash != std::string::npos ? hex_after(line.substr(slash + 1), "") : std::nullopt) {
      current_->has_esr = true;
      current_->esr = *v;
    }
  } else if (auto far = hex_after(line, "...with FAR ")) {
    current_->has_far = true;
    current_->far = *far;
  } else if (auto elr = hex_after(line, "...with ELR ")) {
    current_->elr = *elr;
  } else if (auto pc = hex_after(line, " PC ")) {
    current_->vector_pc = *pc;
    finish();
  }
}

// ---- translation ------------------------------------------------------------

namespace {

struct Walker {
  const Snapshot& s;
  TranslationRegime regime;

  static bool read(void* ctx, uint64_t pa, uint64_t* out) {
    return static_cast<const Walker*>(ctx)->s.read_phys(pa, out);
  }
  Translation translate(uint64_t va) const {
    return arm64::translate_with(regime, read, const_cast<Walker*>(this), va);
  }
  uint8_t attr(const Translation& t) const {
    return static_cast<uint8_t>((s.mair >> (8 * t.leaf.attr_index())) & 0xff);
  }
  // Device memory: MAIR attribute 0b0000dd00 (D8.5.5).
  bool device(const Translation& t) const { return (attr(t) & 0xf0) == 0; }
  bool executable(const Translation& t) const { return !t.pxn && !device(t); }
  const char* half(uint64_t va) const { return (va >> 63) != 0 ? "TTBR1" : "TTBR0"; }
};

std::string hex(uint64_t v) { return absl::StrFormat("0x%x", v); }

std::string fault_words(const Translation& t) {
  switch (t.fault) {
    case WalkFault::kTranslation: return absl::StrFormat("translation fault at level %u", t.level);
    case WalkFault::kAddressSize: return absl::StrFormat("address size fault at level %u", t.level);
    case WalkFault::kAccessFlag: return absl::StrFormat("access flag fault at level %u", t.level);
    case WalkFault::kUnreadable: return absl::StrFormat("its level-%u table is not readable memory", t.level);
    case WalkFault::kUnsupported: return "a TCR configuration the doctor's walker does not model (only 4 KiB granules)";
    case WalkFault::kNone: return "mapped";
  }
  return "?";
}

// One leaf mapping found by scanning a table tree.
struct Leaf {
  uint64_t va, pa, size;
  uint8_t attr_index;
  bool pxn;
};

// Every valid leaf under a root (at most `limit`), for the setup summary
// and for finding where a physical address is mapped.
void scan(const Snapshot& s, uint64_t table_pa, unsigned level, uint64_t va_base, unsigned va_bits, bool high,
          std::vector<Leaf>* out, size_t limit) {
  const unsigned shift = 12 + 9 * (3 - level);
  const unsigned entries_bits = std::min(9u, va_bits - shift);
  for (uint64_t i = 0; i < (1ull << entries_bits) && out->size() < limit; ++i) {
    uint64_t raw = 0;
    if (!s.read_phys(table_pa + 8 * i, &raw)) return;
    Pte e{raw};
    if (!e.valid()) continue;
    uint64_t va = va_base + (i << shift);
    if (high) va |= ~((1ull << va_bits) - 1);
    if (level < 3 && e.table_or_page()) {
      if (level < 3) scan(s, e.address(), level + 1, va_base + (i << shift), va_bits, high, out, limit);
      continue;
    }
    if (level == 0 || (level == 3 && !e.table_or_page())) continue;  // reserved encodings
    out->push_back(Leaf{va, level == 3 ? e.address() : e.block_address(level), 1ull << shift,
                        static_cast<uint8_t>(e.attr_index()), e.pxn() != 0});
  }
}

std::vector<Leaf> coalesce(const std::vector<Leaf>& leaves) {
  std::vector<Leaf> out;
  for (const Leaf& l : leaves) {
    if (!out.empty()) {
      Leaf& p = out.back();
      if (p.va + p.size == l.va && p.pa + p.size == l.pa && p.attr_index == l.attr_index && p.pxn == l.pxn) {
        p.size += l.size;
        continue;
      }
    }
    out.push_back(l);
  }
  return out;
}

unsigned start_level(unsigned va_bits) { return va_bits > 39 ? 0 : va_bits > 30 ? 1 : 2; }

}  // namespace

// ---- the rules ----------------------------------------------------------------

Diagnosis diagnose(const Snapshot& s) {
  Diagnosis d;
  auto add = [&](const char* rule, std::string text) { d.findings.push_back(Finding{rule, std::move(text)}); };
  auto named = [&](uint64_t a) {
    std::string n = s.symbol ? s.symbol(a) : "";
    return n.empty() ? hex(a) : absl::StrCat(hex(a), " (", n, ")");
  };
  const TcrEl1 tcr{s.tcr};
  const bool mmu_on = (s.sctlr & 1) != 0;
  // The tables matter if the MMU is on, or was when the first fault came
  // (an abort: a kernel's panic path may have turned it off since).
  const auto& first = s.log.first_fault();
  const uint32_t first_ec = first ? arm64::esr_ec(first->esr) : 0;
  const bool tables = mmu_on || (first && first_ec >= 0x20 && first_ec <= 0x25);
  const unsigned t0sz = static_cast<unsigned>(tcr.t0sz()), t1sz = static_cast<unsigned>(tcr.t1sz());
  const bool walks0 = tcr.epd0() == 0, walks1 = s.has_ttbr1 && tcr.epd1() == 0;
  Walker w{s, TranslationRegime{}};
  w.regime.ttbr0 = s.ttbr0;
  w.regime.ttbr1 = s.ttbr1;
  w.regime.tcr = tcr;
  const char* el = s.el == 2 ? "EL2" : "EL1";

  // The first fault, decoded: the cause; a storm after it only hides it.
  const auto& ff = s.log.first_fault();
  if (ff) {
    char meaning[128];
    arm64::describe_esr(ff->esr, meaning, sizeof meaning);
    d.first_fault = absl::StrFormat("%s from EL%d to EL%d: %s (EC 0x%02x, ISS 0x%x)%s, at ELR %s", ff->name,
                                    ff->from_el, ff->to_el, meaning, arm64::esr_ec(ff->esr), ff->esr & 0x1ffffff,
                                    ff->has_far ? absl::StrCat(", FAR ", hex(ff->far)) : "", named(ff->elr));
  }

  // TCR: encodings first — a reserved value makes the rest guesswork.
  if (static_cast<uint64_t>(tcr.tg0()) == 0b11) {
    add("tcr-tg0-reserved",
        absl::StrFormat("TCR_%s.TG0 = 0b11 is a reserved encoding (4 KiB is 0b00, 64 KiB 0b01, 16 KiB 0b10)", el));
  }
  if (s.has_ttbr1 && static_cast<uint64_t>(tcr.tg1()) == 0b00) {
    add("tcr-tg1-reserved",
        absl::StrFormat("TCR_%s.TG1 = 0b00 is a reserved encoding: TG1 numbers granules differently from TG0 "
                        "(4 KiB is 0b10 in TG1, 0b00 in TG0); TCR_%s = %s",
                        el, el, hex(s.tcr)));
  }
  if (walks0 && (t0sz < 16 || t0sz > 39))
    add("tcr-t0sz", absl::StrFormat("TCR_%s.T0SZ = %u: with 4 KiB granules it must be 16..39", el, t0sz));
  if (walks1 && (t1sz < 16 || t1sz > 39))
    add("tcr-t1sz", absl::StrFormat("TCR_%s.T1SZ = %u: with 4 KiB granules it must be 16..39", el, t1sz));
  if (tcr.ips() > 6)
    add("tcr-ips", absl::StrFormat("TCR_%s.IPS = %u is reserved", el, static_cast<unsigned>(tcr.ips())));
  const unsigned pa_bits = std::array<unsigned, 8>{32, 36, 40, 42, 44, 48, 52, 0}[tcr.ips() & 7];

  // TTBRs: where the tables are, and whether they look like tables.
  auto check_ttbr = [&](const char* name, uint64_t ttbr, unsigned txsz) {
    const uint64_t base = ttbr & 0x0000fffffffffffeull;
    const unsigned va_bits = 64 - txsz;
    const unsigned lvl = start_level(va_bits);
    const uint64_t entries = 1ull << std::min(9u, va_bits - (12 + 9 * (3 - lvl)));
    const uint64_t table_bytes = std::max<uint64_t>(64, entries * 8);
    if ((base & (table_bytes - 1)) != 0) {
      add("ttbr-unaligned",
          absl::StrFormat("%s = %s is not aligned to its %u-byte level-%u table", name, hex(ttbr), table_bytes, lvl));
    }
    if (pa_bits != 0 && pa_bits < 64 && (base >> pa_bits) != 0) {
      add("ttbr-beyond-ips",
          absl::StrFormat("%s = %s is beyond the %u-bit physical range TCR.IPS allows", name, hex(ttbr), pa_bits));
    }
    bool in_ram = s.ram.empty();
    for (const Range& r : s.ram) in_ram |= r.contains(base);
    if (!in_ram) {
      add("ttbr-not-ram",
          absl::StrFormat(
              "%s = %s is not in RAM (%s): the table cannot be there", name, hex(ttbr),
              s.ram.empty() ? "" : absl::StrFormat("%s..%s", hex(s.ram[0].base), hex(s.ram[0].base + s.ram[0].size))));
      return;
    }
    unsigned valid = 0;
    for (uint64_t i = 0; i < entries; ++i) {
      uint64_t raw = 0;
      if (s.read_phys(base + 8 * i, &raw) && Pte{raw}.valid()) ++valid;
    }
    if (valid == 0) {
      add("ttbr-empty-table",
          absl::StrFormat("%s = %s points at a table with no valid entry: every walk through it faults. Is the table "
                          "where %s points (filled at another address, or %s written with the wrong address)?",
                          name, hex(ttbr), name, name));
    }
  };
  if (tables && walks0) check_ttbr(s.el == 2 ? "TTBR0_EL2" : "TTBR0_EL1", s.ttbr0, t0sz);
  if (tables && walks1) check_ttbr("TTBR1_EL1", s.ttbr1, t1sz);
  if (tables && walks0 && walks1 && (s.ttbr0 & 0x0000fffffffff000ull) == (s.ttbr1 & 0x0000fffffffff000ull)) {
    add("ttbr-same",
        absl::StrFormat("TTBR0_EL1 and TTBR1_EL1 both point at %s: the low and the high half share one table, so "
                        "every address is mapped twice (usually TTBR1 was meant to get the kernel's own table)",
                        hex(s.ttbr0 & 0x0000fffffffff000ull)));
  }

  // What the tables map (for the summary and for reverse lookups).
  std::vector<Leaf> leaves0, leaves1;
  if (tables && walks0 && t0sz >= 16 && t0sz <= 39 && static_cast<uint64_t>(tcr.tg0()) == 0) {
    scan(s, s.ttbr0 & 0x0000fffffffff000ull, start_level(64 - t0sz), 0, 64 - t0sz, false, &leaves0, 4096);
  }
  if (tables && walks1 && t1sz >= 16 && t1sz <= 39 && static_cast<uint64_t>(tcr.tg1()) == 0b10) {
    scan(s, s.ttbr1 & 0x0000fffffffff000ull, start_level(64 - t1sz), 0, 64 - t1sz, true, &leaves1, 4096);
  }
  leaves0 = coalesce(leaves0);
  leaves1 = coalesce(leaves1);
  auto where_mapped = [&](uint64_t pa) -> std::string {
    for (const auto* set : {&leaves0, &leaves1}) {
      for (const Leaf& l : *set) {
        if (pa >= l.pa && pa - l.pa < l.size) return hex(l.va + (pa - l.pa));
      }
    }
    return "";
  };
  auto describe_ranges = [&](const std::vector<Leaf>& ls) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < ls.size() && i < 6; ++i) {
      const uint8_t a = static_cast<uint8_t>((s.mair >> (8 * ls[i].attr_index)) & 0xff);
      parts.push_back(absl::StrFormat("%s..%s -> %s %s%s", hex(ls[i].va), hex(ls[i].va + ls[i].size - 1), hex(ls[i].pa),
                                      (a & 0xf0) == 0 ? "Device" : "Normal", ls[i].pxn ? " PXN" : ""));
    }
    if (ls.size() > 6) parts.push_back(absl::StrFormat("and %u more", ls.size() - 6));
    return parts.empty() ? std::string("nothing") : absl::StrJoin(parts, "; ");
  };
  d.setup = absl::StrFormat(
      "%s: MMU %s, SCTLR %s, TCR %s (T0SZ %u%s, T1SZ %u%s, IPS %u bits), MAIR %s\n  TTBR0 %s maps: %s\n  TTBR1 %s "
      "maps: %s\n  VBAR %s, SP %s, PC %s",
      el, mmu_on ? "on" : (tables ? "off now (it was on at the fault)" : "off"), hex(s.sctlr), hex(s.tcr), t0sz,
      walks0 ? "" : " (walks off: EPD0)", t1sz, walks1 ? "" : " (walks off: EPD1)", pa_bits, hex(s.mair), hex(s.ttbr0),
      describe_ranges(leaves0), hex(s.ttbr1), describe_ranges(leaves1), hex(s.vbar), hex(s.sp), named(s.pc));

  if (!tables) return d;  // nothing translated yet: the rest needs the MMU on

  // The instruction after each `msr sctlr`: it is fetched through the new
  // tables, at the same (usually physical) address.
  bool sctlr_reported = false;
  for (uint64_t at : s.sctlr_writes) {
    if (!tables) break;
    const uint64_t next = at + 4;
    // Only where the kernel is stuck: its first fault (or, with none, its
    // PC) is at or just after this switch. A kernel that switched and went
    // on may well have dropped the identity map since.
    const uint64_t where = ff ? ff->elr : s.pc;
    if (where < next || where - next >= 64) continue;
    const Translation t = w.translate(next);
    if (!t.ok()) {
      std::string extra;
      if (std::string high = where_mapped(next); !high.empty()) {
        extra = absl::StrFormat(
            " The code is mapped at %s (%s): the PC is still physical — branch to the virtual address before "
            "turning the MMU on, or keep an identity map until after the switch.",
            high, w.half(std::stoull(high, nullptr, 16)));
      }
      const bool off = (next >> 63) ? !walks1 : !walks0;
      add("sctlr-next-unmapped",
          absl::StrFormat("The instruction after `msr sctlr_%s` at %s is not mapped by %s: %s. %s %s.%s",
                          s.el == 2 ? "el2" : "el1", named(next), w.half(next), fault_words(t), w.half(next),
                          off ? "walks are disabled (TCR.EPD = 1): it maps nothing"
                              : "maps " + describe_ranges((next >> 63) ? leaves1 : leaves0),
                          extra));
      sctlr_reported = true;
    } else if (!w.executable(t)) {
      add("sctlr-next-noexec", absl::StrFormat("The instruction after `msr sctlr` at %s is mapped but not executable "
                                               "(%s)",
                                               named(next), w.device(t) ? "Device memory" : "PXN"));
      sctlr_reported = true;
    }
  }

  // The PC where the CPU faulted first (or is now).
  const uint64_t pc = ff ? ff->elr : s.pc;
  if (tables && !sctlr_reported) {
    const Translation t = w.translate(pc);
    if (!t.ok()) {
      std::string extra;
      if (std::string high = where_mapped(pc); !high.empty()) {
        extra = absl::StrFormat(" The same physical address is mapped at %s: the PC is still physical.", high);
      }
      if (!walks0 && (pc >> 63) == 0) extra += " (TTBR0 walks are disabled: TCR.EPD0 = 1.)";
      // The mapping nearest to it, in its half: often the page just missed.
      const Leaf* near = nullptr;
      uint64_t best = ~0ull;
      for (const Leaf& l : (pc >> 63) ? leaves1 : leaves0) {
        const uint64_t dist = pc < l.va ? l.va - pc : pc - (l.va + l.size - 1);
        if (dist < best) best = dist, near = &l;
      }
      if (near != nullptr && best < (1ull << 30)) {
        extra += absl::StrFormat(" The nearest mapping in %s is %s..%s -> %s.", w.half(pc), hex(near->va),
                                 hex(near->va + near->size - 1), hex(near->pa));
      }
      add("pc-unmapped", absl::StrFormat("The PC %s is not mapped: %s.%s", named(pc), fault_words(t), extra));
    } else if (!w.executable(t)) {
      add("pc-noexec", absl::StrFormat("The PC %s is mapped but not executable (%s)", named(pc),
                                       w.device(t) ? "Device memory" : "PXN"));
    }
  }

  // VBAR: every exception goes there; unmapped, each exception faults again.
  if (s.vbar == 0) {
    add("vbar-unset", absl::StrFormat("VBAR_%s = 0: the vector table was never set, so every exception goes to "
                                      "address 0x200 and faults again (an exception storm)",
                                      el));
  } else if ((s.vbar & 0x7ff) != 0) {
    add("vbar-unaligned", absl::StrFormat("VBAR_%s = %s is not 2 KiB aligned", el, hex(s.vbar)));
  }
  if (tables && s.vbar != 0) {
    const Translation t = w.translate(s.vbar);
    if (!t.ok()) {
      add("vbar-unmapped",
          absl::StrFormat("VBAR_%s = %s is not mapped (%s): every exception faults again at the vector (a storm of "
                          "nested aborts that hides the first fault)",
                          el, named(s.vbar), fault_words(t)));
    } else if (!w.executable(t)) {
      add("vbar-noexec", absl::StrFormat("VBAR_%s = %s is mapped but not executable (%s)", el, named(s.vbar),
                                         w.device(t) ? "Device memory" : "PXN"));
    }
  }

  // The stack and the registers: the CPU's state now, so only while the MMU
  // is still on (a panic path that turned it off runs on other values).
  if (mmu_on) {
    const Translation t = w.translate(s.sp - 16);
    if (!t.ok() || !t.el1_writable) {
      add("stack-unmapped",
          absl::StrFormat("SP = %s is not mapped writable (%s): the first push after the switch faults", hex(s.sp),
                          t.ok() ? "read-only" : fault_words(t)));
    }
  }

  // Devices from the DTB: Device memory wherever they are mapped. The UART
  // gets its own finding; the other devices' first register ranges (GIC,
  // RTC, virtio, ...) one finding per Normal mapping that holds any.
  if (tables) {
    for (const auto* set : {&leaves0, &leaves1}) {
      for (const Leaf& l : *set) {
        const uint8_t a = static_cast<uint8_t>((s.mair >> (8 * l.attr_index)) & 0xff);
        if ((a & 0xf0) == 0) continue;  // Device: fine
        auto in_leaf = [&](uint64_t pa) { return pa >= l.pa && pa - l.pa < l.size; };
        const std::string attrs = absl::StrFormat(
            "AttrIndx %u selects MAIR byte 0x%02x. Device registers need a Device attribute (0x00 or 0x04): Normal "
            "memory may be cached, merged and reordered",
            l.attr_index, a);
        if (s.uart.size != 0 && in_leaf(s.uart.base)) {
          add("device-normal",
              absl::StrFormat("The UART at PA %s (from the DTB) is mapped at VA %s as Normal memory: %s",
                              hex(s.uart.base), hex(l.va + (s.uart.base - l.pa)), attrs));
        }
        std::vector<std::string> others;
        for (const Range& r : s.devices) {
          if (in_leaf(r.base) && !(s.uart.size != 0 && r.base == s.uart.base)) others.push_back(hex(r.base));
        }
        if (!others.empty()) {
          const size_t n = others.size();
          if (n > 4) others.resize(4), others.push_back("...");
          add("device-normal",
              absl::StrFormat("%u other device(s) from the DTB (at PA %s) are in the Normal mapping %s..%s: %s", n,
                              absl::StrJoin(others, ", "), hex(l.va), hex(l.va + l.size - 1), attrs));
        }
      }
    }
  }

  // Registers used as pointers: a physical address the new tables do not map.
  if (mmu_on) {
    for (int i = 0; i < 31; ++i) {
      const uint64_t v = s.x[i];
      const bool uart = s.uart.size != 0 && s.uart.contains(v);
      if (!uart) continue;  // (RAM addresses in registers are too often data to judge)
      const Translation t = w.translate(v);
      if (t.ok()) continue;
      std::string mapped = where_mapped(v);
      add("pointer-physical",
          absl::StrFormat("x%d = %s is the UART's physical address (from the DTB) and it is not mapped after the "
                          "switch (%s)%s",
                          i, hex(v), fault_words(t),
                          mapped.empty()
                              ? ": map the UART, or keep using it only with the MMU off"
                              : absl::StrFormat("; the UART is mapped at VA %s: use that address now", mapped)));
    }
  }

  // The first fault's own story, when a data abort names an address.
  if (ff && ff->has_far && arm64::esr_ec(ff->esr) == 0x25 && tables) {
    const uint64_t far = ff->far;
    if (s.uart.size != 0 && s.uart.contains(far)) {
      bool said = false;
      for (const Finding& f : d.findings) said |= f.rule == "pointer-physical";
      if (!said) {
        add("pointer-physical",
            absl::StrFormat("The first fault's FAR %s is the UART's physical address, not mapped after the switch",
                            hex(far)));
      }
    } else if (far + 4096 >= s.sp && far <= s.sp + 4096) {
      bool said = false;
      for (const Finding& f : d.findings) said |= f.rule == "stack-unmapped";
      if (!said) {
        add("stack-unmapped",
            absl::StrFormat("The first fault's FAR %s is next to SP %s: the stack is not mapped", hex(far), hex(s.sp)));
      }
    }
  }
  return d;
}

}  // namespace keel::doctor
