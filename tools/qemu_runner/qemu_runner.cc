// qemu_runner — boots a keel image in QEMU, interactively or as a test.
//
// Interactive (no --expect): QEMU's console is your terminal (Ctrl-A X
// quits); backtraces are symbolized as they scroll by.
// Test (--expect given): QEMU runs headless; the run passes when every
// --expect regex has matched a console line (or its symbolization), and fails
// on a timeout (silence), on an early QEMU exit, or on a failure marker
// (KERNEL PANIC:, PREFLIGHT FAILED, boot stopped) unless --expect_failure.
//
// Used by `bazel run //:qemu -- [options]` and by every QEMU test.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tools/common/exec.h"
#include "tools/common/net.h"
#include "tools/qemu_runner/options.h"
#include "tools/symbolize/symbolizer.h"

ABSL_FLAG(std::string, image, "", "the image to boot (a keel_image output)");
ABSL_FLAG(std::vector<std::string>, elf, {}, "MODULE=ELF pairs for symbolizing backtraces (comma-separated)");
ABSL_FLAG(std::string, cpu, "cortex-a72", "CPU model");
ABSL_FLAG(int, smp, 1, "number of CPUs");
ABSL_FLAG(std::string, mem, "512M", "RAM size, e.g. 128M or 2G");
ABSL_FLAG(bool, el2, false, "enter keel at EL2 (virtualization=on)");
ABSL_FLAG(bool, pci_net, false, "with --net or --net_dgram: the network device as a virtio-net-pci function");
ABSL_FLAG(bool, iommu, false, "an SMMUv3 in front of the PCIe devices (virt's iommu=smmuv3)");
ABSL_FLAG(int, gic, 0, "GIC version, 2 or 3 (0: QEMU's default)");
ABSL_FLAG(bool, uboot, false, "boot through Debian's U-Boot (booti)");
ABSL_FLAG(std::string, load_addr, "",
          "with --uboot: load the image at this PA and boot it with an explicit booti command");
ABSL_FLAG(std::string, dtb, "", "hand the guest this DTB instead of QEMU's own");
ABSL_FLAG(std::string, append, "", "the guest's /chosen/bootargs (QEMU -append)");
ABSL_FLAG(std::string, net_dgram, "", "the network device on a UDP socket pair LOCALPORT:REMOTEPORT on 127.0.0.1");
ABSL_FLAG(std::string, plugin, "", "a QEMU TCG plugin: FILE.so[,name=value...] (QEMU -plugin)");
ABSL_FLAG(bool, icount, false, "deterministic instruction counting (-icount shift=0,sleep=off)");
ABSL_FLAG(bool, trace, false, "log exceptions and MMU faults (-d int,mmu,guest_errors) to a file");
// --expect may be given many times (absl flags keep only the last value, so
// main() collects the occurrences before absl parses the rest).
ABSL_FLAG(std::string, expect, "", "test mode: a regex that must match a console line; repeatable");
ABSL_FLAG(std::string, fail_on, "", "test mode: a regex that fails the run when a line matches; repeatable");
ABSL_FLAG(bool, expect_failure, false, "test mode: failure markers are expected, not fatal");
ABSL_FLAG(std::string, hold_file, "",
          "test mode: once every --expect matched, create this file and keep the guest running until the "
          "file is removed (a host-side test talks to it meanwhile); --fail_on still applies");
ABSL_FLAG(std::string, input_every, "",
          "test mode, with --hold_file: MS:COUNT|TEXT types TEXT every MS milliseconds, COUNT times, once the "
          "guest is held (crash a driver again and again while the host side works)");
ABSL_FLAG(std::string, type_file, "",
          "test mode: whenever this file appears, type its contents at the guest's console and remove it "
          "(a host-side test's way to give commands; write it elsewhere and rename it into place: a file "
          "seen between its creation and its write is typed empty)");
ABSL_FLAG(bool, expect_exit, false, "test mode: after the expectations, QEMU must exit on its own");
ABSL_FLAG(int, timeout, 30, "test mode: seconds before the run counts as silent/hung");
ABSL_FLAG(bool, dry_run, false, "print the QEMU command line and exit");
ABSL_FLAG(std::string, input_on, "",
          "test mode: SUBSTRING|TEXT — when a console line contains SUBSTRING, type TEXT (\\n for Enter, \\e for Esc, "
          "\\c for Ctrl-C); SUBSTRING may be A&&B&&...: once each has been in some line, in any order; "
          "repeatable, each rule fires once");
