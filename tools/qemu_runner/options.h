// options.h — validating run options and turning them into a QEMU command line.
// Separate from the runner so tests can check every option's handling.
#pragma once

#include <string>
#include <vector>

namespace keel::tools {

struct RunOptions {
  std::string image;
  std::string cpu = "cortex-a72";
  int smp = 1;
  std::string mem = "512M";
  bool el2 = false;
  int gic = 0;  // 0: QEMU's default (GICv2 on virt)
  bool uboot = false;
  std::string load_addr;  // with uboot: explicit booti at this PA
  bool icount = false;
  std::string trace_file;  // empty: no trace
  std::string dtb;         // a DTB to hand the guest instead of QEMU's own
  std::string append;      // the guest's /chosen/bootargs (QEMU -append)
  std::string plugin;      // a TCG plugin and its arguments (QEMU -plugin), e.g. tools/profile
  // Raw disk images, FILE or FILE,ro, each a virtio-blk-device on a modern
  // (version 2) virtio-mmio transport, in order from the first transport.
  std::vector<std::string> drives;
  // The same as virtio-blk-pci functions (modern, iommu_platform=on) in
  // slots 1.. of the PCIe root bus.
  std::vector<std::string> pci_drives;
  bool iommu = false;    // an SMMUv3 in front of the PCIe devices (virt's iommu=smmuv3)
  bool pci_net = false;  // the network device as a virtio-net-pci function (slot kNetPciSlot) instead
  // A network: a virtio-net-device on transport kNetTransport, on QEMU user
  // networking with restrict=on (the guest reaches nothing outside QEMU)
  // and these forwards, each PROTO:HOSTPORT:GUESTPORT (tcp or udp), bound
  // to 127.0.0.1 only. The guest is told keel.net=1 (init starts the
  // `start = with-net` tasks).
  bool net = false;
  std::vector<std::string> net_forwards;
  // Or raw frames for tests: the device on a datagram socket netdev,
  // LOCALPORT:REMOTEPORT on 127.0.0.1 (the test's end sends and receives
  // Ethernet frames there).
  std::string net_dgram;
  bool interactive = true;
  int gdb_port = 0;         // nonzero: a gdbstub on 127.0.0.1:port
  bool gdb_wait = true;     // with gdb_port: start halted (-S) until the debugger says continue
  std::string serial_file;  // nonempty: console to this file (debug mode)
  bool uboot_manual() const { return uboot && !load_addr.empty(); }
};

inline constexpr char kOptionHelp[] =
    "keel QEMU runner options:\n"
    "  --smp N            CPUs, 1..8: keel runs at most 8 (default 1)\n"
    "  --cpu MODEL        cortex-a35 | cortex-a53 | cortex-a57 | cortex-a72 | cortex-a76 | neoverse-n1 |\n"
    "                     a64fx | max (default cortex-a72)\n"
    "  --mem SIZE         RAM, e.g. 128M, 1G (64M..16G; default 512M)\n"
    "  --el2              enter keel at EL2 (virtualization=on)\n"
    "  --gic 2|3          interrupt controller version\n"
    "  --uboot            boot through Debian's U-Boot (booti)\n"
    "  --load_addr PA     with --uboot: load at this 2 MiB-aligned PA and booti it there\n"
    "  --icount           deterministic execution (-icount shift=0,sleep=off)\n"
    "  --trace            log exceptions and MMU faults to a file (path printed)\n"
    "  --image FILE       the image to boot (default: //:image; relative paths are from the workspace)\n"
    "  --dtb FILE         hand the guest this DTB instead of QEMU's own\n"
    "  --append TEXT      the guest's /chosen/bootargs (init reads them from its boot info)\n"
    "  --plugin SO,ARGS   load a QEMU TCG plugin (bazel run //:profile uses it)\n"
    "  --drive FILE[,ro]  attach a raw disk image as a virtio-blk device (repeatable; ,ro: read-only)\n"
    "  --pci_drive FILE[,ro]  the same as a virtio-blk-pci function on the PCIe root bus (slot 1, 2, ...)\n"
    "  --iommu            an SMMUv3 in front of the PCIe devices (iommu=smmuv3)\n"
    "  --pci_net          with --net or --net_dgram: the network device is a virtio-net-pci function (slot 8)\n"
    "  --net [FWD,...]    a virtio-net device on QEMU user networking (restrict=on: no way out), with\n"
    "                     forwards PROTO:HOSTPORT:GUESTPORT bound to 127.0.0.1 (e.g. tcp:8080:80,udp:7007:7)\n"
    "  --net_dgram L:R    the network device on a UDP socket pair on 127.0.0.1 (raw frames; tests)\n"
    "  --timeout S, --expect RE, --expect_failure, --expect_exit: test mode\n"
    "  -h, --help         this list\n";

// The virtio-mmio transport the network device sits on (disks take 0..).
inline constexpr int kNetTransport = 8;
// Or, with --pci_net, the PCIe root bus slot it sits in.
inline constexpr int kNetPciSlot = 8;

// Where the loader puts the image (the boot ELF's load base, for gdb): QEMU's
// -kernel places an arm64 Image 2 MiB into RAM; U-Boot's fw_cfg autoboot
// 4 MiB in; --load_addr is used as given.
uint64_t boot_load_base(const RunOptions& o);

// Validates o and writes QEMU's argv to *argv; false with *error otherwise.
bool build_qemu_command(const RunOptions& o, std::vector<std::string>* argv, std::string* error);

}  // namespace keel::tools
