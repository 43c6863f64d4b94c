// symbolize — annotates a saved console log's backtrace lines.
//
//   bazel run //tools/symbolize -- --elf=kernel=bazel-bin/image.kernel.elf < log
// Every "#N 0x... in MODULE" line is followed by "-> function at file:line";
// other lines pass through unchanged.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/symbolize/symbolizer.h"

ABSL_FLAG(std::vector<std::string>, elf, {}, "comma-separated MODULE=ELF pairs (modules: boot, kernel)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("symbolizes keel backtraces read from stdin");
  absl::ParseCommandLine(argc, argv);
  std::map<std::string, std::string> modules;
  std::string error;
  if (!keel::tools::Symbolizer::parse_modules(absl::GetFlag(FLAGS_elf), &modules, &error)) {
    std::cerr << "symbolize: " << error << "\n";
    return 2;
  }
  if (modules.empty()) {
    std::cerr << "symbolize: give at least one --elf=MODULE=PATH\n";
    return 2;
  }
  keel::tools::Symbolizer sym(modules);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::cout << line << "\n";
    if (auto e = keel::tools::parse_backtrace_line(line)) std::cout << "        -> " << sym.describe(*e) << "\n";
  }
  return 0;
}
