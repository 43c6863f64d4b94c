// doctor.cc — bazel run //tools/doctor -- --image FILE [options]
//
// Boots someone else's AArch64 kernel (an ELF, an arm64 Linux-format Image,
// or a raw binary with --load_addr) on QEMU virt with the gdbstub and QEMU's
// exception log, waits until it hangs (console silent, an exception storm)
// or the timeout, stops it, reads its registers and translation tables, and
// explains in plain words why it hangs at MMU enable (diagnose.cc).
// docs/doctor.md walks through it.
//
// It stops what it starts: QEMU runs in its own process group and is killed
// when the doctor ends, however it ends.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "keel/devices.h"
#include "kernel/dtb/dtb.h"
#include "kernel/lib/elf/elf.h"
#include "tools/common/exec.h"
#include "tools/common/net.h"
#include "tools/doctor/diagnose.h"
#include "tools/doctor/rsp.h"
#include "tools/qemu_runner/options.h"

namespace keel::doctor {
namespace {

using Clock = std::chrono::steady_clock;

pid_t g_qemu = -1;  // QEMU's process group, killed on every exit path

void kill_qemu() {
  if (g_qemu > 0) {
    kill(-g_qemu, SIGKILL);
    waitpid(g_qemu, nullptr, 0);
    g_qemu = -1;
  }
}

void on_signal(int sig) {
  kill_qemu();
  signal(sig, SIG_DFL);
  raise(sig);
}

int usage(const std::string& why) {
  if (!why.empty()) std::cerr << "doctor: " << why << "\n\n";
  std::cerr << "usage: bazel run //tools/doctor -- --image FILE [--timeout S] [--quiet S] [--cpu MODEL] [--smp N]\n"
               "         [--mem SIZE] [--el2] [--gic 2|3] [--load_addr PA] [--bios]\n"
               "  FILE: an ELF (loaded at its physical addresses), an arm64 Linux-format Image, a raw\n"
               "        binary with --load_addr (the PA to load it at and start it from), or with --bios\n"
               "        firmware run from the flash at 0 (QEMU's -bios: U-Boot's u-boot.bin)\n"
               "  --timeout S  stop after S seconds even if the kernel still talks (default 10)\n"
               "  --quiet S    a console silent for S seconds counts as hung (default 2)\n";
  return why.empty() ? 0 : 2;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

off_t file_size(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// What the image is and where its code goes.
struct Image {
  enum Kind { kElf, kLinuxImage, kRaw, kFirmware } kind = kRaw;
  std::vector<uint64_t> sctlr_writes;       // PAs of `msr sctlr_el1/el2, xt`
  std::map<uint64_t, std::string> symbols;  // address -> name (ELF with symbols)
  uint64_t load = 0;                        // raw / Image: where it is loaded
};

uint64_t le(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes && at + i < b.size(); ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(b[at + i])) << (8 * i);
  return v;
}

// `msr sctlr_el1, xt` is 0xd5181000 | t; `msr sctlr_el2, xt` 0xd51c1000 | t.
void find_sctlr_writes(const std::string& bytes, size_t offset, size_t size, uint64_t pa, std::vector<uint64_t>* out) {
  for (size_t i = 0; i + 4 <= size && offset + i + 4 <= bytes.size(); i += 4) {
    const uint32_t insn = static_cast<uint32_t>(le(bytes, offset + i, 4));
    if ((insn & 0xffffffe0u) == 0xd5181000u || (insn & 0xffffffe0u) == 0xd51c1000u) out->push_back(pa + i);
  }
}

bool load_image(const std::string& path, uint64_t load_addr, uint64_t load_base, bool firmware, Image* img,
                std::string* error) {
  const std::string b = read_file(path);
  if (b.size() < 64) {
    *error = absl::StrCat(path, ": too small to be a kernel (", b.size(), " bytes)");
    return false;
  }
  if (b.compare(0, 4,
                "\x7f"
                "ELF") == 0) {
    img->kind = Image::kElf;
    // keel's bounds-checked reader: a malformed ELF is an error with a reason.
    auto elf = elf::File::open(reinterpret_cast<const uint8_t*>(b.data()), b.size());
    if (!elf.ok()) {
      *error = absl::StrCat(path, ": not an ELF the doctor can read: ", elf::last_error());
      return false;
    }
    for (size_t i = 0; i < elf.value().segment_count(); ++i) {
      const elf::Segment seg = elf.value().segment(i);
      if (seg.type != elf::kPtLoad || (seg.flags & elf::kPfX) == 0) continue;
      find_sctlr_writes(b, seg.offset, seg.file_size, seg.paddr, &img->sctlr_writes);  // (QEMU loads at the PAs)
    }
    // Symbols, through llvm-nm (function symbols only).
    std::string cmd = absl::StrCat("llvm-nm-16 --defined-only '", path, "' 2>/dev/null");
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char line[512];
      while (fgets(line, sizeof line, p) != nullptr) {
        std::vector<std::string> f = absl::StrSplit(absl::StripTrailingAsciiWhitespace(line), ' ');
        uint64_t a = 0;
        if (f.size() == 3 && (f[1] == "t" || f[1] == "T") && absl::SimpleHexAtoi(f[0], &a)) img->symbols[a] = f[2];
      }
      pclose(p);
    }
    return true;
  }
  if (firmware) {  // QEMU's -bios: the flash at 0, where the CPU starts
    img->kind = Image::kFirmware;
    img->load = 0;
    find_sctlr_writes(b, 0, b.size(), img->load, &img->sctlr_writes);
    return true;
  }
  if (b.compare(56, 4, "ARM\x64") == 0) {  // arm64 Linux Image header: where QEMU's loader puts it (the runner's rule)
    img->kind = Image::kLinuxImage;
    img->load = load_base;
    find_sctlr_writes(b, 0, b.size(), img->load, &img->sctlr_writes);
    return true;
  }
  if (load_addr == 0) {
    *error = absl::StrCat(path, ": neither an ELF nor an arm64 Image: give --load_addr PA for a raw binary");
    return false;
  }
  // QEMU's loader keeps its DTB in the first MiB of RAM when it boots a
  // raw binary: the image must start above it (and be 4-byte aligned).
  if (load_addr < 0x40100000 || load_addr % 4 != 0) {
    *error = absl::StrFormat(
        "--load_addr 0x%x: QEMU virt puts its DTB at 0x40000000..0x400fffff for a raw binary; load it 4-byte "
        "aligned at 0x40100000 or above",
        load_addr);
    return false;
  }
  img->kind = Image::kRaw;
  img->load = load_addr;
  find_sctlr_writes(b, 0, b.size(), img->load, &img->sctlr_writes);
  return true;
}

int run(int argc, char** argv) {
  tools::RunOptions o;
  o.interactive = false;
  int timeout_s = 10, quiet_s = 2;
  uint64_t load_addr = 0;
  bool firmware = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], v;
    if (a == "-h" || a == "--help") return usage("");
    auto value = [&]() -> bool {
      if (size_t eq = a.find('='); eq != std::string::npos) {
        v = a.substr(eq + 1);
        a = a.substr(0, eq);
        return true;
      }
      if (i + 1 >= args.size()) return false;
      v = args[++i];
      return true;
    };
    if (a == "--el2") {
      o.el2 = true;
      continue;
    }
    if (a == "--bios") {
      firmware = true;
      continue;
    }
    if (!absl::StartsWith(a, "--")) return usage("unexpected argument '" + a + "'");
    if (!value()) return usage(a + " needs a value");
    int n = 0;
    if (a == "--image") {
      o.image = v;
    } else if (a == "--cpu") {
      o.cpu = v;
    } else if (a == "--mem") {
      o.mem = v;
    } else if (a == "--smp" && absl::SimpleAtoi(v, &n)) {
      o.smp = n;
    } else if (a == "--gic" && absl::SimpleAtoi(v, &n)) {
      o.gic = n;
    } else if (a == "--timeout" && absl::SimpleAtoi(v, &n) && n > 0) {
      timeout_s = n;
    } else if (a == "--quiet" && absl::SimpleAtoi(v, &n) && n > 0) {
      quiet_s = n;
    } else if (a == "--load_addr" && absl::SimpleHexAtoi(absl::StripPrefix(v, "0x"), &load_addr)) {
    } else {
      return usage(absl::StrCat("bad option ", a, " ", v));
    }
  }
  if (o.image.empty()) return usage("--image FILE is required");
  if (o.image[0] != '/' && access(o.image.c_str(), R_OK) != 0) {
    if (const char* wd = getenv("BUILD_WORKING_DIRECTORY")) o.image = absl::StrCat(wd, "/", o.image);
  }
  if (access(o.image.c_str(), R_OK) != 0) return usage("--image " + o.image + ": cannot read it");
  Image img;
  std::string error;
  if (!load_image(o.image, load_addr, tools::boot_load_base(o), firmware, &img, &error)) {
    std::cerr << "doctor: " << error << "\n";
    return 2;
  }

