#include "tools/qemu_runner/options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_join.h"
#include "tools/symbolize/symbolizer.h"

namespace keel::tools {
namespace {

RunOptions Base() {
  RunOptions o;
  o.image = "/proc/self/exe";  // any readable file
  o.interactive = false;
  return o;
}

std::string Cmd(const RunOptions& o) {
  std::vector<std::string> argv;
  std::string error;
  EXPECT_TRUE(build_qemu_command(o, &argv, &error)) << error;
  return absl::StrJoin(argv, " ");
}

std::string Error(const RunOptions& o) {
  std::vector<std::string> argv;
  std::string error;
  EXPECT_FALSE(build_qemu_command(o, &argv, &error));
  return error;
}

TEST(RunnerOptions, Defaults) {
  EXPECT_EQ(Cmd(Base()),
            "qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 1 -m 512M -display none -serial stdio -monitor none "
            "-no-reboot -nic none -kernel /proc/self/exe");
}

TEST(RunnerOptions, EachOptionReachesQemu) {
  RunOptions o = Base();
  o.el2 = true;
  o.gic = 3;
  o.smp = 8;
  o.cpu = "max";
  o.mem = "2G";
  o.icount = true;
  o.trace_file = "/tmp/t.log";
  std::string c = Cmd(o);
  EXPECT_NE(c.find("-M virt,virtualization=on,gic-version=3"), std::string::npos) << c;
  EXPECT_NE(c.find("-cpu max -smp 8 -m 2G"), std::string::npos) << c;
  EXPECT_NE(c.find("-icount shift=0,sleep=off"), std::string::npos) << c;
  EXPECT_NE(c.find("-d int,mmu,guest_errors -D /tmp/t.log"), std::string::npos) << c;
  o = Base();
  o.interactive = true;
  EXPECT_NE(Cmd(o).find("-nographic"), std::string::npos);
  o = Base();
  o.uboot = true;
  EXPECT_NE(Cmd(o).find("-bios /usr/lib/u-boot/qemu_arm64/u-boot.bin -kernel /proc/self/exe"), std::string::npos);
  o.load_addr = "0x48000000";
  EXPECT_NE(Cmd(o).find("-device loader,file=/proc/self/exe,addr=0x48000000,force-raw=on"), std::string::npos);
}

TEST(RunnerOptions, DrivesAreModernVirtioBlockDevicesInOrder) {
  RunOptions o = Base();
  o.drives = {"/proc/self/exe,ro", "/proc/self/exe,ro"};
  const std::string c = Cmd(o);
  EXPECT_NE(c.find("-drive if=none,format=raw,id=disk0,file=/proc/self/exe,readonly=on -device "
                   "virtio-blk-device,drive=disk0,bus=virtio-mmio-bus.0,serial=keel-disk0"),
            std::string::npos)
      << c;
  EXPECT_NE(c.find("bus=virtio-mmio-bus.1"), std::string::npos) << c;
  EXPECT_NE(c.find("-global virtio-mmio.force-legacy=false"), std::string::npos) << c;
  EXPECT_EQ(Cmd(Base()).find("virtio"), std::string::npos) << "no drive, no virtio flags";
  o.drives = {"/nonexistent/disk.img"};
  EXPECT_NE(Error(o).find("--drive /nonexistent/disk.img: cannot read and write it"), std::string::npos);
}

TEST(RunnerOptions, PciDrivesAreModernFunctionsBehindTheIommuWhenAsked) {
  RunOptions o = Base();
  o.pci_drives = {"/proc/self/exe,ro", "/proc/self/exe,ro"};
  std::string c = Cmd(o);
  EXPECT_NE(c.find("-drive if=none,format=raw,id=pdisk0,file=/proc/self/exe,readonly=on -device "
                   "virtio-blk-pci,drive=pdisk0,bus=pcie.0,addr=1,disable-legacy=on,iommu_platform=on,romfile=,"
                   "serial=keel-pdisk0"),
            std::string::npos)
      << c;
  EXPECT_NE(c.find("drive=pdisk1,bus=pcie.0,addr=2,"), std::string::npos) << c;
  EXPECT_EQ(c.find("iommu=smmuv3"), std::string::npos) << c;
  o.iommu = true;
  c = Cmd(o);
  EXPECT_NE(c.find("-M virt,iommu=smmuv3 "), std::string::npos) << c;
  o.pci_drives = {"/nonexistent/disk.img"};
  EXPECT_NE(Error(o).find("--pci_drive /nonexistent/disk.img: cannot read and write it"), std::string::npos);
}

TEST(RunnerOptions, ThePciNetworkIsAModernFunctionInSlot8) {
  RunOptions o = Base();
  o.pci_net = true;
  EXPECT_NE(Error(o).find("--pci_net puts the network device"), std::string::npos);
  o.net = true;
  const std::string c = Cmd(o);
  EXPECT_NE(c.find("-device virtio-net-pci,netdev=net0,bus=pcie.0,addr=8,disable-legacy=on,iommu_platform=on,romfile="),
            std::string::npos)
      << c;
  EXPECT_EQ(c.find("virtio-net-device"), std::string::npos) << c;
}

TEST(RunnerOptions, NetworksStayOnLoopback) {
  RunOptions o = Base();
  o.net = true;
  o.net_forwards = {"tcp:8080:80", "udp:7007:7"};
  const std::string c = Cmd(o);
  EXPECT_NE(c.find("-netdev user,id=net0,restrict=on,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:8080-:80,"
                   "hostfwd=udp:127.0.0.1:7007-:7 -device virtio-net-device,netdev=net0,bus=virtio-mmio-bus.8"),
            std::string::npos)
      << c;
  EXPECT_NE(c.find("-append keel.net=1"), std::string::npos) << "init starts the with-net tasks: " << c;
  EXPECT_NE(c.find("-global virtio-mmio.force-legacy=false"), std::string::npos) << c;
  o.append = "quiet";
  EXPECT_NE(Cmd(o).find("-append quiet keel.net=1"), std::string::npos);
  o.net_forwards.clear();
  EXPECT_NE(Cmd(o).find("-netdev user,id=net0,restrict=on,net=10.0.2.0/24 -device"), std::string::npos)
      << "no forwards: a network all the same";
  for (const char* bad : {"tcp:8080", "sctp:1:2", "tcp:0:80", "tcp:8080:70000", "tcp:a:b", "tcp:1:2:3"}) {
    o.net_forwards = {bad};
    EXPECT_NE(Error(o).find("a forward is PROTO:HOSTPORT:GUESTPORT"), std::string::npos) << bad;
  }
  RunOptions d = Base();
  d.net_dgram = "4000:4001";
  EXPECT_NE(Cmd(d).find("-netdev dgram,id=net0,local.type=inet,local.host=127.0.0.1,local.port=4000,"
                        "remote.type=inet,remote.host=127.0.0.1,remote.port=4001"),
            std::string::npos);
  d.net = true;
  EXPECT_NE(Error(d).find("two different networks"), std::string::npos);
  d.net = false;
  d.net_dgram = "4000";
  EXPECT_NE(Error(d).find("LOCALPORT:REMOTEPORT"), std::string::npos);
  EXPECT_EQ(Cmd(Base()).find("-netdev"), std::string::npos) << "no network unless asked";
}

TEST(RunnerOptions, GdbStubHaltedOrRunning) {
  RunOptions o = Base();
  o.gdb_port = 1234;
  o.serial_file = "/tmp/c.txt";
  EXPECT_NE(Cmd(o).find("-serial file:/tmp/c.txt -S -gdb tcp:127.0.0.1:1234"), std::string::npos) << Cmd(o);
  o.gdb_wait = false;  // the doctor: running, stopped later through the stub
  EXPECT_EQ(Cmd(o).find(" -S "), std::string::npos) << Cmd(o);
  EXPECT_NE(Cmd(o).find("-gdb tcp:127.0.0.1:1234"), std::string::npos);
  o.plugin = "/proc/self/exe,out=/tmp/x";
  EXPECT_NE(Cmd(o).find("-plugin /proc/self/exe,out=/tmp/x"), std::string::npos) << Cmd(o);
  o.plugin = "/no/such/plugin.so,out=/tmp/x";
  EXPECT_NE(Error(o).find("--plugin /no/such/plugin.so: cannot read it"), std::string::npos);
}

TEST(RunnerOptions, BadValuesSayWhatIsValid) {
  RunOptions o = Base();
  o.cpu = "cortex-m3";
  EXPECT_NE(Error(o).find("is not one of: cortex-a35, cortex-a53"), std::string::npos);
  o = Base();
  o.smp = 9;
  EXPECT_NE(Error(o).find("must be 1..8 (keel runs at most 8 CPUs)"), std::string::npos);
  o.gic = 3;
  EXPECT_NE(Error(o).find("must be 1..8"), std::string::npos) << "GICv3 does not lift keel's limit";
  o = Base();
  for (const char* c : {"cortex-a35", "a64fx", "neoverse-n1"}) {
    o.cpu = c;
    EXPECT_NE(Cmd(o).find(std::string("-cpu ") + c), std::string::npos) << c << " boots keel";
  }
  o.smp = 0;
  EXPECT_FALSE(Error(o).empty());
  o = Base();
  o.gic = 4;
  EXPECT_NE(Error(o).find("must be 2 or 3"), std::string::npos);
  o = Base();
  for (const char* m : {"12", "abcM", "32M", "64G", "1T", ""}) {
    o.mem = m;
    EXPECT_NE(Error(o).find("--mem"), std::string::npos) << m;
  }
  o = Base();
  o.image = "/nonexistent/image.bin";
  EXPECT_NE(Error(o).find("cannot read it"), std::string::npos);
  o = Base();
  o.load_addr = "0x48000000";
  EXPECT_NE(Error(o).find("needs --uboot"), std::string::npos);
  o.uboot = true;
  o.load_addr = "0x48001000";
  EXPECT_NE(Error(o).find("2 MiB-aligned"), std::string::npos);
  o.load_addr = "0x10000000";  // below RAM
  EXPECT_FALSE(Error(o).empty());
}

TEST(Symbolizer, ParsesBacktraceLinesOnly) {
  auto e = parse_backtrace_line("    #3 0xffffffff80001234 in kernel");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->index, 3);
  EXPECT_EQ(e->address, 0xffffffff80001234u);
  EXPECT_EQ(e->module, "kernel");
  EXPECT_TRUE(parse_backtrace_line("#0 0x160 in boot\r").has_value());  // serial line endings
  EXPECT_FALSE(parse_backtrace_line("keel: running in the high half at 0xffffffff80001534").has_value());
  EXPECT_FALSE(parse_backtrace_line("    #0 0xzz in kernel").has_value());
}

TEST(Symbolizer, ModuleSpecs) {
  std::map<std::string, std::string> m;
  std::string err;
  EXPECT_TRUE(Symbolizer::parse_modules({"kernel=/proc/self/exe"}, &m, &err)) << err;
  EXPECT_EQ(m["kernel"], "/proc/self/exe");
  EXPECT_FALSE(Symbolizer::parse_modules({"kernel"}, &m, &err));
  EXPECT_NE(err.find("NAME=PATH"), std::string::npos);
  EXPECT_FALSE(Symbolizer::parse_modules({"kernel=/nonexistent"}, &m, &err));
  Symbolizer s(m);
  EXPECT_EQ(s.describe({0, 0x1000, "user"}), "(no ELF given for module 'user')");
}

}  // namespace
}  // namespace keel::tools
