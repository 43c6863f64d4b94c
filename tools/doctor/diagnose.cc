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

using arm64::Granule;
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
  // The same tables under another TCR (the granule-mismatch rule's trial).
  Translation translate_with_tcr(uint64_t tcr, uint64_t va) const {
    TranslationRegime r = regime;
    r.tcr = TcrEl1{tcr};
    return arm64::translate_with(r, read, const_cast<Walker*>(this), va);
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
    case WalkFault::kUnsupported:
      return "a TCR configuration with no defined walk (a reserved TGn, or TnSZ outside 16..39)";
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

// Every valid leaf under a table (at most `limit`), for the setup summary
// and for finding where a physical address is mapped.
void scan(const Snapshot& s, const Granule& g, uint64_t table_pa, unsigned level, uint64_t va_base, unsigned va_bits,
          bool high, std::vector<Leaf>* out, size_t limit) {
  const unsigned shift = g.level_shift(level);
  const unsigned entries_bits = std::min(g.bits_per_level(), va_bits - shift);
  for (uint64_t i = 0; i < (1ull << entries_bits) && out->size() < limit; ++i) {
    uint64_t raw = 0;
    if (!s.read_phys(table_pa + 8 * i, &raw)) return;
    Pte e{raw};
    if (!e.valid()) continue;
    uint64_t va = va_base + (i << shift);
    if (high) va |= ~((1ull << va_bits) - 1);
    if (level < 3 && e.table_or_page()) {
      scan(s, g, raw & g.oa_mask(g.page_shift), level + 1, va_base + (i << shift), va_bits, high, out, limit);
      continue;
    }
    if ((level < 3 && !g.block_allowed(level)) || (level == 3 && !e.table_or_page())) continue;  // reserved
    out->push_back(Leaf{va, raw & g.oa_mask(shift), 1ull << shift, static_cast<uint8_t>(e.attr_index()), e.pxn() != 0});
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

// TGn encodings: TG0 and TG1 number the granules differently.
constexpr uint64_t kTg0Of[3] = {0b00, 0b10, 0b01};  // 4, 16, 64 KiB
constexpr uint64_t kTg1Of[3] = {0b10, 0b01, 0b11};
constexpr unsigned kShifts[3] = {12, 14, 16};
std::string tg_name(uint64_t value) { return absl::StrFormat("0b%d%d", (value >> 1) & 1, value & 1); }

}  // namespace

// ---- the rules ----------------------------------------------------------------

Diagnosis diagnose(const Snapshot& s) {
  Diagnosis d;
  // A problem (evidence that it stops the kernel) or a note (only suspicious).
  auto add = [&](const char* rule, std::string text) { d.findings.push_back(Finding{rule, std::move(text)}); };
  auto note = [&](const char* rule, std::string text) { d.notes.push_back(Finding{rule, std::move(text)}); };
  auto add_or_note = [&](bool evidence, const char* rule, std::string text, const std::string& why_only_a_note) {
    if (evidence) {
      add(rule, std::move(text));
    } else {
      const bool stop = !text.empty() && (text.back() == '.' || text.back() == '?');
      note(rule, absl::StrCat(text, stop ? " " : ". ", "Only a note: ", why_only_a_note, "."));
    }
  };
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
  const bool abort = first && first_ec >= 0x20 && first_ec <= 0x25;
  const bool tables = mmu_on || abort;
  const unsigned t0sz = static_cast<unsigned>(tcr.t0sz()), t1sz = static_cast<unsigned>(tcr.t1sz());
  const bool walks0 = tcr.epd0() == 0, walks1 = s.has_ttbr1 && tcr.epd1() == 0;
  Granule g0, g1;
  const bool tg0_ok = arm64::granule_of_tg0(static_cast<uint64_t>(tcr.tg0()), &g0);
  const bool tg1_ok = arm64::granule_of_tg1(static_cast<uint64_t>(tcr.tg1()), &g1);
  Walker w{s, TranslationRegime{}};
  w.regime.ttbr0 = s.ttbr0;
  w.regime.ttbr1 = s.ttbr1;
  w.regime.tcr = tcr;
  const char* el = s.el == 2 ? "EL2" : "EL1";
  const std::string ttbr0_name = absl::StrCat("TTBR0_", el), ttbr1_name = absl::StrCat("TTBR1_", el);

  // The first fault, decoded: the cause; a storm after it only hides it.
  const auto& ff = s.log.first_fault();
  if (ff) {
    char meaning[128];
    arm64::describe_esr(ff->esr, meaning, sizeof meaning);
    d.first_fault = absl::StrFormat("%s from EL%d to EL%d: %s (EC 0x%02x, ISS 0x%x)%s, at ELR %s", ff->name,
                                    ff->from_el, ff->to_el, meaning, arm64::esr_ec(ff->esr), ff->esr & 0x1ffffff,
                                    ff->has_far ? absl::StrCat(", FAR ", hex(ff->far)) : "", named(ff->elr));
  }
  // Evidence. The address translation failed on at the first abort (an
  // instruction abort's is its ELR, a data abort's its FAR), and the half
  // of the address space it is in.
  const bool abort_has_address = abort && (first_ec == 0x20 || first_ec == 0x21 || ff->has_far);
  const uint64_t abort_va = !abort ? 0 : (first_ec == 0x20 || first_ec == 0x21) ? ff->elr : ff->far;
  auto abort_in_half = [&](bool high) { return abort_has_address && ((abort_va >> 63) != 0) == high; };
  const std::string no_abort = "no translation fault was logged (nothing has walked through it)";

  // TCR: encodings first — a reserved value makes the rest guesswork.
  if (static_cast<uint64_t>(tcr.tg0()) == 0b11) {
    add_or_note(
        abort_in_half(false), "tcr-tg0-reserved",
        absl::StrFormat("TCR_%s.TG0 = 0b11 is a reserved encoding (4 KiB is 0b00, 64 KiB 0b01, 16 KiB 0b10)", el),
        no_abort);
  }
  if (s.has_ttbr1 && static_cast<uint64_t>(tcr.tg1()) == 0b00) {
    add_or_note(abort_in_half(true), "tcr-tg1-reserved",
                absl::StrFormat("TCR_%s.TG1 = 0b00 is a reserved encoding: TG1 numbers granules differently from TG0 "
                                "(4 KiB is 0b10 in TG1, 0b00 in TG0); TCR_%s = %s",
                                el, el, hex(s.tcr)),
                no_abort);
  }
  if (walks0 && (t0sz < 16 || t0sz > 39)) {
    add_or_note(abort_in_half(false), "tcr-t0sz", absl::StrFormat("TCR_%s.T0SZ = %u: it must be 16..39", el, t0sz),
                no_abort);
  }
  if (walks1 && (t1sz < 16 || t1sz > 39)) {
    add_or_note(abort_in_half(true), "tcr-t1sz", absl::StrFormat("TCR_%s.T1SZ = %u: it must be 16..39", el, t1sz),
                no_abort);
  }
  if (tcr.ips() > 6) {
    add_or_note(abort, "tcr-ips", absl::StrFormat("TCR_%s.IPS = %u is reserved", el, static_cast<unsigned>(tcr.ips())),
                no_abort);
  }
  const unsigned pa_bits = std::array<unsigned, 8>{32, 36, 40, 42, 44, 48, 52, 0}[tcr.ips() & 7];

  // TTBRs: where the tables are, and whether they look like tables. A
  // problem only if the first abort is in that TTBR's half (Linux, for
  // one, parks TTBR0 on an empty table while no user process runs).
  auto check_ttbr = [&](const std::string& name, uint64_t ttbr, unsigned txsz, const Granule& g, bool high) {
    const bool evidence = abort_in_half(high);
    const uint64_t base = ttbr & 0x0000fffffffffffeull;
    const unsigned va_bits = 64 - txsz;
    const unsigned lvl = g.start_level(va_bits);
    const uint64_t entries = 1ull << std::min(g.bits_per_level(), va_bits - g.level_shift(lvl));
    const uint64_t table_bytes = std::max<uint64_t>(64, entries * 8);
    if ((base & (table_bytes - 1)) != 0) {
      add_or_note(
          evidence, "ttbr-unaligned",
          absl::StrFormat("%s = %s is not aligned to its %u-byte level-%u table", name, hex(ttbr), table_bytes, lvl),
          no_abort);
    }
    if (pa_bits != 0 && pa_bits < 64 && (base >> pa_bits) != 0) {
      add_or_note(
          evidence, "ttbr-beyond-ips",
          absl::StrFormat("%s = %s is beyond the %u-bit physical range TCR.IPS allows", name, hex(ttbr), pa_bits),
          no_abort);
    }
    bool in_ram = s.ram.empty();
    for (const Range& r : s.ram) in_ram |= r.contains(base);
    if (!in_ram) {
      add_or_note(
          evidence, "ttbr-not-ram",
          absl::StrFormat(
              "%s = %s is not in RAM (%s): the table cannot be there", name, hex(ttbr),
              s.ram.empty() ? "" : absl::StrFormat("%s..%s", hex(s.ram[0].base), hex(s.ram[0].base + s.ram[0].size))),
          no_abort);
      return;
    }
    unsigned valid = 0;
    for (uint64_t i = 0; i < entries; ++i) {
      uint64_t raw = 0;
      if (s.read_phys(base + 8 * i, &raw) && Pte{raw}.valid()) ++valid;
    }
    if (valid == 0) {
      add_or_note(evidence, "ttbr-empty-table",
                  absl::StrFormat("%s = %s points at a table with no valid entry: every walk through it faults. Is the "
                                  "table where %s points (filled at another address, or %s written with the wrong "
                                  "address)?",
                                  name, hex(ttbr), name, name),
                  absl::StrCat(no_abort, " — a kernel may park a TTBR on an empty table on purpose"));
    }
  };
  if (tables && walks0 && tg0_ok && t0sz >= 16 && t0sz <= 39) check_ttbr(ttbr0_name, s.ttbr0, t0sz, g0, false);
  if (tables && walks1 && tg1_ok && t1sz >= 16 && t1sz <= 39) check_ttbr(ttbr1_name, s.ttbr1, t1sz, g1, true);
  if (tables && walks0 && walks1 && (s.ttbr0 & 0x0000fffffffff000ull) == (s.ttbr1 & 0x0000fffffffff000ull)) {
    add_or_note(abort, "ttbr-same",
                absl::StrFormat("%s and %s both point at %s: the low and the high half share one table, so every "
                                "address is mapped twice (usually %s was meant to get the kernel's own table)",
                                ttbr0_name, ttbr1_name, hex(s.ttbr0 & 0x0000fffffffff000ull), ttbr1_name),
                no_abort);
  }

  // What the tables map (for the summary and for reverse lookups).
  std::vector<Leaf> leaves0, leaves1;
  if (tables && walks0 && tg0_ok && t0sz >= 16 && t0sz <= 39) {
    scan(s, g0, s.ttbr0 & 0x0000ffffffffffc0ull, g0.start_level(64 - t0sz), 0, 64 - t0sz, false, &leaves0, 4096);
  }
  if (tables && walks1 && tg1_ok && t1sz >= 16 && t1sz <= 39) {
    scan(s, g1, s.ttbr1 & 0x0000ffffffffffc0ull, g1.start_level(64 - t1sz), 0, 64 - t1sz, true, &leaves1, 4096);
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
  auto granule_words = [&](bool ok, const Granule& g) { return ok ? absl::StrFormat("%u KiB", g.kib()) : "reserved"; };
  d.setup = absl::StrFormat(
      "%s%s: MMU %s, SCTLR %s, TCR %s (T0SZ %u, TG0 %s%s; T1SZ %u, TG1 %s%s; IPS %u bits), MAIR %s\n  TTBR0 %s maps: "
      "%s\n  TTBR1 %s maps: %s\n  VBAR %s, SP %s, PC %s",
      el, s.vhe ? " (VHE: HCR_EL2.E2H = 1)" : "", mmu_on ? "on" : (tables ? "off now (it was on at the fault)" : "off"),
      hex(s.sctlr), hex(s.tcr), t0sz, granule_words(tg0_ok, g0), walks0 ? "" : ", walks off: EPD0", t1sz,
      granule_words(tg1_ok, g1), !s.has_ttbr1 ? ", no TTBR1 at this EL" : (walks1 ? "" : ", walks off: EPD1"), pa_bits,
      hex(s.mair), hex(s.ttbr0), describe_ranges(leaves0), hex(s.ttbr1), describe_ranges(leaves1), hex(s.vbar),
      hex(s.sp), named(s.pc));

  if (!tables) return d;  // nothing translated yet: the rest needs the MMU on

  // Granule mismatch: an address the kernel needs does not translate, but
  // would with another TGn value for its half — the tables were built for
  // another granule than TCR selects. Returns true if it said so.
  auto granule_mismatch = [&](uint64_t va, const std::string& what) {
    const bool high = (va >> 63) != 0;
    if (high ? !walks1 : !walks0) return false;
    const int field_shift = high ? 30 : 14;
    const uint64_t current = (s.tcr >> field_shift) & 3;
    for (int k = 0; k < 3; ++k) {
      const uint64_t value = high ? kTg1Of[k] : kTg0Of[k];
      if (value == current) continue;
      const uint64_t trial = (s.tcr & ~(3ull << field_shift)) | (value << field_shift);
      const Translation t = w.translate_with_tcr(trial, va);
      if (!t.ok()) continue;
      const Granule& now = high ? g1 : g0;
      const bool now_ok = high ? tg1_ok : tg0_ok;
      add("granule-mismatch",
          absl::StrFormat(
              "TCR_%s.%s = %s (%s) but the table at %s is laid out for %u KiB granules: with %s = %s %s "
              "would be mapped (-> %s); as set, %s. Set %s = %s (%s numbers granules %s), or build the "
              "tables for %s",
              el, high ? "TG1" : "TG0", tg_name(current), now_ok ? absl::StrFormat("%u KiB", now.kib()) : "reserved",
              high ? ttbr1_name : ttbr0_name, 1u << (kShifts[k] - 10), high ? "TG1" : "TG0", tg_name(value), what,
              hex(t.pa), fault_words(w.translate(va)), high ? "TG1" : "TG0", tg_name(value), high ? "TG1" : "TG0",
              high ? "0b10 = 4 KiB, 0b01 = 16 KiB, 0b11 = 64 KiB" : "0b00 = 4 KiB, 0b10 = 16 KiB, 0b01 = 64 KiB",
              now_ok ? absl::StrFormat("%u KiB", now.kib()) : "a valid granule"));
      return true;
    }
    return false;
  };

  // The instruction after each `msr sctlr`: it is fetched through the new
  // tables, at the same (usually physical) address.
  bool sctlr_reported = false;
  for (uint64_t at : s.sctlr_writes) {
    const uint64_t next = at + 4;
    // Only where the kernel is stuck: its first fault (or, with none, its
    // PC) is at or just after this switch. A kernel that switched and went
    // on may well have dropped the identity map since.
    const uint64_t where = ff ? ff->elr : s.pc;
    if (where < next || where - next >= 64) continue;
    const Translation t = w.translate(next);
    if (!t.ok()) {
      sctlr_reported = true;
      if (granule_mismatch(next, absl::StrFormat("the instruction after `msr sctlr_%s` at %s",
                                                 s.el == 2 ? "el2" : "el1", named(next)))) {
        continue;
      }
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
    } else if (!w.executable(t)) {
      add("sctlr-next-noexec", absl::StrFormat("The instruction after `msr sctlr` at %s is mapped but not executable "
                                               "(%s)",
                                               named(next), w.device(t) ? "Device memory" : "PXN"));
      sctlr_reported = true;
    }
  }

  // The PC where the CPU faulted first (or is now): it was fetched, or is
  // being fetched, through these tables — evidence by itself.
  const uint64_t pc = ff ? ff->elr : s.pc;
  if (!sctlr_reported) {
    const Translation t = w.translate(pc);
    if (!t.ok() && !granule_mismatch(pc, absl::StrFormat("the PC %s", named(pc)))) {
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
    } else if (t.ok() && !w.executable(t)) {
      add("pc-noexec", absl::StrFormat("The PC %s is mapped but not executable (%s)", named(pc),
                                       w.device(t) ? "Device memory" : "PXN"));
    }
  }
  // A data abort whose address does not translate, but would under
  // another granule: the same mismatch, seen by a load or store.
  if (abort && first_ec >= 0x24 && ff->has_far && !w.translate(ff->far).ok()) {
    (void)granule_mismatch(ff->far, absl::StrFormat("the first fault's address %s", hex(ff->far)));
  }

  // VBAR: every exception goes there; unmapped, each exception faults
  // again. Evidence: an exception came (a fault, or many exceptions).
  const bool exceptions_came = ff.has_value() || s.log.count() > 1000;
  const std::string no_exception =
      "no fault has been taken since (an idle kernel with interrupts masked never uses its vectors); the first "
      "exception will fault";
  if (s.vbar == 0) {
    add_or_note(exceptions_came, "vbar-unset",
                absl::StrFormat("VBAR_%s = 0: the vector table was never set, so every exception goes to address "
                                "0x200 and faults again (an exception storm)",
                                el),
                no_exception);
  } else if ((s.vbar & 0x7ff) != 0) {
    add_or_note(exceptions_came, "vbar-unaligned",
                absl::StrFormat("VBAR_%s = %s is not 2 KiB aligned", el, hex(s.vbar)), no_exception);
  }
  if (s.vbar != 0) {
    const Translation t = w.translate(s.vbar);
    if (!t.ok()) {
      add_or_note(exceptions_came, "vbar-unmapped",
                  absl::StrFormat("VBAR_%s = %s is not mapped (%s): every exception faults again at the vector (a "
                                  "storm of nested aborts that hides the first fault)",
                                  el, named(s.vbar), fault_words(t)),
                  no_exception);
    } else if (!w.executable(t)) {
      add_or_note(exceptions_came, "vbar-noexec",
                  absl::StrFormat("VBAR_%s = %s is mapped but not executable (%s)", el, named(s.vbar),
                                  w.device(t) ? "Device memory" : "PXN"),
                  no_exception);
    }
  }

  // The stack: the CPU's state now, so only while the MMU is still on (a
  // panic path that turned it off runs on other values). Evidence: the
  // first fault is a data abort at (or just below) SP.
  const bool stack_fault =
      abort && first_ec >= 0x24 && ff->has_far && ff->far + 0x10000 >= s.sp && ff->far <= s.sp + 0x1000;
  bool stack_said = false;
  if (mmu_on) {
    const Translation t = w.translate(s.sp - 16);
    if (!t.ok() || !t.el1_writable) {
      add_or_note(
          stack_fault, "stack-unmapped",
          absl::StrFormat(
              "SP = %s is not mapped writable (%s)%s", hex(s.sp), t.ok() ? "read-only" : fault_words(t),
              stack_fault ? absl::StrFormat(": the first fault, at FAR %s, is a stack access", hex(ff->far)) : ""),
          "nothing has faulted on the stack — a kernel that idles without a stack never needs one; the first "
          "push or call that uses SP will fault");
      stack_said = true;
    }
  }

  // Devices from the DTB mapped as Normal memory: wrong (Normal may be
  // cached, merged and reordered) but QEMU does not model the difference,
  // so it never hangs a kernel here — a note, for real hardware.
  for (const auto* set : {&leaves0, &leaves1}) {
    for (const Leaf& l : *set) {
      const uint8_t a = static_cast<uint8_t>((s.mair >> (8 * l.attr_index)) & 0xff);
      if ((a & 0xf0) == 0) continue;  // Device: fine
      auto in_leaf = [&](uint64_t pa) { return pa >= l.pa && pa - l.pa < l.size; };
      const std::string attrs = absl::StrFormat(
          "AttrIndx %u selects MAIR byte 0x%02x. Device registers need a Device attribute (0x00 or 0x04): Normal "
          "memory may be cached, merged and reordered (QEMU does not model that: on hardware this breaks)",
          l.attr_index, a);
      if (s.uart.size != 0 && in_leaf(s.uart.base)) {
        note("device-normal",
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
        note("device-normal",
             absl::StrFormat("%u other device(s) from the DTB (at PA %s) are in the Normal mapping %s..%s: %s", n,
                             absl::StrJoin(others, ", "), hex(l.va), hex(l.va + l.size - 1), attrs));
      }
    }
  }

  // Registers used as pointers: the UART's physical address, which the new
  // tables do not map. Evidence: the first fault's FAR is that address.
  bool uart_said = false;
  if (mmu_on) {
    for (int i = 0; i < 31; ++i) {
      const uint64_t v = s.x[i];
      const bool uart = s.uart.size != 0 && s.uart.contains(v);
      if (!uart) continue;  // (RAM addresses in registers are too often data to judge)
      const Translation t = w.translate(v);
      if (t.ok()) continue;
      std::string mapped = where_mapped(v);
      const bool evidence = abort && ff->has_far && s.uart.contains(ff->far);
      add_or_note(evidence, "pointer-physical",
                  absl::StrFormat("x%d = %s is the UART's physical address (from the DTB) and it is not mapped after "
                                  "the switch (%s)%s",
                                  i, hex(v), fault_words(t),
                                  mapped.empty()
                                      ? ": map the UART, or keep using it only with the MMU off"
                                      : absl::StrFormat("; the UART is mapped at VA %s: use that address now", mapped)),
                  "nothing has faulted on it (the register may hold an old value)");
      uart_said |= evidence;
    }
  }

  // A granule mismatch explains its TTBR's other oddities (alignment, an
  // "empty" table): they were judged under the wrong granule.
  for (const char* half : {"TTBR0", "TTBR1"}) {
    bool mismatch = false;
    for (const Finding& f : d.findings) {
      mismatch |= f.rule == "granule-mismatch" && f.text.find(absl::StrCat("the table at ", half)) != std::string::npos;
    }
    if (!mismatch) continue;
    std::erase_if(d.findings, [&](const Finding& f) {
      return absl::StartsWith(f.rule, "ttbr-") && absl::StartsWith(f.text, half);
    });
  }

  // The first fault's own story, when a data abort names an address.
  if (abort && ff->has_far && first_ec == 0x25) {
    const uint64_t far = ff->far;
    if (s.uart.size != 0 && s.uart.contains(far) && !uart_said) {
      add("pointer-physical",
          absl::StrFormat("The first fault's FAR %s is the UART's physical address, not mapped after the switch",
                          hex(far)));
    } else if (stack_fault && !stack_said) {
      add("stack-unmapped",
          absl::StrFormat("The first fault's FAR %s is next to SP %s: the stack is not mapped", hex(far), hex(s.sp)));
    }
  }
  return d;
}

}  // namespace keel::doctor