  char dir[] = "/tmp/keel-doctor-XXXXXX";
  if (mkdtemp(dir) == nullptr) return usage("cannot make a temporary directory");
  const std::string log = std::string(dir) + "/qemu.log", serial = std::string(dir) + "/console.txt",
                    dtb_path = std::string(dir) + "/virt.dtb";
  o.gdb_port = tools::free_local_port();
  o.gdb_wait = false;
  o.serial_file = serial;
  o.trace_file = log;
  std::vector<std::string> cmd;
  if (!tools::build_qemu_command(o, &cmd, &error)) return usage(error);
  if (img.kind == Image::kFirmware) {
    for (size_t i = 0; i + 1 < cmd.size(); ++i) {
      if (cmd[i] == "-kernel") cmd[i] = "-bios";
    }
  }
  if (img.kind == Image::kRaw) {
    for (size_t i = 0; i + 1 < cmd.size(); ++i) {
      if (cmd[i] == "-kernel") {
        cmd[i] = "-device";
        cmd[i + 1] = absl::StrFormat("loader,file=%s,addr=0x%x,force-raw=on", o.image, img.load);
        cmd.insert(cmd.begin() + static_cast<long>(i) + 2,
                   {"-device", absl::StrFormat("loader,addr=0x%x,cpu-num=0", img.load)});
        break;
      }
    }
  }

