#include "tools/symbolize/symbolizer.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <regex>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/common/exec.h"

namespace keel::tools {

namespace {
constexpr const char* kLlvmSymbolizer = "/usr/lib/llvm-16/bin/llvm-symbolizer";

// Runs argv, returns its stdout (no shell involved).
std::optional<std::string> run_capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    exec_or_exit(argv);
  }
  close(fds[1]);
  std::string out;
  std::array<char, 4096> buf;
  ssize_t n;
  while ((n = read(fds[0], buf.data(), buf.size())) > 0) out.append(buf.data(), static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}
}  // namespace

std::optional<BacktraceEntry> parse_backtrace_line(const std::string& line) {
  static const std::regex re(R"(^\s*#(\d+) 0x([0-9a-fA-F]{1,16}) in ([A-Za-z0-9_.-]+)\s*$)");
  std::smatch m;
  if (!std::regex_match(line, m, re)) return std::nullopt;
  BacktraceEntry e;
  e.index = std::stoi(m[1]);
  e.address = std::stoull(m[2], nullptr, 16);
  e.module = m[3];
  return e;
}

std::string Symbolizer::describe(const BacktraceEntry& e) const {
  auto it = modules_.find(e.module);
  if (it == modules_.end()) return absl::StrFormat("(no ELF given for module '%s')", e.module);
  auto out = run_capture({kLlvmSymbolizer, "--obj=" + it->second, "--functions=linkage", "--demangle",
                          "--inlining=false", absl::StrFormat("0x%x", e.address)});
  if (!out) return absl::StrFormat("(llvm-symbolizer failed on %s)", it->second);
  std::vector<std::string> lines = absl::StrSplit(*out, '\n', absl::SkipEmpty());
  if (lines.size() < 2 || lines[0] == "??") return "(no symbol)";
  std::string where = lines[1];
  // file:line:column -> file:line
  std::vector<std::string> parts = absl::StrSplit(where, ':');
  if (parts.size() >= 3) where = parts[0] + ":" + parts[1];
  std::string file(absl::StripPrefix(where, "./"));
  return lines[0] + " at " + file;
}

bool Symbolizer::parse_modules(const std::vector<std::string>& specs, std::map<std::string, std::string>* out,
                               std::string* error) {
  for (const std::string& spec : specs) {
    if (spec.empty()) continue;
    std::vector<std::string> kv = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      *error = "--elf entries must be NAME=PATH, got '" + spec + "'";
      return false;
    }
    if (access(kv[1].c_str(), R_OK) != 0) {
      *error = "--elf " + kv[0] + ": cannot read " + kv[1];
      return false;
    }
    (*out)[kv[0]] = kv[1];
  }
  return true;
}

}  // namespace keel::tools