ABSL_FLAG(bool, gdb, false, "start QEMU halted and attach gdb-multiarch with keel's symbols and commands");
ABSL_FLAG(std::string, gdb_script, "", "keel's gdb commands (tools/gdb/keel.py), for --gdb");
ABSL_FLAG(std::string, esr_tool, "", "the ESR decoder (tools/esr_decode), for --gdb");

namespace keel::tools {
namespace {

using Clock = std::chrono::steady_clock;

const char* const kFailureMarkers[] = {"KERNEL PANIC:", "PREFLIGHT FAILED", "boot stopped:"};

struct Child {
  pid_t pid = -1;
  int out = -1;  // QEMU's stdout+stderr
  int in = -1;   // QEMU's stdin, when piped
};

// own_group: QEMU gets a process group of its own, so a Ctrl-C at the
// terminal (SIGINT to the foreground group) does not reach it — for the
// debugger, where Ctrl-C belongs to gdb, which interrupts the guest through
// the gdbstub. (Not when QEMU reads the terminal itself: a background group
// reading it would be stopped.)
Child spawn(const std::vector<std::string>& argv, bool pipe_stdin, bool own_group = false) {
  int out[2], in[2] = {-1, -1};
  if (pipe(out) != 0 || (pipe_stdin && pipe(in) != 0)) {
    perror("qemu_runner: pipe");
    std::exit(2);
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // QEMU must not outlive the runner (a test timeout, Ctrl-C on bazel run).
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    if (own_group) setpgid(0, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    close(out[0]);
    close(out[1]);
    if (pipe_stdin) {
      dup2(in[0], 0);
      close(in[0]);
      close(in[1]);
    }
    exec_or_exit(argv);
  }
  close(out[1]);
  if (pipe_stdin) close(in[0]);
  return Child{pid, out[0], pipe_stdin ? in[1] : -1};
}

std::string trace_path() {
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/keel-qemu-", getpid(), ".log");
}

std::vector<std::string> g_expects;
std::vector<std::string> g_fail_on;
std::vector<std::string> g_input_on;
std::vector<std::string> g_drives;
std::vector<std::string> g_pci_drives;
bool g_net = false;
std::vector<std::string> g_net_forwards;

// Removes every --expect / --fail_on / --input_on (=VALUE or VALUE as the next
// word) from argv.
std::vector<char*> take_expects(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    bool taken = false;
    // --net [FWD,...] | --net=FWD,...: the forwards are optional, so a bare
    // --net (last, or before another option) means none.
    if (a == "--net" || absl::StartsWith(a, "--net=")) {
      g_net = true;
      std::string v = a == "--net" ? (i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "") : a.substr(6);
      for (absl::string_view f : absl::StrSplit(v, ',', absl::SkipEmpty())) g_net_forwards.emplace_back(f);
      continue;
    }
    for (auto [flag, list] :
         {std::pair{std::string("--expect"), &g_expects}, std::pair{std::string("--fail_on"), &g_fail_on},
          std::pair{std::string("--input_on"), &g_input_on}, std::pair{std::string("--drive"), &g_drives},
          std::pair{std::string("--pci_drive"), &g_pci_drives}}) {
      if (absl::StartsWith(a, flag + "=")) {
        list->push_back(a.substr(flag.size() + 1));
        taken = true;
      } else if (a == flag && i + 1 < argc) {
        list->push_back(argv[++i]);
        taken = true;
      }
    }
    if (!taken) rest.push_back(argv[i]);
  }
  return rest;
}

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

// A path the user typed is relative to where they ran `bazel run`.
std::string user_path(const std::string& path) {
  if (path.empty() || path[0] == '/' || access(path.c_str(), R_OK) == 0) return path;
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  return wd != nullptr ? absl::StrCat(wd, "/", path) : path;
}

bool wait_for_port(int port, int ms) {
  for (int waited = 0; waited < ms; waited += 50) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok) return true;
    usleep(50 * 1000);
  }
  return false;
}