  // QEMU's own DTB for this machine: the RAM and the UART the rules check.
  Snapshot s;
  {
    // (Without the kernel: QEMU builds no DTB for an ELF, and the machine's
    // devices do not depend on what it boots.)
    std::string line = "timeout 20";
    for (size_t i = 0; i < cmd.size(); ++i) {
      if ((cmd[i] == "-kernel" || cmd[i] == "-device" || cmd[i] == "-gdb" || cmd[i] == "-serial" || cmd[i] == "-D" ||
           cmd[i] == "-d") &&
          i + 1 < cmd.size()) {
        ++i;
        continue;
      }
      std::string a = cmd[i];
      if (i > 0 && cmd[i - 1] == "-M") a += ",dumpdtb=" + dtb_path;
      if (a == "-S") continue;
      line += " '" + a + "'";
    }
    (void)!system((line + " >/dev/null 2>&1").c_str());
    const std::string blob = read_file(dtb_path);
    dtb::DtbInfo info;
    if (!blob.empty() && dtb::parse_dtb(blob.data(), blob.size(), &info) == Status::kOk) {
      for (size_t i = 0; i < info.memory_count; ++i) s.ram.push_back(Range{info.memory[i].base, info.memory[i].size});
      if (info.uart.present) s.uart = Range{info.uart.mmio.base, info.uart.mmio.size};
      // Every device's ranges but flash: NOR flash (cfi-flash) is memory
      // read in place, and Normal is the right attribute for it (U-Boot
      // maps it so).
      std::vector<uint64_t> flash;
      for (size_t i = 0; i < devices::count(blob.data(), blob.size(), "cfi-flash"); ++i) {
        devices::Device f;
        if (devices::find(blob.data(), blob.size(), absl::StrCat("cfi-flash#", i).c_str(), &f) != Status::kOk) continue;
        for (size_t r = 0; r < f.range_count; ++r) flash.push_back(f.ranges[r].base);
      }
      for (size_t i = 0; i < info.device_count && i < dtb::kMaxDeviceRanges; ++i) {
        if (std::find(flash.begin(), flash.end(), info.devices[i].base) != flash.end()) continue;
        s.devices.push_back(Range{info.devices[i].base, info.devices[i].size});
      }
    }
  }

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  std::cout << std::unitbuf << "doctor: booting " << o.image << " on QEMU virt (" << o.cpu << ", " << o.smp << " CPU, "
            << o.mem << (o.el2 ? ", EL2" : "") << ")\n";
  // Another process may take the free port before QEMU binds it: then
  // QEMU exits at once, and the doctor tries another port.
  pid_t pid = -1;
  for (int attempt = 0; attempt < 5; ++attempt) {
    pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      int null = open("/dev/null", O_RDWR);
      int err = open((std::string(dir) + "/qemu.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(null, 0), dup2(null, 1), dup2(err >= 0 ? err : null, 2);
      tools::exec_or_exit(cmd);
    }
    setpgid(pid, pid);
    g_qemu = pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (waitpid(pid, nullptr, WNOHANG) != pid) break;  // running
    g_qemu = -1;
    if (!absl::StrContains(read_file(std::string(dir) + "/qemu.err"), "Address already in use")) break;
    const std::string old_port = absl::StrCat("tcp:127.0.0.1:", o.gdb_port);
    o.gdb_port = tools::free_local_port();
    for (std::string& a : cmd) {
      if (a == old_port) a = absl::StrCat("tcp:127.0.0.1:", o.gdb_port);
    }
  }

  // Watch: the console, the exception log's size, the clock.
  const auto start = Clock::now();
  auto last_output = start;
  off_t serial_seen = 0, log_seen = 0;
  std::string stop;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now = Clock::now();
    if (g_qemu < 0 || waitpid(pid, nullptr, WNOHANG) == pid) {
      g_qemu = -1;
      stop = "QEMU exited (the guest powered off or reset)";
      break;
    }
    if (off_t n = file_size(serial); n != serial_seen) serial_seen = n, last_output = now;
    if (off_t n = file_size(log); n != log_seen) {
      log_seen = n;
    }
    if (log_seen > (8 << 20)) {
      stop = "an exception storm (QEMU logged over 8 MB of exceptions)";
      break;
    }
    // Silence counts from the last output, or — for a kernel that never
    // prints — from twice the window after start (QEMU itself takes a
    // moment to start on a loaded machine).
    const bool printed = serial_seen > 0;
    if ((printed && now - last_output > std::chrono::seconds(quiet_s)) ||
        (!printed && now - start > std::chrono::seconds(2 * quiet_s))) {
      stop = absl::StrFormat("a console silent for %d s", quiet_s);
      break;
    }
    if (now - start > std::chrono::seconds(timeout_s)) {
      stop = absl::StrFormat("the timeout (%d s)", timeout_s);
      break;
    }
  }

