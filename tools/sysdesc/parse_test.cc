#include "tools/sysdesc/parse.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace keel::tools {
namespace {

const std::vector<std::string> kModules = {"init", "uart", "memory", "client", "other"};

constexpr const char* kMinimal = R"(
# the smallest valid system
task uart
  role = console-server
  priority = 240
  buffer = 4K
  device = stdout
task memory            # trailing comment
  role = memory-server
  priority = 230
  caps = console
)";

std::string with(const std::string& extra) { return std::string(kMinimal) + extra; }

std::string error_of(const std::string& text) {
  auto r = parse_system(text, kModules);
  return r.ok() ? "ok" : std::string(r.status().message());
}

TEST(SysdescTest, MinimalSystem) {
  auto r = parse_system(kMinimal, kModules);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->magic, sysdesc::kMagic);
  ASSERT_EQ(r->task_count, 2u);
  EXPECT_STREQ(r->tasks[0].name, "uart");
  EXPECT_STREQ(r->tasks[0].program, "uart");  // defaults to the name
  EXPECT_EQ(r->tasks[0].role, sysdesc::Role::kConsoleServer);
  EXPECT_EQ(r->tasks[0].device_count, 1u);
  EXPECT_STREQ(r->tasks[0].devices[0], "stdout");
  EXPECT_EQ(r->tasks[0].buffer_bytes, 4096u);
  EXPECT_EQ(r->tasks[1].priority, 230u);
  EXPECT_EQ(r->tasks[1].caps, sysdesc::kCapConsole);
}

TEST(SysdescTest, ClientSettings) {
  auto r = parse_system(with("task t1\n program = client\n priority = 100\n start = on-demand\n quota = 1M\n"
                             " untyped = 64K\n caps = memory,console\n"),
                        kModules);
  ASSERT_TRUE(r.ok()) << r.status();
  const sysdesc::Task& t = r->tasks[2];
  EXPECT_STREQ(t.program, "client");
  EXPECT_EQ(t.start, sysdesc::Start::kOnDemand);
  EXPECT_EQ(t.quota_bytes, 1u << 20);
  EXPECT_EQ(t.untyped_bytes, 64u << 10);
  EXPECT_EQ(t.caps, sysdesc::kCapMemory | sysdesc::kCapConsole);
  EXPECT_EQ(t.expect_stopped, 0u);
  auto s = parse_system(with("task w\n program = client\n priority = 3\n outcome = stopped\n"), kModules);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->tasks[2].expect_stopped, 1u);
  auto c = parse_system(with("task w\n program = client\n priority = 3\n cpu = 5\n"), kModules);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tasks[2].cpu, 5u);
}

TEST(SysdescTest, ErrorsNameTheLineAndTheReason) {
  EXPECT_EQ(error_of(with("task x\n program = client\n priority = 0\n")),
            "line 14: priority must be 1..254 (init has 255)");
  EXPECT_EQ(error_of(with("task x\n colour = red\n")), "line 13: unknown key 'colour'");
  EXPECT_EQ(error_of(with("task x\n caps = memory, disk\n")), "line 13: unknown capability 'disk' (memory, console)");
  EXPECT_EQ(error_of(with("task x\n untyped = 3000\n")), "line 13: untyped must be a power of two of at least 4K");
  EXPECT_EQ(error_of(with("task x\n quota = 12Q\n")), "line 13: bad size '12Q' (bytes, optional K or M)");
  EXPECT_EQ(error_of(with("task uart\n")), "line 12: task 'uart' declared twice");
  EXPECT_EQ(error_of(with("task Bad!\n")), "line 12: bad task name 'Bad!' (1..15 of a-z 0-9 _ -)");
  EXPECT_EQ(error_of(with("just words\n")), "line 12: expected 'task NAME' or 'key = value', got 'just words'");
  EXPECT_EQ(error_of("priority = 3\n"), "line 1: a setting before the first 'task'");
  EXPECT_EQ(error_of(with("task x\n outcome = maybe\n")), "line 13: outcome must be exit or stopped");
  EXPECT_EQ(error_of(with("task x\n cpu = 8\n")), "line 13: cpu must be 0..7");
  EXPECT_EQ(error_of(with("task x\n buffer = 512\n")), "line 13: buffer must be 1K..64K bytes");
  EXPECT_EQ(error_of(with("task x\n start = later\n")),
            "line 13: start must be boot, on-demand, test or with-net, not 'later'");
}