// --gdb: QEMU halted at the reset vector with its gdbstub on a free local
// port, console to a file; gdb-multiarch attached with the kernel's symbols
// at their link addresses, the boot stage's at its load address, sources from
// the workspace, and keel's commands (tools/gdb/keel.py).
int run_debugger(RunOptions o, const std::map<std::string, std::string>& modules) {
  o.gdb_port = free_local_port();
  if (o.gdb_port == 0) {
    std::cerr << "qemu_runner: no free local TCP port for the gdbstub\n";
    return 1;
  }
  o.serial_file = absl::StrCat("/tmp/keel-console-", getpid(), ".log");
  std::vector<std::string> cmd;
  std::string error;
  if (!build_qemu_command(o, &cmd, &error)) {
    std::cerr << "qemu_runner: " << error << "\n\n" << kOptionHelp;
    return 2;
  }
  const char* ws_env = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  std::string ws = ws_env != nullptr ? ws_env : absolute(".");
  std::string script = absl::StrCat("/tmp/keel-gdb-", getpid(), ".gdb");
  FILE* f = std::fopen(script.c_str(), "w");
  if (f == nullptr) {
    std::cerr << "qemu_runner: cannot write " << script << "\n";
    return 1;
  }
  std::fprintf(f, "set pagination off\nset confirm off\ndirectory %s\n", ws.c_str());
  if (auto k = modules.find("kernel"); k != modules.end()) std::fprintf(f, "file %s\n", absolute(k->second).c_str());
  if (auto b = modules.find("boot"); b != modules.end()) {
    std::fprintf(f, "add-symbol-file %s -o 0x%llx\n", absolute(b->second).c_str(),
                 static_cast<unsigned long long>(boot_load_base(o)));
  }
  std::string py = absl::GetFlag(FLAGS_gdb_script), esr = absl::GetFlag(FLAGS_esr_tool);
  if (!py.empty()) {
    std::fprintf(f, "source %s\n", absolute(py).c_str());
    if (!esr.empty()) std::fprintf(f, "python ESR_TOOL = \"%s\"\n", absolute(esr).c_str());
  }
  std::fprintf(f, "target remote 127.0.0.1:%d\n", o.gdb_port);
  std::fprintf(f, "echo \\nkeel: QEMU is halted at its first instruction. Console output: %s\\n\n",
               o.serial_file.c_str());
  std::fprintf(
      f, "echo keel: commands: keel-state, keel-esr [VALUE], keel-walk VA. Try: break kernel_main, continue\\n\n");
  std::fclose(f);

  std::cerr << "qemu_runner: " << absl::StrJoin(cmd, " ") << "\n";
  if (absl::GetFlag(FLAGS_dry_run)) return 0;
  Child qemu = spawn(cmd, false, /*own_group=*/true);
  if (!wait_for_port(o.gdb_port, 5000)) {
    std::cerr << "qemu_runner: QEMU's gdbstub did not come up on port " << o.gdb_port << "\n";
    kill(qemu.pid, SIGTERM);
    return 1;
  }
  pid_t gdb = fork();
  if (gdb == 0) {
    if (chdir(ws.c_str()) != 0) _exit(127);
    execlp("gdb-multiarch", "gdb-multiarch", "-q", "-x", script.c_str(), static_cast<char*>(nullptr));
    std::perror("qemu_runner: gdb-multiarch");
    _exit(127);
  }
  signal(SIGINT, SIG_IGN);  // Ctrl-C belongs to gdb (it interrupts the guest)
  int status = 0;
  waitpid(gdb, &status, 0);
  kill(qemu.pid, SIGTERM);
  waitpid(qemu.pid, nullptr, 0);
  std::cerr << "qemu_runner: console output was saved in " << o.serial_file << "\n";
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// Unknown options get our own message and the list of valid ones.
// Before the flag library sees the command line: -h/--help print the list
// (exit 0); an unknown option, or one missing its value, is named with the
// list (exit 2). Returns -1 when the command line may be parsed.
int check_command_line(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") break;
    if (a == "-h" || a == "--help" || a == "-help" || a == "--helpfull") {
      std::cout << kOptionHelp;
      return 0;
    }
    if (!absl::StartsWith(a, "-")) continue;
    const std::string bare = a.substr(a.find_first_not_of('-'));
    const bool has_value = bare.find('=') != std::string::npos;
    std::string name = bare.substr(0, bare.find('='));
    if (absl::StartsWith(name, "no") && absl::FindCommandLineFlag(name.substr(2)) != nullptr) continue;
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      std::cerr << "qemu_runner: unknown option --" << name << "\n\n" << kOptionHelp;
      return 2;
    }
    if (!has_value && !flag->IsOfType<bool>()) {
      if (i + 1 >= argc || absl::StartsWith(argv[i + 1], "--")) {
        std::cerr << "qemu_runner: --" << name << " needs a value\n\n" << kOptionHelp;
        return 2;
      }
      ++i;  // its value
    }
  }
  return -1;
}

