// pci_probe — libsys's PCI and virtio-pci code against QEMU's real PCI
// Express: QEMU `virt` is started halted with the devices asked for (its
// gdbstub on 127.0.0.1), config space is read and written through the
// gdbstub's physical-memory access to the host bridge's ECAM (QEMU's own
// config-space emulation answers, BAR sizing included), and the report says
// what keel's bus task would see: every function, its BARs placed in the
// bridge's windows, its INTx route, its IOMMU stream ID, and for virtio
// devices where their structures are. The guest never runs.
//
//   bazel run //tools/pci_probe -- [--smmu] [--device QEMU-DEVICE ...]
//
// (test/devices:pci_probe_qemu checks a virtio-blk-pci and a virtio-net-pci.)
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "keel/pci.h"
#include "keel/virtio_pci.h"
#include "tools/common/exec.h"
#include "tools/common/net.h"
#include "tools/doctor/rsp.h"

namespace {

using keel::Status;
namespace pci = keel::pci;

// Config space through the gdbstub: ECAM is guest-physical MMIO.
class GdbEcam final : public pci::Config {
 public:
  GdbEcam(keel::doctor::RspClient* rsp, uint64_t base, uint32_t bus_first) : rsp_(rsp), base_(base), bus_(bus_first) {}
  uint32_t read32(uint32_t bdf, uint32_t offset) override {
    std::vector<uint8_t> b;
    if (!rsp_->read_memory(address(bdf, offset), 4, &b) || b.size() != 4) return 0xffffffffu;
    return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  }
  void write32(uint32_t bdf, uint32_t offset, uint32_t value) override {
    std::string hex;
    for (int i = 0; i < 4; ++i) hex += absl::StrFormat("%02x", (value >> (8 * i)) & 0xff);
    (void)rsp_->request(absl::StrFormat("M%x,4:%s", address(bdf, offset), hex));
  }

