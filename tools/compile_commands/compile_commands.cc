// compile_commands — writes compile_commands.json for clangd, covering host
// tools and tests and the aarch64 kernel (aquery follows the platform
// transition, so kernel files get their real cross-compilation flags).
//
//   bazel run //tools/compile_commands
//
// Runs `bazel aquery` in the workspace, reads its textproto output (one
// `actions { arguments: "..." }` block per compile) and writes the JSON next
// to WORKSPACE. A file compiled for both host and target (portable kernel
// code) gets its aarch64 command if it lives under kernel/, else the host one.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace {

std::string run(const std::string& cmd, int* status) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[65536];
  size_t n;
  while (p != nullptr && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = p != nullptr ? pclose(p) : -1;
  return out;
}

// Decodes a textproto string literal body (C-style escapes).
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      default:
        if (c >= '0' && c <= '7' && i + 2 < s.size()) {
          out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i, 3)), nullptr, 8)));
          i += 2;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

bool is_target(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--target=aarch64-none-elf") return true;
  }
  return false;
}

}  // namespace

int main() {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (ws == nullptr) {
    std::cerr << "compile_commands: run me with `bazel run //tools/compile_commands`\n";
    return 2;
  }
  std::string cd = absl::StrCat("cd '", ws, "' && ");
  int status = 0;
  // Commands run from the workspace: sources resolve directly and
  // bazel-out/ through Bazel's convenience symlink. (The execroot holds
  // source symlinks only while a build runs in it.)
  const std::string root = ws;
  // External repositories (@lwip) are fetched under the output base's
  // external/ (the execroot's external/ exists only during a build).
  std::string output_base = run(cd + "bazel info output_base 2>/dev/null", &status);
  while (!output_base.empty() && (output_base.back() == '\n' || output_base.back() == '\r')) output_base.pop_back();
  std::string external = output_base;
  external += "/external/";
  std::cerr << "compile_commands: querying compile actions (bazel aquery)...\n";
  std::string proto = run(cd + "bazel aquery --output=textproto "
                               "'mnemonic(\"CppCompile\", deps(//...))' 2>/dev/null",
                          &status);
  if (status != 0) {
    std::cerr << "compile_commands: bazel aquery failed\n";
    return 1;
  }
  std::map<std::string, std::vector<std::string>> by_file;
  std::vector<std::string> args;
  size_t pos = 0;
  auto flush = [&]() {
    std::string file;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "-c") file = args[i + 1];
    }
    if (file.empty()) return;
    auto it = by_file.find(file);
    bool prefer_target = absl::StartsWith(file, "kernel/") || absl::StartsWith(file, "platform/");
    if (it == by_file.end() || (is_target(args) == prefer_target && is_target(it->second) != prefer_target)) {
      by_file[file] = args;
    }
  };
  while (pos < proto.size()) {
    size_t eol = proto.find('\n', pos);
    if (eol == std::string::npos) eol = proto.size();
    std::string line = proto.substr(pos, eol - pos);
    pos = eol + 1;
    if (line == "actions {") {
      args.clear();
    } else if (absl::StartsWith(line, "arguments: \"") && absl::EndsWith(line, "\"")) {
      std::string a = unescape(line.substr(12, line.size() - 13));
      // Bazel's reproducibility defines (__DATE__ etc.) only make tools warn.
      if (absl::StartsWith(a, "-D__DATE__") || absl::StartsWith(a, "-D__TIME")) continue;
      if (absl::StartsWith(a, "external/")) a = absl::StrCat(external, a.substr(9));
      args.push_back(a);
    } else if (line == "}") {
      flush();
      args.clear();
    }
  }
  std::string out_path = absl::StrCat(ws, "/compile_commands.json");
  std::ofstream out(out_path);
  out << "[\n";
  bool first = true;
  for (const auto& [file, a] : by_file) {
    if (!first) out << ",\n";
    first = false;
    out << "  {\"directory\": " << json_string(root) << ", \"file\": " << json_string(file) << ", \"arguments\": [";
    for (size_t i = 0; i < a.size(); ++i) out << (i ? ", " : "") << json_string(a[i]);
    out << "]}";
  }
  out << "\n]\n";
  if (!out) {
    std::cerr << "compile_commands: cannot write " << out_path << "\n";
    return 1;
  }
  std::cerr << "compile_commands: wrote " << by_file.size() << " entries to " << out_path << "\n";
  return 0;
}