int run(int argc, char** argv) {
  RunOptions o;
  o.image = user_path(absl::GetFlag(FLAGS_image));
  o.cpu = absl::GetFlag(FLAGS_cpu);
  o.smp = absl::GetFlag(FLAGS_smp);
  o.mem = absl::GetFlag(FLAGS_mem);
  o.el2 = absl::GetFlag(FLAGS_el2);
  o.gic = absl::GetFlag(FLAGS_gic);
  o.uboot = absl::GetFlag(FLAGS_uboot);
  o.load_addr = absl::GetFlag(FLAGS_load_addr);
  o.icount = absl::GetFlag(FLAGS_icount);
  o.dtb = user_path(absl::GetFlag(FLAGS_dtb));
  o.append = absl::GetFlag(FLAGS_append);
  o.plugin = user_path(absl::GetFlag(FLAGS_plugin));
  for (const std::string& d : g_drives) o.drives.push_back(user_path(d));
  for (const std::string& d : g_pci_drives) o.pci_drives.push_back(user_path(d));
  o.iommu = absl::GetFlag(FLAGS_iommu);
  o.pci_net = absl::GetFlag(FLAGS_pci_net);
  o.net = g_net;
  o.net_forwards = g_net_forwards;
  o.net_dgram = absl::GetFlag(FLAGS_net_dgram);
  o.interactive = g_expects.empty();
  if (absl::GetFlag(FLAGS_trace)) o.trace_file = trace_path();
  if (argc > 1) {
    std::cerr << "qemu_runner: unexpected argument '" << argv[1] << "'\n\n" << kOptionHelp;
    return 2;
  }
  std::string error;
  std::vector<std::string> cmd;
  if (!build_qemu_command(o, &cmd, &error)) {
    std::cerr << "qemu_runner: " << error << "\n\n" << kOptionHelp;
    return 2;
  }
  std::map<std::string, std::string> modules;
  if (!Symbolizer::parse_modules(absl::GetFlag(FLAGS_elf), &modules, &error)) {
    std::cerr << "qemu_runner: " << error << "\n";
    return 2;
  }
  // An image named on the command line brings its own ELF files (mkimage's
  // siblings: NAME.bin -> NAME.kernel.elf, NAME.boot.elf).
  if (absl::EndsWith(o.image, ".bin")) {
    std::string stem = o.image.substr(0, o.image.size() - 4);
    for (const char* m : {"kernel", "boot"}) {
      std::string elf = absl::StrCat(stem, ".", m, ".elf");
      if (access(elf.c_str(), R_OK) == 0) modules[m] = elf;
    }
  }
  if (absl::GetFlag(FLAGS_gdb)) return run_debugger(o, modules);
  Symbolizer sym(modules);
  std::vector<std::regex> expects;
  const std::vector<std::string>& expect_src = g_expects;
  for (const std::string& e : expect_src) {
    try {
      expects.emplace_back(e);
    } catch (const std::regex_error& err) {
      std::cerr << "qemu_runner: bad --expect regex '" << e << "': " << err.what() << "\n";
      return 2;
    }
  }
  std::vector<std::regex> fail_on;
  for (const std::string& e : g_fail_on) {
    try {
      fail_on.emplace_back(e);
    } catch (const std::regex_error& err) {
      std::cerr << "qemu_runner: bad --fail_on regex '" << e << "': " << err.what() << "\n";
      return 2;
    }
  }
  std::cerr << "qemu_runner: " << absl::StrJoin(cmd, " ") << "\n";
  if (!o.trace_file.empty()) std::cerr << "qemu_runner: QEMU trace log: " << o.trace_file << "\n";
  if (absl::GetFlag(FLAGS_dry_run)) return 0;
  if (o.interactive && !o.uboot_manual()) std::cerr << "qemu_runner: Ctrl-A X quits QEMU\n";

  signal(SIGPIPE, SIG_IGN);
  Child child = spawn(cmd, !o.interactive || o.uboot_manual());
  std::vector<bool> matched(expects.size(), false);
  size_t unmatched = expects.size();
  std::string line, last_line;
  size_t flushed = 0;                           // bytes of `line` already echoed
  std::optional<Clock::time_point> failure_at;  // when a failure marker appeared
  std::string failure_line;
  bool sent_boot = false;
  // --input_on rules: the text to type once every part of the trigger
  // (A&&B&&...) has been in some console line.
  struct InputRule {
    std::vector<std::string> parts;
    std::vector<bool> seen;
    std::string text;
    bool sent = false;
  };
  std::vector<InputRule> inputs;
  for (const std::string& spec : g_input_on) {
    size_t bar = spec.find('|');
    InputRule rule;
    if (bar != std::string::npos) rule.parts = absl::StrSplit(spec.substr(0, bar), "&&");
    if (bar == std::string::npos ||
        std::any_of(rule.parts.begin(), rule.parts.end(), [](const std::string& p) { return p.empty(); })) {
      std::cerr << "qemu_runner: --input_on takes SUBSTRING|TEXT (SUBSTRING: one or more non-empty parts joined by "
                   "&&), got '"
                << spec << "'\n";
      return 2;
    }
    rule.seen.assign(rule.parts.size(), false);
    rule.text = absl::StrReplaceAll(spec.substr(bar + 1), {{"\\n", "\n"}, {"\\e", "\x1b"}, {"\\c", "\x03"}});
    inputs.push_back(std::move(rule));
  }
  std::string line_for_input;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(absl::GetFlag(FLAGS_timeout));
  bool qemu_exited = false;
  int qemu_status = 0;
  const std::string hold_file = absl::GetFlag(FLAGS_hold_file);
  bool held = false;  // the hold file was created (every expectation met)
  // --input_every=MS:COUNT|TEXT
  uint64_t every_ms = 0, every_left = 0;
  std::string every_text;
  if (const std::string spec = absl::GetFlag(FLAGS_input_every); !spec.empty()) {
    const size_t bar = spec.find('|'), colon = spec.find(':');
    if (bar == std::string::npos || colon == std::string::npos || colon > bar ||
        !absl::SimpleAtoi(spec.substr(0, colon), &every_ms) ||
        !absl::SimpleAtoi(spec.substr(colon + 1, bar - colon - 1), &every_left) || every_ms == 0) {
      std::cerr << "qemu_runner: --input_every takes MS:COUNT|TEXT, got '" << spec << "'\n";
      return 2;
    }
    every_text = absl::StrReplaceAll(spec.substr(bar + 1), {{"\\n", "\n"}});
  }
  auto every_last = Clock::now();
  const std::string type_file = absl::GetFlag(FLAGS_type_file);

  auto consider = [&](const std::string& text) {
    for (size_t i = 0; i < expects.size(); ++i) {
      if (!matched[i] && std::regex_search(text, expects[i])) {
        matched[i] = true;
        --unmatched;
      }
    }
  };
  auto finish_line = [&](std::string l) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    last_line = l;
    consider(l);
    if (auto e = parse_backtrace_line(l)) {
      std::string d = "        -> " + sym.describe(*e);
      std::cout << d << (o.interactive ? "\r\n" : "\n") << std::flush;
      consider(d);
    }
    bool failure = false;
    for (const char* m : kFailureMarkers) failure |= absl::StrContains(l, m);
    for (const std::regex& re : fail_on) failure |= std::regex_search(l, re);
    if (failure && !failure_at) {
      failure_at = Clock::now();
      failure_line = l;
    }
  };

  for (;;) {
    if (!o.interactive) {
      bool failure_fatal = failure_at && !absl::GetFlag(FLAGS_expect_failure);
      // A failure marker: collect its report for a moment, then stop.
      if (failure_fatal && Clock::now() - *failure_at > std::chrono::milliseconds(1500)) break;
      if (unmatched == 0 && !hold_file.empty() && !held) {
        if (FILE* f = std::fopen(hold_file.c_str(), "w")) std::fclose(f);
        held = true;
      }
      if (held && access(hold_file.c_str(), F_OK) != 0) break;  // the host side is done
      if (!type_file.empty() && child.in >= 0 && access(type_file.c_str(), F_OK) == 0) {
        std::ifstream f(type_file);
        const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        (void)!write(child.in, text.data(), text.size());
        (void)std::remove(type_file.c_str());
      }
      if (held && every_left > 0 && child.in >= 0 && Clock::now() - every_last >= std::chrono::milliseconds(every_ms)) {
        (void)!write(child.in, every_text.data(), every_text.size());
        every_last = Clock::now();
        --every_left;
      }
      if (unmatched == 0 && hold_file.empty() && !absl::GetFlag(FLAGS_expect_exit) && !failure_fatal) {
        // Give a backtrace being printed a moment to finish.
        if (!failure_at || Clock::now() - *failure_at > std::chrono::milliseconds(500)) break;
      }
      if (Clock::now() > deadline) break;
    }
    pollfd fds[2] = {{child.out, POLLIN, 0}, {o.uboot_manual() && o.interactive ? 0 : -1, POLLIN, 0}};
    int r = poll(fds, 2, 100);
    if (r < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      char buf[256];
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0 && child.in >= 0) (void)!write(child.in, buf, static_cast<size_t>(n));
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      char buf[4096];
      ssize_t n = read(child.out, buf, sizeof buf);
      if (n <= 0) {
        waitpid(child.pid, &qemu_status, 0);
        qemu_exited = true;
        break;
      }
      // Echo as it arrives (interactive use needs partial lines), and put each
      // backtrace line's symbolization right under it.
      line_for_input.append(buf, static_cast<size_t>(n));
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          line.push_back(buf[i]);
          continue;
        }
        std::cout << line.substr(flushed) << '\n';
        flushed = 0;
        finish_line(line);
        line.clear();
      }
      std::cout << line.substr(flushed) << std::flush;
      flushed = line.size();
      // Typed input for tests (once per rule).
      for (InputRule& rule : inputs) {
        if (rule.sent || child.in < 0) continue;
        bool all = true;
        for (size_t j = 0; j < rule.parts.size(); ++j) {
          if (!rule.seen[j]) rule.seen[j] = absl::StrContains(line_for_input, rule.parts[j]);
          all = all && rule.seen[j];
        }
        if (all) {
          (void)!write(child.in, rule.text.data(), rule.text.size());
          rule.sent = true;
        }
      }
      // Keep the unfinished line: QEMU may deliver it a character at a time.
      if (size_t nl = line_for_input.rfind('\n'); nl != std::string::npos) line_for_input.erase(0, nl + 1);
      // U-Boot: interrupt autoboot, then boot the image at --load_addr.
      if (o.uboot_manual() && !sent_boot && absl::StrContains(line, "Hit any key to stop autoboot")) {
        std::string keys = "\n";
        (void)!write(child.in, keys.data(), keys.size());
        usleep(300 * 1000);
        // U-Boot swallows a couple of characters after the key: lead with spaces.
        std::string booti = absl::StrCat("   booti ", o.load_addr, " - ${fdtcontroladdr}\n");
        (void)!write(child.in, booti.data(), booti.size());
        sent_boot = true;
      }
    }
  }
  if (!line.empty()) {
    std::cout << line.substr(flushed) << '\n';
    finish_line(line);
  }
  if (!qemu_exited) {
    kill(child.pid, SIGTERM);
    waitpid(child.pid, &qemu_status, 0);
  }
  if (o.interactive) return 0;

  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "\n";
  bool failure_fatal = failure_at && !absl::GetFlag(FLAGS_expect_failure);
  if (failure_fatal) {
    std::cout << "qemu_runner: FAIL: failure reported by the guest: " << failure_line << "\n";
    return 1;
  }
  if (unmatched != 0) {
    std::vector<std::string> missing;
    for (size_t i = 0; i < expects.size(); ++i) {
      if (!matched[i]) missing.push_back("'" + expect_src[i] + "'");
    }
    if (qemu_exited) {
      std::cout << absl::StrFormat("qemu_runner: FAIL: QEMU exited (status %d) after %.1fs before printing %s\n",
                                   qemu_status, secs, absl::StrJoin(missing, ", "));
    } else {
      std::cout << absl::StrFormat(
          "qemu_runner: FAIL: timed out after %.1fs (silent or hung) waiting for %s; "
          "last line: '%s'\n",
          secs, absl::StrJoin(missing, ", "), last_line);
    }
    return 1;
  }
  if (held && access(hold_file.c_str(), F_OK) == 0) {
    std::cout << absl::StrFormat("qemu_runner: FAIL: %s after %.1fs while the host side still held it (%s)\n",
                                 qemu_exited ? "QEMU exited" : "timed out", secs, hold_file);
    (void)std::remove(hold_file.c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_expect_exit) && !qemu_exited) {
    std::cout << absl::StrFormat("qemu_runner: FAIL: QEMU did not exit within %.1fs\n", secs);
    return 1;
  }
  std::cout << absl::StrFormat("qemu_runner: PASS: %zu expectation(s) met in %.2fs\n", expects.size(), secs);
  return 0;
}

}  // namespace
}  // namespace keel::tools

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(keel::tools::kOptionHelp);
  std::vector<char*> args = keel::tools::take_expects(argc, argv);
  if (int rc = keel::tools::check_command_line(static_cast<int>(args.size()), args.data()); rc >= 0) return rc;
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  return keel::tools::run(static_cast<int>(rest.size()), rest.data());
}
