#include "tools/qemu_runner/options.h"

#include <unistd.h>

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "keel/abi.h"

namespace keel::tools {
namespace {

// Every AArch64 model QEMU 7.2's virt machine offers that keel boots on.
constexpr const char* kCpus[] = {"cortex-a35", "cortex-a53",  "cortex-a57", "cortex-a72",
                                 "cortex-a76", "neoverse-n1", "a64fx",      "max"};
constexpr const char* kUboot = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

// "128M" / "2G" -> MiB; 0 if malformed.
uint64_t mem_mib(const std::string& s) {
  if (s.size() < 2) return 0;
  uint64_t n = 0;
  if (!absl::SimpleAtoi(s.substr(0, s.size() - 1), &n)) return 0;
  switch (s.back()) {
    case 'M':
    case 'm': return n;
    case 'G':
    case 'g': return n * 1024;
    default: return 0;
  }
}

}  // namespace

uint64_t boot_load_base(const RunOptions& o) {
  uint64_t load = 0;
  if (o.uboot && absl::SimpleHexAtoi(o.load_addr, &load)) return load;
  return o.uboot ? 0x4040'0000 : 0x4020'0000;
}

bool build_qemu_command(const RunOptions& o, std::vector<std::string>* argv, std::string* error) {
  bool cpu_ok = false;
  for (const char* c : kCpus) cpu_ok |= o.cpu == c;
  if (!cpu_ok) {
    *error = absl::StrCat("--cpu ", o.cpu, " is not one of: ", absl::StrJoin(kCpus, ", "));
    return false;
  }
  if (o.gic != 0 && o.gic != 2 && o.gic != 3) {
    *error = absl::StrCat("--gic ", o.gic, ": must be 2 or 3");
    return false;
  }
  // The kernel runs at most abi::kMaxCpus CPUs (GICv2 allows 8 too).
  constexpr int kMaxSmp = static_cast<int>(abi::kMaxCpus);
  if (o.smp < 1 || o.smp > kMaxSmp) {
    *error = absl::StrCat("--smp ", o.smp, ": must be 1..", kMaxSmp, " (keel runs at most ", kMaxSmp, " CPUs)");
    return false;
  }
  uint64_t mib = mem_mib(o.mem);
  if (mib < 64 || mib > uint64_t{16} * 1024) {
    *error = absl::StrCat("--mem ", o.mem, ": give a size like 128M or 2G, between 64M and 16G");
    return false;
  }
  if (o.image.empty()) {
    *error = "--image is required";
    return false;
  }
  if (access(o.image.c_str(), R_OK) != 0) {
    *error = absl::StrCat("--image ", o.image, ": cannot read it");
    return false;
  }
  uint64_t load = 0;
  if (!o.load_addr.empty()) {
    if (!o.uboot) {
      *error = "--load_addr needs --uboot (QEMU's own loader picks the address)";
      return false;
    }
    if (!absl::SimpleHexAtoi(o.load_addr, &load) || load % (2u << 20) != 0 || load < 0x40000000 ||
        load + (8u << 20) > 0x40000000 + mib * (1u << 20)) {
      *error = absl::StrCat("--load_addr ", o.load_addr, ": must be a 2 MiB-aligned PA inside RAM (0x40000000..)");
      return false;
    }
  }
  std::string machine = "virt";
  if (o.el2) machine += ",virtualization=on";
  if (o.gic != 0) machine += absl::StrCat(",gic-version=", o.gic);
  if (o.iommu) machine += ",iommu=smmuv3";
  *argv = {"qemu-system-aarch64", "-M", machine, "-cpu", o.cpu, "-smp", std::to_string(o.smp), "-m", o.mem};
  if (o.gdb_port != 0) {
    for (const char* a : {"-display", "none", "-monitor", "none"}) argv->push_back(a);
    argv->insert(argv->end(), {"-serial", "file:" + o.serial_file});
    if (o.gdb_wait) argv->push_back("-S");  // halted until the debugger says continue
    argv->insert(argv->end(), {"-gdb", absl::StrCat("tcp:127.0.0.1:", o.gdb_port)});
  } else if (o.interactive) {
    argv->push_back("-nographic");
  } else {
    for (const char* a : {"-display", "none", "-serial", "stdio", "-monitor", "none"}) argv->push_back(a);
  }
  // No network card: keel has no use for one, and QEMU would otherwise need
  // its boot ROM (efi-virtio.rom, from a package installed only as a
  // recommendation).
  argv->insert(argv->end(), {"-no-reboot", "-nic", "none"});
  if (o.uboot) {
    argv->insert(argv->end(), {"-bios", kUboot});
    if (o.load_addr.empty()) {
      argv->insert(argv->end(), {"-kernel", o.image});
    } else {
      argv->insert(argv->end(),
                   {"-device", absl::StrCat("loader,file=", o.image, ",addr=", o.load_addr, ",force-raw=on")});
    }
  } else {
    argv->insert(argv->end(), {"-kernel", o.image});
  }
  if (!o.dtb.empty()) {
    if (access(o.dtb.c_str(), R_OK) != 0) {
      *error = absl::StrCat("--dtb ", o.dtb, ": cannot read it");
      return false;
    }
    argv->insert(argv->end(), {"-dtb", o.dtb});
  }
  std::string append = o.append;
  if (o.pci_net && !o.net && o.net_dgram.empty()) {
    *error = "--pci_net puts the network device (--net or --net_dgram) on PCI: give one of them";
    return false;
  }
  if (o.net || !o.net_dgram.empty()) {
    if (o.net && !o.net_dgram.empty()) {
      *error = "--net and --net_dgram are two different networks: give one";
      return false;
    }
    std::string netdev;
    if (o.net) {
      netdev = "user,id=net0,restrict=on,net=10.0.2.0/24";
      for (const std::string& f : o.net_forwards) {
        std::vector<std::string> w = absl::StrSplit(f, ':');
        int host = 0, guest = 0;
        if (w.size() != 3 || (w[0] != "tcp" && w[0] != "udp") || !absl::SimpleAtoi(w[1], &host) ||
            !absl::SimpleAtoi(w[2], &guest) || host < 1 || host > 65535 || guest < 1 || guest > 65535) {
          *error = absl::StrCat("--net ", f, ": a forward is PROTO:HOSTPORT:GUESTPORT (tcp or udp, ports 1..65535)");
          return false;
        }
        absl::StrAppend(&netdev, ",hostfwd=", w[0], ":127.0.0.1:", host, "-:", guest);
      }
    } else {
      std::vector<std::string> w = absl::StrSplit(o.net_dgram, ':');
      int local = 0, remote = 0;
      if (w.size() != 2 || !absl::SimpleAtoi(w[0], &local) || !absl::SimpleAtoi(w[1], &remote) || local < 1 ||
          local > 65535 || remote < 1 || remote > 65535) {
        *error = absl::StrCat("--net_dgram ", o.net_dgram, ": LOCALPORT:REMOTEPORT (1..65535)");
        return false;
      }
      netdev = absl::StrCat("dgram,id=net0,local.type=inet,local.host=127.0.0.1,local.port=", local,
                            ",remote.type=inet,remote.host=127.0.0.1,remote.port=", remote);
    }
    argv->insert(argv->end(),
                 {"-netdev", netdev, "-device",
                  o.pci_net ? absl::StrCat("virtio-net-pci,netdev=net0,bus=pcie.0,addr=", kNetPciSlot,
                                           ",disable-legacy=on,iommu_platform=on,romfile=")
                            : absl::StrCat("virtio-net-device,netdev=net0,bus=virtio-mmio-bus.", kNetTransport)});
    append = append.empty() ? "keel.net=1" : absl::StrCat(append, " keel.net=1");
  }
  if (!append.empty()) argv->insert(argv->end(), {"-append", append});
  // sleep=off: an idle guest skips ahead to its next timer instead of
  // following the host clock, so runs repeat exactly.
  if (o.icount) argv->insert(argv->end(), {"-icount", "shift=0,sleep=off"});
  if (!o.trace_file.empty()) argv->insert(argv->end(), {"-d", "int,mmu,guest_errors", "-D", o.trace_file});
  // A drive's file, checked readable (and writable unless ,ro).
  auto drive_file = [&](const std::string& flag, const std::string& spec, std::string* file, bool* ro) {
    *file = spec;
    *ro = absl::EndsWith(spec, ",ro");
    if (*ro) file->resize(file->size() - 3);
    if (file->empty() || access(file->c_str(), *ro ? R_OK : R_OK | W_OK) != 0) {
      *error = absl::StrCat(flag, " ", spec, ": cannot ", *ro ? "read" : "read and write", " it");
      return false;
    }
    // QEMU option values escape a comma by doubling it.
    *file = absl::StrReplaceAll(*file, {{",", ",,"}});
    return true;
  };
  for (size_t i = 0; i < o.drives.size(); ++i) {
    std::string file;
    bool ro = false;
    if (!drive_file("--drive", o.drives[i], &file, &ro)) return false;
    // Pinned to transport i (the bus QEMU otherwise fills from the top),
    // so disk i is always the same virtio-mmio node.
    argv->insert(argv->end(),
                 {"-drive", absl::StrCat("if=none,format=raw,id=disk", i, ",file=", file, ro ? ",readonly=on" : "")});
    argv->insert(argv->end(), {"-device", absl::StrCat("virtio-blk-device,drive=disk", i, ",bus=virtio-mmio-bus.", i,
                                                       ",serial=keel-disk", i)});
  }
  for (size_t i = 0; i < o.pci_drives.size(); ++i) {
    std::string file;
    bool ro = false;
    if (!drive_file("--pci_drive", o.pci_drives[i], &file, &ro)) return false;
    // Modern only (disable-legacy), addresses through the platform's IOMMU
    // when there is one (iommu_platform: the driver must accept
    // VIRTIO_F_ACCESS_PLATFORM), no option ROM (keel runs no firmware
    // drivers), in slot 1 + i of the root bus.
    argv->insert(argv->end(),
                 {"-drive", absl::StrCat("if=none,format=raw,id=pdisk", i, ",file=", file, ro ? ",readonly=on" : "")});
    argv->insert(argv->end(),
                 {"-device", absl::StrCat("virtio-blk-pci,drive=pdisk", i, ",bus=pcie.0,addr=", 1 + i,
                                          ",disable-legacy=on,iommu_platform=on,romfile=,serial=keel-pdisk", i)});
  }
  // Modern virtio only (keel's drivers refuse the legacy transport).
  if (!o.drives.empty() || o.net || !o.net_dgram.empty()) {
    argv->insert(argv->end(), {"-global", "virtio-mmio.force-legacy=false"});
  }
  if (!o.plugin.empty()) {
    const std::string so = o.plugin.substr(0, o.plugin.find(','));
    if (access(so.c_str(), R_OK) != 0) {
      *error = absl::StrCat("--plugin ", so, ": cannot read it");
      return false;
    }
    argv->insert(argv->end(), {"-plugin", o.plugin});
  }
  return true;
}

}  // namespace keel::tools