TEST(SysdescTest, WholeSystemRules) {
  EXPECT_EQ(error_of(with("task ghost\n priority = 5\n")), "task ghost: program 'ghost' is not a module of the image");
  EXPECT_EQ(error_of(with("task x\n program = client\n")), "task x: no priority");
  EXPECT_EQ(error_of(with("task x\n program = client\n priority = 3\n channel = nobody\n")),
            "task x: channel to unknown task 'nobody'");
  EXPECT_EQ(error_of("task uart\n role = console-server\n priority = 9\n buffer = 4K\n task memory\n"
                     " role = memory-server\n priority = 9\n"),
            "task uart: a console-server needs at least one 'device = ...'");
  EXPECT_EQ(error_of("task uart\n role = console-server\n priority = 9\n buffer = 4K\n device = stdout\n"),
            "need exactly one memory-server and one console-server (found 0 and 1)");
  EXPECT_EQ(error_of(with("task m2\n program = memory\n role = memory-server\n priority = 9\n")),
            "need exactly one memory-server and one console-server (found 2 and 1)");
  EXPECT_EQ(error_of("task uart\n role = console-server\n priority = 9\n buffer = 1K\n device = stdout\n"
                     " task memory\n role = memory-server\n"
                     " priority = 9\n start = on-demand\n"),
            "task memory: a server must start at boot");
  std::string many = kMinimal;
  for (int i = 0; i < 15; ++i) many += "task c" + std::to_string(i) + "\n program = client\n priority = 1\n";
  EXPECT_EQ(error_of(many), "line 54: more than 16 tasks");
}