  // Stop the guest and read it.
  RspClient rsp;
  bool have_state = false;
  uint64_t spsr = 0;
  if (g_qemu > 0 && rsp.connect(o.gdb_port, 3000, &error)) {
    auto r = [&](const std::string& name) { return rsp.read_register(name).value_or(0); };
    for (int i = 0; i < 31; ++i) s.x[i] = r(absl::StrCat("x", i));
    s.sp = r("sp"), s.pc = r("pc"), s.cpsr = r("cpsr");
    s.el = static_cast<unsigned>((s.cpsr >> 2) & 3);
    const bool el2 = s.el == 2;
    s.sctlr = r(el2 ? "SCTLR_EL2" : "SCTLR");
    s.tcr = r(el2 ? "TCR_EL2" : "TCR_EL1");
    s.mair = r(el2 ? "MAIR_EL2" : "MAIR_EL1");
    s.ttbr0 = r(el2 ? "TTBR0_EL2" : "TTBR0_EL1");
    // EL2 with VHE (HCR_EL2.E2H, bit 34) has two ranges and TCR_EL1's
    // layout; without, one range, and TCR_EL2's own layout: T0SZ, IRGN0,
    // ORGN0, SH0, TG0 where TCR_EL1 has them, PS (bits 18:16) for IPS.
    s.vhe = el2 && ((r("HCR_EL2") >> 34) & 1) != 0;
    s.has_ttbr1 = !el2 || s.vhe;
    s.ttbr1 = !el2 ? r("TTBR1_EL1") : s.vhe ? r("TTBR1_EL2") : 0;
    if (el2 && !s.vhe) s.tcr = (s.tcr & 0xffff) | (((s.tcr >> 16) & 7) << 32) | (1ull << 23);
    s.vbar = r(el2 ? "VBAR_EL2" : "VBAR");
    s.esr = r(el2 ? "ESR_EL2" : "ESR_EL1");
    s.far = r(el2 ? "FAR_EL2" : "FAR_EL1");
    s.elr = r(el2 ? "ELR_EL2" : "ELR_EL1");
    spsr = r(el2 ? "SPSR_EL2" : "SPSR_EL1");
    have_state = rsp.registers().count("TCR_EL1") != 0;
    (void)rsp.set_physical(true);
  }
  std::map<uint64_t, uint64_t> cache;
  s.read_phys = [&](uint64_t pa, uint64_t* out) {
    uint64_t page = pa & ~0xfffull;
    if (!cache.count(page | 1)) {
      std::vector<uint8_t> b;
      if (!rsp.read_memory(page, 4096, &b)) return false;
      cache[page | 1] = 1;
      for (int i = 0; i < 512; ++i) {
        uint64_t v = 0;
        for (int k = 0; k < 8; ++k) v |= static_cast<uint64_t>(b[i * 8 + k]) << (8 * k);
        cache[page + 8ull * i] = v;
      }
    }
    *out = cache[pa & ~7ull];
    return true;
  };
  s.symbol = [&](uint64_t a) -> std::string {
    auto it = img.symbols.upper_bound(a);
    if (it == img.symbols.begin()) return "";
    --it;
    return a - it->first < 0x10000 ? absl::StrFormat("%s+0x%x", it->second, a - it->first) : "";
  };
  s.sctlr_writes = img.sctlr_writes;
  s.stop_reason = stop;
  // The exception log: first fault and last, however long.
  {
    std::ifstream f(log);
    for (std::string line; std::getline(f, line);) s.log.feed(line);
  }
  const Diagnosis d = have_state ? diagnose(s) : Diagnosis{};
  kill_qemu();

