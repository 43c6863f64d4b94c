// profile.cc — bazel run //:profile -- <scenario | image.bin> [options]
//
// Runs a guest under QEMU -icount with keel's TCG plugin (plugin.cc), which
// counts every instruction executed by PC inside a window, and prints the
// count per function and per stage (the source file the instruction's code
// comes from, inlining resolved), plus how many ran holding the kernel lock.
// docs/performance.md shows how to read it.
//
// Scenarios (their images come with the tool):
//   boot                         the default system: reset to init's ready line
//   null_syscall, ipc_roundtrip_same_as, ipc_roundtrip_inter_as,
//   ipc_oneway (both one-way rows), ipc_roundtrip_registers,
//   ipc_roundtrip_registers_inter_as, syscall_cap_check
//                                the bench row's 1000 rounds (user/bench)
// Or an image file (a keel_image .bin; its ELF files beside it).
//
// Options:
//   --from SYM|ADDR, --to SYM|ADDR   the window (default: the scenario's, or
//                                    reset to exit); SYM is looked up in the
//                                    user ELF, then the kernel's
//   --nth K           only the K-th window (default: the scenario's, or all)
//   --iterations N    divide by N (the rounds in the window)
//   --top N           rows per table (default 25)
//   --user ELF        symbols for EL0 code (default: the image's init ELF)
//   --expect RE       stop the guest once its console prints RE (default:
//                     the scenario's); --timeout S (default 120)
//   --max_hold_row NAME  print only "NAME <L> instructions <L> cycles": the
//                     longest single hold of the lock in the window
//                     (the bench row max_lock_hold)
//   --row NAME        print only "NAME <held> instructions <held> cycles":
//                     the instructions per iteration run holding the lock
//                     (the bench row ipc_roundtrip_lock_held)
//   --raw FILE        keep the plugin's counts in FILE
// Any other option goes to the runner (--smp 8, --cpu max, ...).
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tools/common/exec.h"

