// parse_fuzz — libFuzzer target: the system description parser on
// arbitrary text. Oracle: the sanitizers, and what an accepted description
// promises init (tools/sysdesc/parse.h rules): a task count in range,
// terminated names, priorities in range, exactly one memory and one UART
// server.
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tools/sysdesc/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> kModules = {"init",         "memory", "uart",           "memory_test",
                                                    "console_test", "bench",  "server_attacks", "smp_test"};
  auto sys = keel::tools::parse_system(absl::string_view(reinterpret_cast<const char*>(data), size), kModules);
  if (!sys.ok()) return 0;
  const keel::sysdesc::System& s = *sys;
  if (s.task_count == 0 || s.task_count > keel::sysdesc::kMaxTasks) __builtin_trap();
  int memory = 0, console = 0;
  for (uint64_t i = 0; i < s.task_count; ++i) {
    const keel::sysdesc::Task& t = s.tasks[i];
    if (t.name[keel::sysdesc::kNameSize - 1] != '\0' || t.program[keel::sysdesc::kNameSize - 1] != '\0')
      __builtin_trap();
    if (t.priority < 1 || t.priority > 254) __builtin_trap();
    memory += t.role == keel::sysdesc::Role::kMemoryServer ? 1 : 0;
    console += t.role == keel::sysdesc::Role::kConsoleServer ? 1 : 0;
    if (t.device_count > keel::sysdesc::kMaxDevices) __builtin_trap();
    for (uint32_t d = 0; d < t.device_count; ++d) {
      if (t.devices[d][0] == '\0' || t.devices[d][keel::sysdesc::kDeviceSpecSize - 1] != '\0') __builtin_trap();
    }
    const bool drives = t.role == keel::sysdesc::Role::kDriver || t.role == keel::sysdesc::Role::kConsoleServer;
    if (drives != (t.device_count != 0)) __builtin_trap();
  }
  if (memory != 1 || console != 1) __builtin_trap();
  return 0;
}