  // The report.
  const std::string console = read_file(serial);
  std::cout << "doctor: stopped after " << stop << "; the console printed " << console.size() << " bytes"
            << (console.empty() ? ""
                                : ", ending: " + std::string(absl::StripTrailingAsciiWhitespace(
                                                     console.substr(console.size() > 80 ? console.size() - 80 : 0))))
            << "\n";
  if (!have_state) {
    std::cout << "doctor: could not read the guest's registers through the gdbstub: " << error << "\n";
    const std::string err = read_file(std::string(dir) + "/qemu.err");
    if (!err.empty()) std::cout << "doctor: QEMU said: " << err;
    return 1;
  }
  std::cout << absl::StrFormat("doctor: QEMU logged %u exception(s)%s\n", s.log.count(),
                               s.log.count() > 1000 ? ": an exception storm" : "");
  // The CPU as it stands: EL and stack pointer choice, DAIF, the exception registers.
  std::string masked;
  for (auto [bit, name] : {std::pair{9, "D"}, std::pair{8, "A"}, std::pair{7, "I"}, std::pair{6, "F"}}) {
    if ((s.cpsr >> bit) & 1) masked += name;
  }
  std::cout << absl::StrFormat(
      "doctor: CPU 0 at EL%u%s, masked: %s, PC 0x%x, SP 0x%x; ESR 0x%x, FAR 0x%x, ELR 0x%x, SPSR 0x%x\n", s.el,
      (s.cpsr & 1) != 0 ? "h" : "t", masked.empty() ? "none" : masked, s.pc, s.sp, s.esr, s.far, s.elr, spsr);
  if (!d.first_fault.empty()) std::cout << "doctor: first fault: " << d.first_fault << "\n";
  if (s.log.last() && s.log.count() > 1) {
    const auto& l = *s.log.last();
    std::cout << absl::StrFormat("doctor: last exception: %s at ELR 0x%x -> vector 0x%x\n", l.name, l.elr, l.vector_pc);
  }
  std::cout << "doctor: translation setup: " << d.setup << "\n";
  // A kernel that stopped itself says so on its console (Linux: "Kernel
  // panic - not syncing: ..."): that is why it went quiet, not its tables.
  for (const char* marker : {"Kernel panic - not syncing", "PANIC", "panic:"}) {
    const size_t at = console.find(marker);
    if (at == std::string::npos) continue;
    const size_t line_start = console.rfind('\n', at) == std::string::npos ? 0 : console.rfind('\n', at) + 1;
    const size_t line_end = console.find('\n', at);
    std::cout << "doctor: the console shows the kernel stopped itself: "
              << absl::StripTrailingAsciiWhitespace(console.substr(line_start, line_end - line_start))
              << " (it went quiet by its own choice after that)\n";
    break;
  }
  if (d.findings.empty()) {
    std::cout << "doctor: no problem found" << (d.notes.empty() ? "" : " (notes below are suspicions, not causes)")
              << "\n";
  } else {
    std::cout << "doctor: " << d.findings.size() << " problem(s):\n";
    for (const Finding& f : d.findings) std::cout << "  [" << f.rule << "] " << f.text << "\n";
  }
  if (!d.notes.empty()) {
    std::cout << "doctor: " << d.notes.size() << " note(s):\n";
    for (const Finding& f : d.notes) std::cout << "  note [" << f.rule << "] " << f.text << "\n";
  }
  std::string cleanup = absl::StrCat("rm -rf ", dir);
  (void)!system(cleanup.c_str());
  return d.findings.empty() ? 0 : 3;
}

}  // namespace
}  // namespace keel::doctor

int main(int argc, char** argv) {
  const int rc = keel::doctor::run(argc, argv);
  keel::doctor::kill_qemu();
  return rc;
}
