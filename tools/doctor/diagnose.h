// diagnose.h — the doctor's rules: from a stopped guest's registers, its
// translation tables (read through a callback) and QEMU's exception log, the
// findings that explain an MMU-enable hang. Portable and host-tested; the
// doctor (doctor.cc) fills a Snapshot from QEMU's gdbstub.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace keel::doctor {

// One exception from QEMU's `-d int` log.
struct LoggedException {
  std::string name;  // "Data Abort", "Prefetch Abort", "IRQ", ...
  int from_el = -1, to_el = -1;
  bool has_esr = false;
  uint64_t esr = 0;
  bool has_far = false;
  uint64_t far = 0;
  uint64_t elr = 0;
  uint64_t vector_pc = 0;  // where the CPU went (VBAR + offset)
};

// Reads QEMU's log a line at a time, keeping the first synchronous fault,
// the last exception and the counts (a storm's log can be gigabytes).
class ExceptionLog {
 public:
  void feed(const std::string& line);
  uint64_t count() const { return count_; }
  const std::optional<LoggedException>& first_fault() const { return first_fault_; }
  const std::optional<LoggedException>& last() const { return last_; }

 private:
  void finish();
  uint64_t count_ = 0;
  std::optional<LoggedException> current_, first_fault_, last_;
};

struct Range {
  uint64_t base = 0, size = 0;
  bool contains(uint64_t a) const { return a >= base && a - base < size; }
};

struct Snapshot {
  // The CPU's state at the stop, for the EL it runs at.
  unsigned el = 1;
  uint64_t x[31] = {};
  uint64_t sp = 0, pc = 0, cpsr = 0;
  uint64_t sctlr = 0, tcr = 0, mair = 0, ttbr0 = 0, ttbr1 = 0, vbar = 0, esr = 0, far = 0, elr = 0;
  // EL1, and EL2 with VHE (HCR_EL2.E2H = 1: TTBR1_EL2, TCR_EL2 in
  // TCR_EL1's layout); EL2 without VHE has one range (the doctor passes its
  // TCR_EL2 rewritten into TCR_EL1's layout, EPD1 set).
  bool has_ttbr1 = true;
  bool vhe = false;
  // Machine facts from QEMU's DTB.
  std::vector<Range> ram;
  Range uart;
  std::vector<Range> devices;  // every other device's first register range (GIC, RTC, virtio, ...)
  // Where `msr sctlr_elN, xt` instructions are in the image (their PAs).
  std::vector<uint64_t> sctlr_writes;
  // Physical memory (8-byte reads), and a name for an address if the ELF has symbols.
  std::function<bool(uint64_t pa, uint64_t* out)> read_phys;
  std::function<std::string(uint64_t addr)> symbol;
  // The exceptions QEMU logged, and why the run stopped.
  ExceptionLog log;
  std::string stop_reason;  // e.g. "an exception storm (120000 exceptions)"
};

struct Finding {
  std::string rule;  // short id, e.g. "sctlr-next-unmapped", stable for tests
  std::string text;  // what is wrong, in plain words, with the values, and the evidence
};

// A problem needs evidence that the kernel is stuck *because of* it: a
// logged fault whose address or level it explains, a PC that cannot be
// fetched, exceptions that go to an unmapped vector. What only looks wrong
// — a register that would fault if used, a table nothing walked through,
// an attribute QEMU does not care about — is a note: said, and the exit
// code stays 0.
struct Diagnosis {
  std::vector<Finding> findings;  // problems (evidence); empty: no problem found
  std::vector<Finding> notes;     // suspicions without evidence
  std::string first_fault;        // the first fault decoded ("" if none)
  std::string setup;              // a short summary of the translation setup
};

Diagnosis diagnose(const Snapshot& s);

}  // namespace keel::doctor
