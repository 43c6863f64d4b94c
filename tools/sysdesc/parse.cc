#include "tools/sysdesc/parse.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "keel/pci.h"

namespace keel::tools {
namespace {

using sysdesc::Role;
using sysdesc::Start;
using sysdesc::Task;

bool valid_name(absl::string_view s) {
  if (s.empty() || s.size() >= sysdesc::kNameSize) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-'; });
}

bool parse_size(absl::string_view s, uint64_t* out) {
  uint64_t mult = 1;
  if (!s.empty() && (s.back() == 'K' || s.back() == 'M')) {
    mult = s.back() == 'K' ? 1024 : 1024 * 1024;
    s.remove_suffix(1);
  }
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v) || v > (uint64_t{1} << 40) / mult) return false;
  *out = v * mult;
  return true;
}

// A device spec as keel/devices.h reads it: printable, no blanks; a '#'
// only before a decimal index.
bool valid_device_spec(absl::string_view s) {
  if (s.empty() || s.size() >= sysdesc::kDeviceSpecSize) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127; })) return false;
  size_t hash = s.find('#');
  if (hash == absl::string_view::npos) return true;
  absl::string_view index = s.substr(hash + 1);
  return hash > 0 && s[0] != '/' && !index.empty() && std::all_of(index.begin(), index.end(), absl::ascii_isdigit) &&
         index.size() <= 6;
}

// The same device, as far as the description can tell (a COMPATIBLE is its #0).
std::string canonical_device(absl::string_view s) {
  if (s.empty() || s[0] == '/' || s == "stdout" || s.find('#') != absl::string_view::npos) return std::string(s);
  return absl::StrCat(s, "#0");
}

void set_name(char (&dst)[sysdesc::kNameSize], absl::string_view s) {
  std::memset(dst, 0, sizeof dst);
  std::memcpy(dst, s.data(), s.size());
}

}  // namespace