namespace keel::tools {
namespace {

constexpr uint64_t kKernelBase = 0xffff000000000000ull;
constexpr uint64_t kBootLoad = 0x40200000;  // QEMU -kernel: 2 MiB into RAM (the runner's boot_load_base)

struct Scenario {
  const char* name;
  bool bench;  // the bench image (else the default system)
  uint64_t nth;
  uint64_t iterations;
  const char* summary;
};
constexpr Scenario kScenarios[] = {
    {"boot", false, 0, 0, "the default system from reset to init's ready line"},
    {"null_syscall", true, 1, 1000, "bench row null_syscall: 1000 Yield (nothing else to run)"},
    {"ipc_roundtrip_same_as", true, 2, 1000, "bench row ipc_roundtrip_same_as: 1000 Call+ReplyRecv, one space"},
    {"ipc_roundtrip_inter_as", true, 3, 1000, "bench row ipc_roundtrip_inter_as: 1000 Call+ReplyRecv, two spaces"},
    {"ipc_oneway", true, 4, 1000, "bench rows ipc_oneway_call + ipc_oneway_replyrecv: 1000 timed round trips"},
    {"ipc_roundtrip_registers", true, 5, 1000, "bench row ipc_roundtrip_registers: 1000 register-only round trips"},
    {"ipc_roundtrip_registers_inter_as", true, 6, 1000,
     "bench row ipc_roundtrip_registers_inter_as: the same, two spaces"},
    {"syscall_cap_check", true, 7, 1000, "bench row syscall_cap_check: 1000 DebugWrite(nothing)"},
};

int usage(const std::string& why) {
  if (!why.empty()) std::cerr << "profile: " << why << "\n\n";
  std::cerr << "usage: bazel run //:profile -- <scenario | image.bin> [--from SYM|ADDR] [--to SYM|ADDR] [--nth K]\n"
               "         [--iterations N] [--top N] [--user ELF] [--expect RE] [--timeout S] [--row NAME]\n"
               "         [--max_hold_row NAME]\n"
               "         [--raw FILE] [runner options: --smp N --cpu MODEL ...]\n"
               "scenarios:\n";
  for (const Scenario& s : kScenarios) std::cerr << absl::StrFormat("  %-24s %s\n", s.name, s.summary);
  return why.empty() ? 0 : 2;
}

// Runs argv; its standard output (and error, if `merge`) as a string. nullopt if it could not run or failed.
std::optional<std::string> capture(const std::vector<std::string>& argv, const std::string& input = "",
                                   bool merge = false, int* status_out = nullptr) {
  char in_path[] = "/tmp/keel-profile-in-XXXXXX";
  int in_fd = mkstemp(in_path);
  if (in_fd < 0) return std::nullopt;
  (void)!write(in_fd, input.data(), input.size());
  close(in_fd);
  int out[2];
  if (pipe(out) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid == 0) {
    FILE* in = freopen(in_path, "r", stdin);
    (void)in;
    dup2(out[1], 1);
    if (merge) dup2(out[1], 2);
    close(out[0]);
    close(out[1]);
    exec_or_exit(argv);
  }
  close(out[1]);
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  unlink(in_path);
  if (status_out != nullptr) *status_out = status;
  if (status_out == nullptr && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) return std::nullopt;
  return text;
}

// Defined symbols of an ELF: demangled name -> address.
std::multimap<std::string, uint64_t> symbols(const std::string& elf) {
  std::multimap<std::string, uint64_t> out;
  auto text = capture({"llvm-nm-16", "-C", "--defined-only", elf});
  if (!text) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    uint64_t addr = 0;
    if (f.size() == 3 && absl::SimpleHexAtoi(f[0], &addr)) out.emplace(std::string(f[2]), addr);
  }
  return out;
}

// SYM or a hex address: an exact name, or a function's name without its
// namespaces and parameters ("report_boot_time" finds
// "(anonymous namespace)::report_boot_time()").
std::optional<uint64_t> resolve(const std::string& what, const std::vector<std::string>& elfs, std::string* error) {
  uint64_t addr = 0;
  if (absl::StartsWith(what, "0x") && absl::SimpleHexAtoi(what.substr(2), &addr)) return addr;
  for (const std::string& elf : elfs) {
    std::vector<std::pair<std::string, uint64_t>> hits;
    for (const auto& [name, a] : symbols(elf)) {
      std::string base = absl::EndsWith(name, ")") ? name.substr(0, name.rfind('(')) : name;
      if (name == what || base == what || absl::EndsWith(base, "::" + what)) hits.emplace_back(name, a);
    }
    if (hits.size() == 1) return hits[0].second;
    if (hits.size() > 1) {
      *error = absl::StrCat("'", what, "' names ", hits.size(), " symbols in ", elf, ", e.g. ", hits[0].first, " and ",
                            hits[1].first, ": give the full name or an address");
      return std::nullopt;
    }
  }
  *error = absl::StrCat("no symbol '", what, "' in the user or kernel ELF");
  return std::nullopt;
}

struct Where {
  std::string module;    // kernel, boot, user (the ELF's name), or "?"
  std::string function;  // the function the instruction is in (outermost, after inlining)
  std::string stage;     // the source file its code comes from (innermost)
};

// llvm-symbolizer on many addresses of one ELF at once.
std::vector<Where> symbolize(const std::string& module, const std::string& elf, const std::vector<uint64_t>& addrs) {
  std::vector<Where> out(addrs.size(), Where{module, "??", "??"});
  if (elf.empty() || addrs.empty()) return out;
  std::string input;
  for (uint64_t a : addrs) input += absl::StrFormat("0x%x\n", a);
  auto text = capture({"llvm-symbolizer-16", "--obj=" + elf}, input);
  if (!text) return out;
  std::vector<std::string> lines = absl::StrSplit(*text, '\n');
  size_t k = 0;
  std::vector<std::pair<std::string, std::string>> frames;  // (function, file:line)
  for (size_t i = 0; i + 1 < lines.size() && k < addrs.size(); ++i) {
    if (lines[i].empty()) {
      if (!frames.empty()) {
        std::string file = frames.front().second.substr(0, frames.front().second.find(':'));
        if (size_t slash = file.rfind('/'); slash != std::string::npos) {
          // Workspace-relative: keep from the first keel directory on.
          for (const char* top : {"kernel/", "libsys/", "user/", "servers/", "boot/", "tools/"}) {
            if (size_t at = file.find(top); at != std::string::npos) {
              file = file.substr(at);
              break;
            }
          }
        }
        if (size_t v = file.find("_virtual_includes/"); v != std::string::npos) {
          size_t lib_end = file.find('/', v + 18);  // libsys/_virtual_includes/LIB/keel/x.h -> keel/x.h
          if (lib_end != std::string::npos) file = file.substr(lib_end + 1);
        }
        out[k] = Where{module, frames.back().first, file};
        ++k;
        frames.clear();
      }
      continue;
    }
    frames.emplace_back(lines[i], lines[i + 1]);
    ++i;
  }
  return out;
}

std::string shorten(std::string s, size_t max) {
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

struct Options {
  std::string target;
  std::string from, to, user, expect, row, raw, max_hold_row;
  std::optional<uint64_t> nth, iterations;
  int top = 25;
  int timeout = 120;
  std::vector<std::string> runner_args;
};

int run(int argc, char** argv) {
  std::string runner, plugin, bench_image, boot_image;
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* dst) {
      if (size_t eq = a.find('='); eq != std::string::npos) {
        *dst = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *dst = args[++i];
      return true;
    };
    auto is = [&](const char* flag) { return a == flag || absl::StartsWith(a, std::string(flag) + "="); };
    std::string v;
    if (a == "-h" || a == "--help") return usage("");
    if (is("--runner_tool")) {
      if (!value(&runner)) return usage("--runner_tool needs a value");
    } else if (is("--plugin_tool")) {
      if (!value(&plugin)) return usage("--plugin_tool needs a value");
    } else if (is("--bench_image")) {
      if (!value(&bench_image)) return usage("--bench_image needs a value");
    } else if (is("--boot_image")) {
      if (!value(&boot_image)) return usage("--boot_image needs a value");
    } else if (is("--from") || is("--to") || is("--user") || is("--expect") || is("--row") || is("--raw") ||
               is("--max_hold_row")) {
      std::string* dst = is("--from")           ? &o.from
                         : is("--to")           ? &o.to
                         : is("--user")         ? &o.user
                         : is("--expect")       ? &o.expect
                         : is("--row")          ? &o.row
                         : is("--max_hold_row") ? &o.max_hold_row
                                                : &o.raw;
      if (!value(dst)) return usage(a + " needs a value");
    } else if (is("--nth") || is("--iterations") || is("--top") || is("--timeout")) {
      uint64_t n = 0;
      if (!value(&v) || !absl::SimpleAtoi(v, &n)) return usage(a + " needs a number");
      if (is("--nth")) o.nth = n;
      if (is("--iterations")) o.iterations = n;
      if (is("--top")) o.top = static_cast<int>(n);
      if (is("--timeout")) o.timeout = static_cast<int>(n);
    } else if (absl::StartsWith(a, "--")) {
      o.runner_args.push_back(a);
      // A runner option's value comes along (flags without one: --el2, --uboot).
      if (a.find('=') == std::string::npos && a != "--el2" && a != "--uboot" && a != "--icount" &&
          i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
        o.runner_args.push_back(args[++i]);
      }
    } else if (o.target.empty()) {
      o.target = a;
    } else {
      return usage("unexpected argument '" + a + "'");
    }
  }
  if (o.target.empty()) return usage("say what to profile: a scenario or an image");
  if (runner.empty() || plugin.empty()) return usage("--runner_tool and --plugin_tool come from the BUILD rule");

  // What to run and where the window is.
  std::string image;
  const Scenario* scenario = nullptr;
  for (const Scenario& s : kScenarios) {
    if (o.target == s.name) scenario = &s;
  }
  if (scenario != nullptr) {
    image = scenario->bench ? bench_image : boot_image;
    if (scenario->bench) {
      if (o.from.empty()) o.from = "bench_window_open";
      if (o.to.empty()) o.to = "bench_window_close";
      if (o.expect.empty()) o.expect = "^BENCH DONE";
    } else {
      if (o.to.empty()) o.to = "report_boot_time";
      if (o.expect.empty()) o.expect = "^keel ready:";
    }
    if (!o.nth && scenario->nth != 0) o.nth = scenario->nth;
    if (!o.iterations && scenario->iterations != 0) o.iterations = scenario->iterations;
  } else {
    image = o.target;
    if (image[0] != '/' && access(image.c_str(), R_OK) != 0) {
      if (const char* wd = getenv("BUILD_WORKING_DIRECTORY")) image = absl::StrCat(wd, "/", image);
    }
    if (access(image.c_str(), R_OK) != 0) return usage("'" + o.target + "' is neither a scenario nor a readable image");
  }
  if (o.expect.empty()) return usage("say when to stop: --expect RE (a console line)");
  const std::string stem = absl::EndsWith(image, ".bin") ? image.substr(0, image.size() - 4) : image;
  const std::string kernel_elf = stem + ".kernel.elf", boot_elf = stem + ".boot.elf";
  if (o.user.empty()) o.user = stem + ".init.elf";
  for (std::string* f : {&o.user}) {
    if (access(f->c_str(), R_OK) != 0) {
      std::cerr << "profile: no user ELF " << *f << " (EL0 code stays unnamed; --user ELF names it)\n";
      f->clear();
    }
  }
  std::vector<std::string> lookup_elfs;
  if (!o.user.empty()) lookup_elfs.push_back(o.user);
  if (access(kernel_elf.c_str(), R_OK) == 0) lookup_elfs.push_back(kernel_elf);

  std::string error;
  char dir[] = "/tmp/keel-profile-XXXXXX";
  if (mkdtemp(dir) == nullptr) return usage("cannot make a temporary directory");
  const std::string out = o.raw.empty() ? std::string(dir) + "/counts" : o.raw;
  std::string spec = absl::StrCat(plugin[0] == '/' ? "" : std::string(getenv("PWD") ? getenv("PWD") : ".") + "/",
                                  plugin, ",out=", out);
  for (auto [name, sym] : {std::pair{"from", &o.from}, std::pair{"to", &o.to}}) {
    if (sym->empty()) continue;
    auto addr = resolve(*sym, lookup_elfs, &error);
    if (!addr) return usage(error);
    absl::StrAppend(&spec, ",", name, "=", absl::Hex(*addr));
  }
  if (o.nth) absl::StrAppend(&spec, ",nth=", *o.nth);
  const bool have_lock = [&] {
    std::string ignored;
    auto addr = resolve("keel::g_kernel_lock", {kernel_elf}, &ignored);
    if (addr) absl::StrAppend(&spec, ",lock=", absl::Hex(*addr));
    return addr.has_value();
  }();

  std::vector<std::string> cmd = {runner,     "--image",  image,
                                  "--icount", "--plugin", spec,
                                  "--expect", o.expect,   absl::StrCat("--timeout=", o.timeout)};
  cmd.insert(cmd.end(), o.runner_args.begin(), o.runner_args.end());
  int status = 0;
  auto log = capture(cmd, "", true, &status);
  std::ifstream counts(out);
  std::string magic, version;
  if (!log || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !(counts >> magic >> version) ||
      magic != "keel-profile") {
    std::cerr << "profile: the guest run failed; the runner said:\n" << (log ? *log : std::string("(nothing)")) << "\n";
    return 1;
  }
  uint64_t windows = 0, total = 0, held = 0, longest = 0, longest_start = 0, longest_end = 0;
  std::string word;
  counts >> word >> windows >> word >> total >> word >> held;
  counts >> word >> longest >> std::hex >> longest_start >> longest_end >> std::dec;
  struct Count {
    uint64_t pc, n, held;
  };
  std::vector<Count> all;
  for (Count c; counts >> std::hex >> c.pc >> std::dec >> c.n >> c.held;) all.push_back(c);
  if (o.nth && windows < *o.nth) {
    std::cerr << "profile: the guest opened " << windows << " window(s), not " << *o.nth << "\n";
    return 1;
  }
  const double div = o.iterations ? static_cast<double>(*o.iterations) : 1.0;
  // Per iteration to a tenth; totals as integers.
  auto number = [&](uint64_t n) {
    return o.iterations ? absl::StrFormat("%.1f", static_cast<double>(n) / div) : absl::StrCat(n);
  };
  if (!o.row.empty()) {
    const uint64_t per = held / (o.iterations ? *o.iterations : 1);  // (rounded down, like the PMU rows)
    // Under -icount shift=0 QEMU's cycle counter advances one per instruction.
    std::cout << absl::StrFormat("%s %d instructions %d cycles\n", o.row, per, per);
    return have_lock ? 0 : 1;
  }
  if (!o.max_hold_row.empty()) {  // the longest single hold of the window
    std::cout << absl::StrFormat("%s %d instructions %d cycles\n", o.max_hold_row, longest, longest);
    return have_lock ? 0 : 1;
  }

  // Symbolize, by module.
  std::map<std::string, std::vector<size_t>> by_module;
  auto module_of = [&](uint64_t pc) -> std::string {
    if (pc >= kKernelBase) return "kernel";
    if (pc >= kBootLoad && pc < kBootLoad + (8u << 20)) return "boot";
    return "user";
  };
  for (size_t i = 0; i < all.size(); ++i) by_module[module_of(all[i].pc)].push_back(i);
  std::vector<Where> where(all.size());
  for (auto& [module, idx] : by_module) {
    std::vector<uint64_t> addrs;
    for (size_t i : idx) addrs.push_back(module == "boot" ? all[i].pc - kBootLoad : all[i].pc);
    const std::string elf = module == "kernel" ? kernel_elf : module == "boot" ? boot_elf : o.user;
    std::vector<Where> w = symbolize(module, access(elf.c_str(), R_OK) == 0 ? elf : "", addrs);
    for (size_t k = 0; k < idx.size(); ++k) where[idx[k]] = w[k];
  }
  struct Sum {
    uint64_t n = 0, held = 0;
  };
  std::map<std::string, Sum> functions, stages, modules;
  for (size_t i = 0; i < all.size(); ++i) {
    for (auto [table, key] :
         {std::pair{&functions, where[i].module + " " + where[i].function},
          std::pair{&stages, where[i].module + " " + where[i].stage}, std::pair{&modules, where[i].module}}) {
      (*table)[key].n += all[i].n;
      (*table)[key].held += all[i].held;
    }
  }
  std::cout << absl::StrFormat("keel profile of %s", scenario != nullptr ? scenario->name : image);
  if (!o.from.empty() || !o.to.empty()) {
    std::cout << absl::StrFormat(": window %s..%s", o.from.empty() ? "reset" : o.from, o.to.empty() ? "exit" : o.to);
    if (o.nth) std::cout << absl::StrFormat(" (#%d of %d)", *o.nth, windows);
  }
  std::cout << "\n";
  const char* unit = o.iterations ? "per iteration" : "total";
  std::cout << absl::StrFormat("instructions: %s %s%s", number(total), unit,
                               o.iterations ? absl::StrFormat(" (%d iterations)", *o.iterations) : "");
  if (have_lock) std::cout << absl::StrFormat(", %s holding the kernel lock", number(held));
  std::cout << "\n";
  if (have_lock && longest != 0) {
    std::vector<Where> ends =
        symbolize("kernel", access(kernel_elf.c_str(), R_OK) == 0 ? kernel_elf : "", {longest_start, longest_end});
    std::cout << absl::StrFormat("longest single hold of the lock: %d instructions, from %s to %s\n", longest,
                                 ends.size() > 0 ? ends[0].function : "?", ends.size() > 1 ? ends[1].function : "?");
  }
  auto table = [&](const char* title, const std::map<std::string, Sum>& m, int rows) {
    std::vector<std::pair<std::string, Sum>> v(m.begin(), m.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.n > b.second.n; });
    std::cout << absl::StrFormat("\n%12s %6s %10s  %s\n", unit, "share", "lock held", title);
    for (int r = 0; r < rows && r < static_cast<int>(v.size()); ++r) {
      const Sum& s = v[r].second;
      std::cout << absl::StrFormat("%12s %5.1f%% %10s  %s\n", number(s.n),
                                   100.0 * static_cast<double>(s.n) / static_cast<double>(total ? total : 1),
                                   number(s.held), shorten(v[r].first, 100));
    }
  };
  table("module", modules, 8);
  table("stage (source file of the code, after inlining)", stages, o.top);
  table("function", functions, o.top);
  if (!o.raw.empty()) std::cout << "\nraw counts (pc count held): " << o.raw << "\n";
  std::string ignored = absl::StrCat("rm -rf ", dir);
  (void)!system(ignored.c_str());
  return 0;
}

}  // namespace
}  // namespace keel::tools

int main(int argc, char** argv) { return keel::tools::run(argc, argv); }