 private:
  uint64_t address(uint32_t bdf, uint32_t offset) const {
    return base_ + (uint64_t{bdf - (bus_ << 8)} << 12) + (offset & 0xffc);
  }
  keel::doctor::RspClient* rsp_;
  uint64_t base_;
  uint32_t bus_;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

pid_t g_qemu = -1;
void kill_qemu() {
  if (g_qemu > 0) {
    kill(-g_qemu, SIGKILL);
    waitpid(g_qemu, nullptr, 0);
    g_qemu = -1;
  }
}

int run(int argc, char** argv) {
  bool smmu = false;
  std::vector<std::string> devices;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smmu") {
      smmu = true;
    } else if (a == "--device" && i + 1 < argc) {
      devices.push_back(argv[++i]);
    } else {
      std::cerr << "usage: pci_probe [--smmu] [--device QEMU-DEVICE ...]\n";
      return 2;
    }
  }
  char dir[] = "/tmp/keel-pci-probe-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  const std::string dtb_path = std::string(dir) + "/virt.dtb";
  std::vector<std::string> cmd = {"qemu-system-aarch64",
                                  "-M",
                                  smmu ? "virt,iommu=smmuv3" : "virt",
                                  "-cpu",
                                  "cortex-a72",
                                  "-m",
                                  "256M",
                                  "-display",
                                  "none",
                                  "-nic",
                                  "none",
                                  "-monitor",
                                  "none",
                                  "-serial",
                                  "none",
                                  "-S"};
  for (size_t i = 0; i < devices.size(); ++i) {
    // (A disk for block devices: an empty scratch image.)
    const std::string img = absl::StrCat(dir, "/disk", i, ".img");
    std::ofstream(img).put('\0');
    (void)truncate(img.c_str(), 1 << 20);
    cmd.insert(cmd.end(), {"-drive", absl::StrCat("if=none,format=raw,id=d", i, ",file=", img)});
    std::string dev = devices[i];
    if (dev.rfind("virtio-blk-pci", 0) == 0) dev += absl::StrCat(",drive=d", i);
    cmd.insert(cmd.end(), {"-device", dev + ",romfile="});
  }
  // The machine's DTB first (QEMU writes it and exits).
  {
    std::string line;
    for (size_t i = 0; i < cmd.size(); ++i) {
      std::string a = cmd[i];
      if (i > 0 && cmd[i - 1] == "-M") a += ",dumpdtb=" + dtb_path;
      line += " '" + a + "'";
    }
    if (system((line + " >/dev/null 2>&1").c_str()) != 0 && read_file(dtb_path).empty()) {
      std::cerr << "pci_probe: QEMU did not start with these devices:" << line << "\n";
      return 1;
    }
  }
  const std::string blob = read_file(dtb_path);
  pci::Host host;
  const char* why = "";
  if (pci::find_host(blob.data(), blob.size(), 0, &host, &why) != Status::kOk) {
    std::cerr << "pci_probe: no PCI host bridge in QEMU's DTB: " << why << "\n";
    return 1;
  }
  std::cout << absl::StrFormat("pci_probe: host %s: ECAM 0x%x (buses %u..%u), %u windows, %u INTx routes%s\n",
                               host.path, host.ecam.base, host.bus_first, host.bus_last, host.window_count,
                               host.route_count, host.iommu ? ", behind an IOMMU (iommu-map)" : ", no IOMMU");
  const int port = keel::tools::free_local_port();
  cmd.insert(cmd.end(), {"-gdb", absl::StrCat("tcp:127.0.0.1:", port)});
  g_qemu = fork();
  if (g_qemu == 0) {
    setpgid(0, 0);
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1);
    keel::tools::exec_or_exit(cmd);
  }
  setpgid(g_qemu, g_qemu);
  keel::doctor::RspClient rsp;
  std::string error;
  if (!rsp.connect(port, 10000, &error) || !rsp.set_physical(true)) {
    std::cerr << "pci_probe: gdbstub: " << error << "\n";
    return 1;
  }
  // Bus 0 only: QEMU puts its devices there (and a deeper walk would need bridges configured).
  pci::Host bus0 = host;
  bus0.bus_last = bus0.bus_first;
  GdbEcam ecam(&rsp, host.ecam.base, host.bus_first);
  pci::Function fs[32];
  const size_t n = pci::enumerate(ecam, bus0, fs, 32);
  const Status placed = pci::assign(ecam, bus0, fs, n < 32 ? n : 32);
  std::cout << absl::StrFormat("pci_probe: %u function(s) on bus %u; BARs %s\n", n, bus0.bus_first,
                               placed == Status::kOk ? "all placed" : "not all placed");
  // What QEMU's config space now holds: every placed BAR as programmed.
  unsigned checked = 0, wrong = 0;
  for (size_t i = 0; i < n && i < 32; ++i) {
    for (unsigned b = 0; b < 6; ++b) {
      const pci::Bar& bar = fs[i].bars[b];
      if (bar.cpu_address == 0) continue;
      uint64_t got = ecam.read32(fs[i].bdf, pci::kBar0 + 4 * b) & ~0xfull;
      if (bar.mem64) got |= uint64_t{ecam.read32(fs[i].bdf, pci::kBar0 + 4 * b + 4)} << 32;
      ++checked;
      wrong += got != bar.pci_address ? 1 : 0;
    }
  }
  std::cout << absl::StrFormat("pci_probe: %u placed BAR(s) read back from the device: %u as programmed, %u not\n",
                               checked, checked - wrong, wrong);
  for (size_t i = 0; i < n && i < 32; ++i) {
    const pci::Function& f = fs[i];
    char name[32];
    pci::describe(f, name, sizeof name);
    std::cout << absl::StrFormat("pci_probe: %s class %06x%s\n", name, f.class_code,
                                 f.header_type == 1 ? " (bridge)" : "");
    for (unsigned b = 0; b < 6; ++b) {
      const pci::Bar& bar = f.bars[b];
      if (bar.size == 0) continue;
      std::cout << absl::StrFormat("pci_probe:   BAR%u %s%s %u KiB at 0x%x (CPU 0x%x)\n", b,
                                   bar.io      ? "I/O"
                                   : bar.mem64 ? "64-bit"
                                               : "32-bit",
                                   bar.prefetchable ? " prefetchable" : "", bar.size >> 10, bar.pci_address,
                                   bar.cpu_address);
    }
    keel::dtb::Interrupt irq;
    if (pci::intx(host, f, &irq)) {
      std::cout << absl::StrFormat("pci_probe:   INT%c -> INTID %u (%s)\n", 'A' + f.pin - 1, irq.intid,
                                   irq.edge ? "edge" : "level");
    }
    uint32_t sid = 0;
    if (pci::stream_id(host, f.bdf, &sid)) std::cout << absl::StrFormat("pci_probe:   stream ID 0x%x\n", sid);
    if (const uint32_t type = keel::virtio::pci_device_type(f); type != 0) {
      keel::virtio::PciLayout l;
      if (const char* bad = keel::virtio::find_pci_layout(ecam, f, &l)) {
        std::cout << "pci_probe:   virtio device type " << type << ": " << bad << "\n";
      } else {
        std::cout << absl::StrFormat(
            "pci_probe:   virtio device type %u: common BAR%u+0x%x, notify BAR%u+0x%x (x%u), ISR BAR%u+0x%x, device "
            "%s\n",
            type, l.common.bar, l.common.offset, l.notify.bar, l.notify.offset, l.notify_multiplier, l.isr.bar,
            l.isr.offset,
            l.device.present ? absl::StrFormat("BAR%u+0x%x", l.device.bar, l.device.offset) : std::string("none"));
      }
    }
  }
  kill_qemu();
  (void)system(absl::StrCat("rm -rf ", dir).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int rc = run(argc, argv);
  kill_qemu();
  return rc;
}
