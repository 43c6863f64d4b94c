// symbolizer.h — turns keel backtrace lines into function names and file:line.
//
// Backtrace lines (kernel/core/panic.h, phys_main.cc) look like
//     #3 0xffffffff80001234 in kernel
// where the address is a link-time address of the named module's ELF (the
// boot stage prints offsets, being a PIE linked at 0). Symbolization runs
// llvm-symbolizer-16 on that ELF.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keel::tools {

struct BacktraceEntry {
  int index = 0;
  uint64_t address = 0;
  std::string module;
};

// Recognizes a backtrace line; nullopt for any other line.
std::optional<BacktraceEntry> parse_backtrace_line(const std::string& line);

class Symbolizer {
 public:
  // modules: name -> ELF path, e.g. {"kernel", ".../image.kernel.elf"}.
  explicit Symbolizer(std::map<std::string, std::string> modules) : modules_(std::move(modules)) {}

  // "function at file:line" for the entry, or an explanation why not.
  std::string describe(const BacktraceEntry& e) const;

  // Parses "name=path,name=path"; returns false with *error set on bad input.
  static bool parse_modules(const std::vector<std::string>& specs, std::map<std::string, std::string>* out,
                            std::string* error);

 private:
  std::map<std::string, std::string> modules_;
};

}  // namespace keel::tools