absl::StatusOr<sysdesc::System> parse_system(absl::string_view text, const std::vector<std::string>& modules) {
  sysdesc::System sys{};
  sys.magic = sysdesc::kMagic;
  sys.version = sysdesc::kVersion;
  Task* task = nullptr;
  bool has_priority = false, restart_said = false;
  int line_no = 0;
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", what));
  };
  auto finish = [&]() -> absl::Status {
    if (task == nullptr) return absl::OkStatus();
    if (!has_priority) return absl::InvalidArgumentError(absl::StrCat("task ", task->name, ": no priority"));
    // Drivers come back after a fault unless they say otherwise.
    if (!restart_said && task->role == Role::kDriver) task->restart = sysdesc::kRestartOnFault;
    if (task->program[0] == '\0') set_name(task->program, task->name);
    if (std::find(modules.begin(), modules.end(), std::string(task->program)) == modules.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("task ", task->name, ": program '", task->program, "' is not a module of the image"));
    }
    return absl::OkStatus();
  };
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    // A comment starts with a '#' at the start of a line or after a blank
    // (a device spec's '#' follows a non-blank: virtio,mmio#3).
    size_t hash = 0;
    while ((hash = raw.find('#', hash)) != absl::string_view::npos && hash > 0 && !absl::ascii_isspace(raw[hash - 1])) {
      ++hash;
    }
    absl::string_view line = raw.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (absl::ConsumePrefix(&line, "task ")) {
      if (absl::Status s = finish(); !s.ok()) return s;
      absl::string_view name = absl::StripAsciiWhitespace(line);
      if (!valid_name(name)) return error(absl::StrCat("bad task name '", name, "' (1..15 of a-z 0-9 _ -)"));
      if (sys.task_count == sysdesc::kMaxTasks) return error(absl::StrCat("more than ", sysdesc::kMaxTasks, " tasks"));
      for (uint64_t i = 0; i < sys.task_count; ++i) {
        if (name == sys.tasks[i].name) return error(absl::StrCat("task '", name, "' declared twice"));
      }
      task = &sys.tasks[sys.task_count++];
      set_name(task->name, name);
      task->reset_offset = ~uint64_t{0};
      has_priority = false;
      restart_said = false;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos)
      return error(absl::StrCat("expected 'task NAME' or 'key = value', got '", line, "'"));
    if (task == nullptr) return error("a setting before the first 'task'");
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key == "program") {
      if (!valid_name(value)) return error(absl::StrCat("bad program name '", value, "'"));
      set_name(task->program, value);
    } else if (key == "role") {
      if (value == "client") {
        task->role = Role::kClient;
      } else if (value == "memory-server") {
        task->role = Role::kMemoryServer;
      } else if (value == "console-server") {
        task->role = Role::kConsoleServer;
      } else if (value == "driver") {
        task->role = Role::kDriver;
      } else {
        return error(absl::StrCat("role must be client, driver, memory-server or console-server, not '", value, "'"));
      }
    } else if (key == "start") {
      if (value == "boot") {
        task->start = Start::kBoot;
      } else if (value == "on-demand") {
        task->start = Start::kOnDemand;
      } else if (value == "test") {
        task->start = Start::kTest;
      } else if (value == "with-net") {
        task->start = Start::kWithNet;
      } else {
        return error(absl::StrCat("start must be boot, on-demand, test or with-net, not '", value, "'"));
      }
    } else if (key == "priority") {
      uint32_t p = 0;
      if (!absl::SimpleAtoi(value, &p) || p < 1 || p > 254) return error("priority must be 1..254 (init has 255)");
      task->priority = p;
      has_priority = true;
    } else if (key == "quota" || key == "untyped" || key == "buffer" || key == "dma" || key == "shared") {
      uint64_t v = 0;
      if (!parse_size(value, &v)) return error(absl::StrCat("bad size '", value, "' (bytes, optional K or M)"));
      if (key == "quota") task->quota_bytes = v;
      if (key == "buffer") {
        // At least two whole lines (kLineMax, "\n" as "\r\n"): a line that
        // could never fit would make its writer wait forever.
        if (v < 1024 || v > 65536) return error("buffer must be 1K..64K bytes");
        task->buffer_bytes = v;
      }
      if (key == "shared") {
        if (v < 4096 || v > (64u << 10) || (v & (v - 1)) != 0) return error("shared must be a power of two, 4K..64K");
        task->shared_bytes = v;
      }
      if (key == "dma") {
        if (v < 4096 || v > (1u << 20) || (v & (v - 1)) != 0) return error("dma must be a power of two, 4K..1M");
        task->dma_bytes = v;
      }
      if (key == "untyped") {
        if (v < 4096 || (v & (v - 1)) != 0) return error("untyped must be a power of two of at least 4K");
        task->untyped_bytes = v;
      }
    } else if (key == "disk") {
      std::vector<absl::string_view> w = absl::StrSplit(value, ' ', absl::SkipEmpty());
      uint64_t off = 0, size = 0;
      if ((w.size() != 1 && w.size() != 3) || !valid_name(w[0]) ||
          (w.size() == 3 && (!parse_size(w[1], &off) || !parse_size(w[2], &size) || size == 0))) {
        return error("disk must be DRIVER, or DRIVER OFFSET SIZE (sizes with an optional K or M)");
      }
      if (off % 512 != 0 || size % 512 != 0)
        return error("a disk partition's offset and size are whole 512-byte sectors");
      set_name(task->disk, w[0]);
      task->disk_offset = off;
      task->disk_size = size;
    } else if (key == "connect") {
      if (!valid_name(value)) return error("connect must name a driver task");
      set_name(task->disk, value);
      task->disk_offset = task->disk_size = 0;
      task->connect = 1;
    } else if (key == "restart") {
      if (value == "never") {
        task->restart = sysdesc::kRestartNever;
      } else if (value == "on-fault") {
        task->restart = sysdesc::kRestartOnFault;
      } else if (value == "always") {
        task->restart = sysdesc::kRestartAlways;
      } else {
        return error("restart must be always, on-fault or never");
      }
      restart_said = true;
    } else if (key == "timer") {
      if (value != "yes" && value != "no") return error("timer must be yes or no");
      task->timer = value == "yes" ? 1 : 0;
    } else if (key == "watchdog") {
      // off, N ms or N s: 100 ms .. 60 s.
      uint64_t n = 0, scale = 1;
      absl::string_view v = value;
      if (absl::ConsumeSuffix(&v, "ms")) {
        scale = 1;
      } else if (absl::ConsumeSuffix(&v, "s")) {
        scale = 1000;
      } else if (v != "off") {
        return error("watchdog must be off, N ms or N s (2s, 500ms)");
      }
      v = absl::StripAsciiWhitespace(v);
      if (value == "off") {
        task->watchdog_ms = 0;
      } else if (!absl::SimpleAtoi(v, &n) || n * scale < 100 || n * scale > 60000) {
        return error("watchdog must be between 100ms and 60s");
      } else {
        task->watchdog_ms = static_cast<uint32_t>(n * scale);
      }
    } else if (key == "reset") {
      uint64_t off = 0;
      if (!absl::SimpleHexAtoi(value, &off) || !absl::StartsWith(value, "0x") || off > 0xffc || (off & 3) != 0) {
        return error("reset must be a register offset 0x0..0xffc, 4-byte aligned, in hex (0x70)");
      }
      task->reset_offset = off;
    } else if (key == "serves") {
      if (value == "clock") {
        task->serves |= sysdesc::kServeClock;
      } else if (value == "disk") {
        task->serves |= sysdesc::kServeDisk;
      } else if (value == "pci") {
        task->serves |= sysdesc::kServePci;
      } else {
        return error(absl::StrCat("unknown protocol '", value, "' (clock, disk, pci)"));
      }
    } else if (key == "device") {
      if (task->device_count == sysdesc::kMaxDevices) {
        return error(absl::StrCat("more than ", sysdesc::kMaxDevices, " devices for one task"));
      }
      if (!valid_device_spec(value)) {
        return error(absl::StrCat("bad device '", value,
                                  "' (COMPATIBLE, COMPATIBLE#N, /PATH or stdout; at most 47 characters)"));
      }
      const std::string spec(value);
      keel::pci::Match match;
      const char* why = keel::pci::is_spec(spec.c_str()) ? keel::pci::parse_match(spec.c_str(), &match) : nullptr;
      if (why != nullptr) return error(absl::StrCat("bad device '", value, "': ", why));
      char(&d)[sysdesc::kDeviceSpecSize] = task->devices[task->device_count++];
      std::memset(d, 0, sizeof d);
      std::memcpy(d, value.data(), value.size());
    } else if (key == "cpu") {
      uint32_t cpu = 0;
      if (!absl::SimpleAtoi(value, &cpu) || cpu > 7) return error("cpu must be 0..7");
      task->cpu = cpu;
    } else if (key == "outcome") {
      if (value != "exit" && value != "stopped") return error("outcome must be exit or stopped");
      task->expect_stopped = value == "stopped" ? 1 : 0;
    } else if (key == "channel") {
      if (!valid_name(value)) return error(absl::StrCat("bad task name '", value, "'"));
      set_name(task->channel, value);
    } else if (key == "caps") {
      task->caps = 0;
      for (absl::string_view c : absl::StrSplit(value, ',')) {
        c = absl::StripAsciiWhitespace(c);
        if (c == "memory") {
          task->caps |= sysdesc::kCapMemory;
        } else if (c == "console") {
          task->caps |= sysdesc::kCapConsole;
        } else {
          return error(absl::StrCat("unknown capability '", c, "' (memory, console)"));
        }
      }
    } else {
      return error(absl::StrCat("unknown key '", key, "'"));
    }
  }
  if (absl::Status s = finish(); !s.ok()) return s;
  int memory = 0, console = 0;
  for (uint64_t i = 0; i < sys.task_count; ++i) {
    const Task& t = sys.tasks[i];
    if (t.channel[0] != '\0') {
      bool found = false;
      for (uint64_t j = 0; j < sys.task_count; ++j) found |= j != i && std::strcmp(sys.tasks[j].name, t.channel) == 0;
      if (!found)
        return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": channel to unknown task '", t.channel, "'"));
    }
    const bool drives = t.role == Role::kDriver || t.role == Role::kConsoleServer;
    // (A driver stacked on another — the network stack over the network
    // driver — has its connection instead of a device.)
    const bool stacked = t.role == Role::kDriver && t.disk[0] != '\0';
    if (drives && t.device_count == 0 && !stacked) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": a ", sysdesc::role_name(t.role),
                                                     " needs at least one 'device = ...'",
                                                     t.role == Role::kDriver ? " (or a 'connect = DRIVER')" : ""));
    }
    if (!drives && t.device_count != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("task ", t.name, ": only a driver or the console-server is given devices"));
    }
    // Two tasks (or one task twice) claiming the same device: known here.
    for (uint32_t d = 0; d < t.device_count; ++d) {
      for (uint64_t j = 0; j <= i; ++j) {
        for (uint32_t e = 0; e < sys.tasks[j].device_count; ++e) {
          if ((j == i && e >= d) || canonical_device(t.devices[d]) != canonical_device(sys.tasks[j].devices[e])) {
            continue;
          }
          return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": device '", t.devices[d],
                                                         "' is also claimed by task ", sys.tasks[j].name));
        }
      }
    }
    if (t.disk[0] != '\0') {
      const Task* drv = nullptr;
      for (uint64_t j = 0; j < sys.task_count; ++j) {
        if (std::strcmp(sys.tasks[j].name, t.disk) == 0) drv = &sys.tasks[j];
      }
      if (drv == nullptr || drv->role != Role::kDriver) {
        return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": disk '", t.disk, "' is not a driver task"));
      }
      if (t.role != Role::kClient && t.role != Role::kDriver) {
        return absl::InvalidArgumentError(
            absl::StrCat("task ", t.name, ": only a client or a driver connects to a driver"));
      }
      if (drv == &t) return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": connects to itself"));
      int clients = 0;
      for (uint64_t j = 0; j < sys.task_count; ++j) {
        const Task& u = sys.tasks[j];
        if (std::strcmp(u.disk, t.disk) != 0) continue;
        ++clients;
        if (j >= i || t.connect != 0 || u.connect != 0) continue;  // (each pair once; partitions only)
        // Partitions of one disk must not overlap (size 0: to the end).
        const uint64_t a0 = t.disk_offset, a1 = t.disk_size == 0 ? ~uint64_t{0} : a0 + t.disk_size;
        const uint64_t b0 = u.disk_offset, b1 = u.disk_size == 0 ? ~uint64_t{0} : b0 + u.disk_size;
        if (a0 < b1 && b0 < a1) {
          return absl::InvalidArgumentError(
              absl::StrCat("task ", t.name, ": its partition of ", t.disk, " overlaps task ", u.name, "'s"));
        }
      }
      if (clients > 4) {
        return absl::InvalidArgumentError(
            absl::StrCat("task ", t.name, ": driver ", t.disk, " has more than 4 clients"));
      }
    }
    if (t.shared_bytes != 0) {
      bool peer = t.channel[0] != '\0';
      for (uint64_t j = 0; j < sys.task_count; ++j) peer |= std::strcmp(sys.tasks[j].channel, t.name) == 0;
      if (!peer) {
        return absl::InvalidArgumentError(
            absl::StrCat("task ", t.name, ": shared memory needs a channel (it is the channel's)"));
      }
    }
    if (t.timer != 0) {
      if (t.role != Role::kDriver) {
        return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": only a driver is given the timer"));
      }
      for (uint64_t j = 0; j < i; ++j) {
        if (sys.tasks[j].timer != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("task ", t.name, ": the timer is task ", sys.tasks[j].name, "'s already"));
        }
      }
    }
    if (t.restart != sysdesc::kRestartNever && (t.role == Role::kMemoryServer || t.role == Role::kConsoleServer)) {
      return absl::InvalidArgumentError(
          absl::StrCat("task ", t.name, ": a server is not restarted (it is the system)"));
    }
    if (t.watchdog_ms != 0 && (t.role != Role::kDriver || t.restart == sysdesc::kRestartNever)) {
      return absl::InvalidArgumentError(
          absl::StrCat("task ", t.name, ": only a driver that is restarted has a watchdog"));
    }
    if (t.reset_offset != ~uint64_t{0} && t.role != Role::kDriver) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": only a driver's devices are reset"));
    }
    if (t.dma_bytes != 0 && t.role != Role::kDriver) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": only a driver is given DMA memory"));
    }
    if (t.serves != 0 && t.role != Role::kDriver) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": only a driver serves a protocol"));
    }
    if (t.role == Role::kClient || t.role == Role::kDriver) continue;
    (t.role == Role::kMemoryServer ? memory : console) += 1;
    if (t.start != Start::kBoot) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": a server must start at boot"));
    }
    if (t.role == Role::kConsoleServer && t.buffer_bytes == 0) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t.name, ": the console-server needs a buffer size"));
    }
  }
  if (memory != 1 || console != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("need exactly one memory-server and one console-server (found ", memory, " and ", console, ")"));
  }
  return sys;
}

}  // namespace keel::tools