TEST(SysdescTest, Devices) {
  auto r = parse_system(with("task blk\n program = client\n role = driver\n priority = 200\n"
                             " device = virtio,mmio#31   # the last transport\n device = /pl031@9010000\n"
                             " serves = clock\n serves = disk\n serves = pci\n"),
                        kModules);
  ASSERT_TRUE(r.ok()) << r.status();
  const sysdesc::Task& t = r->tasks[2];
  EXPECT_EQ(t.role, sysdesc::Role::kDriver);
  ASSERT_EQ(t.device_count, 2u);
  EXPECT_STREQ(t.devices[0], "virtio,mmio#31");
  EXPECT_STREQ(t.devices[1], "/pl031@9010000");
  EXPECT_EQ(t.serves, sysdesc::kServeClock | sysdesc::kServeDisk | sysdesc::kServePci);
  auto dma = parse_system(
      with("task blk\n program = client\n role = driver\n priority = 200\n device = x\n dma = 64K\n"), kModules);
  ASSERT_TRUE(dma.ok()) << dma.status();
  EXPECT_EQ(dma->tasks[2].dma_bytes, 64u << 10);
  auto rs = parse_system(with("task blk\n program = client\n role = driver\n priority = 200\n device = x\n"
                              " reset = 0x70\n"),
                         kModules);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->tasks[2].reset_offset, 0x70u);
  EXPECT_EQ(rs->tasks[0].reset_offset, ~uint64_t{0}) << "none unless said";
  EXPECT_EQ(error_of(with("task c\n program = client\n priority = 3\n reset = 0x70\n")),
            "task c: only a driver's devices are reset");
  for (const char* bad : {"70", "0x71", "0x1000", "0xzz"}) {
    EXPECT_EQ(error_of(with(std::string("task c\n program = client\n priority = 3\n reset = ") + bad + "\n")),
              "line 15: reset must be a register offset 0x0..0xffc, 4-byte aligned, in hex (0x70)")
        << bad;
  }
  auto dk = parse_system(with("task blk\n program = client\n role = driver\n priority = 200\n device = x\n"
                              "task a\n program = client\n priority = 3\n disk = blk 0 32K\n"
                              "task b\n program = client\n priority = 3\n disk = blk 32K 32K\n"),
                         kModules);
  ASSERT_TRUE(dk.ok()) << dk.status();
  EXPECT_STREQ(dk->tasks[3].disk, "blk");
  EXPECT_EQ(dk->tasks[4].disk_offset, 32u << 10);
  EXPECT_EQ(dk->tasks[4].disk_size, 32u << 10);
  EXPECT_EQ(error_of(with("task blk\n program = client\n role = driver\n priority = 200\n device = x\n"
                          "task a\n program = client\n priority = 3\n disk = blk 0 32K\n"
                          "task b\n program = client\n priority = 3\n disk = blk 16K 32K\n")),
            "task b: its partition of blk overlaps task a's");
  EXPECT_EQ(error_of(with("task a\n program = client\n priority = 3\n disk = memory\n")),
            "task a: disk 'memory' is not a driver task");
  EXPECT_EQ(error_of(with("task a\n program = client\n priority = 3\n disk = blk 100 4K\n")),
            "line 15: a disk partition's offset and size are whole 512-byte sectors");
  EXPECT_EQ(error_of(with("task a\n program = client\n priority = 3\n disk = blk 4K\n")),
            "line 15: disk must be DRIVER, or DRIVER OFFSET SIZE (sizes with an optional K or M)");
  auto sh = parse_system(with("task a\n program = client\n priority = 3\n channel = b\n task b\n program = client\n"
                              " priority = 3\n shared = 16K\n"),
                         kModules);
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_EQ(sh->tasks[3].shared_bytes, 16u << 10) << "the end that did not declare the channel may say";
  EXPECT_EQ(error_of(with("task c\n program = client\n priority = 3\n shared = 4K\n")),
            "task c: shared memory needs a channel (it is the channel's)");
  EXPECT_EQ(error_of(with("task a\n program = client\n priority = 3\n channel = uart\n shared = 128K\n")),
            "line 16: shared must be a power of two, 4K..64K");
  EXPECT_EQ(error_of(with("task c\n program = client\n priority = 3\n dma = 4K\n")),
            "task c: only a driver is given DMA memory");
  for (const char* bad : {"3K", "2M", "12K"}) {
    EXPECT_EQ(error_of(with(std::string("task c\n program = client\n priority = 3\n dma = ") + bad + "\n")),
              "line 15: dma must be a power of two, 4K..1M")
        << bad;
  }
  EXPECT_EQ(error_of(with("task p\n program = client\n role = driver\n priority = 3\n device = pci:1af4:104\n")),
            "line 16: bad device 'pci:1af4:104': the device is 4 hex digits");
  EXPECT_EQ(error_of(with("task p\n program = client\n role = driver\n priority = 3\n device = pci:01\n")),
            "line 16: bad device 'pci:01': CLASS is 4 (class, subclass) or 6 (with programming interface) hex digits");
  EXPECT_EQ(error_of(with("task c\n program = client\n priority = 3\n serves = clock\n")),
            "task c: only a driver serves a protocol");
  EXPECT_EQ(error_of(with("task c\n program = client\n priority = 3\n serves = time\n")),
            "line 15: unknown protocol 'time' (clock, disk, pci)");
  EXPECT_EQ(error_of(with("task d\n program = client\n role = driver\n priority = 3\n")),
            "task d: a driver needs at least one 'device = ...' (or a 'connect = DRIVER')");
  auto st = parse_system(with("task net\n program = client\n role = driver\n priority = 200\n device = x\n"
                              "task stack\n program = client\n role = driver\n priority = 190\n connect = net\n"
                              " timer = yes\n"
                              "task web\n program = client\n priority = 3\n connect = stack\n"),
                         kModules);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_STREQ(st->tasks[3].disk, "net") << "a driver stacked on a driver: a connection, no device";
  EXPECT_EQ(st->tasks[3].timer, 1u);
  EXPECT_EQ(st->tasks[3].device_count, 0u);
  EXPECT_EQ(st->tasks[2].restart, sysdesc::kRestartOnFault) << "a driver comes back after a fault by default";
  EXPECT_EQ(st->tasks[4].restart, sysdesc::kRestartNever) << "a client does not, unless it says so";
  auto rs2 = parse_system(with("task a\n program = client\n priority = 3\n restart = always\n"
                               "task b\n program = client\n role = driver\n priority = 3\n device = x\n"
                               " restart = never\n"),
                          kModules);
  ASSERT_TRUE(rs2.ok()) << rs2.status();
  EXPECT_EQ(rs2->tasks[2].restart, sysdesc::kRestartAlways);
  EXPECT_EQ(rs2->tasks[3].restart, sysdesc::kRestartNever);
  EXPECT_EQ(error_of(with("task a\n program = client\n priority = 3\n restart = sometimes\n")),
            "line 15: restart must be always, on-fault or never");
  EXPECT_STREQ(st->tasks[4].disk, "stack");
  EXPECT_EQ(error_of(with("task d\n program = client\n role = driver\n priority = 3\n connect = d\n")),
            "task d: connects to itself");
  const std::string drv = "task d\n program = client\n role = driver\n priority = 3\n device = a\n";
  for (const auto& [text, ms] : std::vector<std::pair<std::string, uint32_t>>{
           {"2s", 2000}, {"500ms", 500}, {"100 ms", 100}, {"60s", 60000}, {"off", 0}}) {
    auto w = parse_system(with(absl::StrCat(drv, " watchdog = ", text, "\n")), kModules);
    ASSERT_TRUE(w.ok()) << text << ": " << w.status();
    EXPECT_EQ(w->tasks[2].watchdog_ms, ms) << text;
  }
  for (const char* bad : {"99ms", "61s", "2", "soon", "-1s", "1.5s", "0ms"}) {
    EXPECT_EQ(error_of(with(absl::StrCat(drv, " watchdog = ", bad, "\n"))).substr(0, 18), "line 17: watchdog ") << bad;
  }
  EXPECT_EQ(error_of(with("task c\n program = client\n priority = 3\n watchdog = 1s\n")),
            "task c: only a driver that is restarted has a watchdog");
  EXPECT_EQ(error_of(with(drv + " restart = never\n watchdog = 1s\n")),
            "task d: only a driver that is restarted has a watchdog");
  EXPECT_EQ(error_of(with("task d\n program = client\n priority = 3\n timer = yes\n")),
            "task d: only a driver is given the timer");
  EXPECT_EQ(error_of(with("task d\n program = client\n priority = 3\n timer = soon\n")),
            "line 15: timer must be yes or no");
  EXPECT_EQ(error_of(with("task d\n program = client\n role = driver\n priority = 3\n device = a\n timer = yes\n"
                          "task e\n program = client\n role = driver\n priority = 3\n device = b\n timer = yes\n")),
            "task e: the timer is task d's already");
  EXPECT_EQ(error_of(with("task d\n program = client\n priority = 3\n device = arm,pl031\n")),
            "task d: only a driver or the console-server is given devices");
  EXPECT_EQ(error_of(with("task d\n program = client\n role = driver\n priority = 3\n device = stdout\n")),
            "task d: device 'stdout' is also claimed by task uart");
  EXPECT_EQ(error_of(with("task d\n program = client\n role = driver\n priority = 3\n device = arm,pl031\n"
                          " device = arm,pl031#0\n")),
            "task d: device 'arm,pl031#0' is also claimed by task d");
  for (const char* bad : {"virtio,mmio#", "virtio,mmio#x", "#3", "/a#1", "a b", "virtio,mmio#1234567"}) {
    EXPECT_NE(error_of(with(std::string("task d\n program = client\n role = driver\n priority = 3\n device = ") + bad +
                            "\n")),
              "ok")
        << bad;
  }
  EXPECT_EQ(error_of(with("task d\n program = client\n role = driver\n priority = 3\n device = a\n device = b\n"
                          " device = c\n device = d\n device = e\n")),
            "line 20: more than 4 devices for one task");
}

// Every description in system/ is valid (the image build checks that its
// programs are modules of the image; here every program a task names, or
// its name, counts as one, so a new task needs no edit here).
TEST(SysdescTest, CheckedInDescriptionsParse) {
  for (const char* file : {"system/keel.system", "system/memory_test.system", "system/console_test.system"}) {
    std::ifstream f(file);
    ASSERT_TRUE(f) << file;
    std::vector<std::string> modules = {"init", "uart", "memory"};
    std::string text, line;
    while (std::getline(f, line)) {
      text += line + "\n";
      std::istringstream words(line.substr(0, line.find('#')));
      std::string first, second, third;
      words >> first >> second >> third;
      if (first == "task" && !second.empty()) modules.push_back(second);
      if (first == "program" && second == "=" && !third.empty()) modules.push_back(third);
    }
    auto r = parse_system(text, modules);
    EXPECT_TRUE(r.ok()) << file << ": " << r.status();
  }
}

}  // namespace
}  // namespace keel::tools
