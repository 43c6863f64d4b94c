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
  int memory = 0, uart = 0;
  for (uint64_t i = 0; i < s.task_count; ++i) {
    const keel::sysdesc::Task& t = s.tasks[i];
    if (t.name[keel::sysdesc::kNameSize - 1] != '\0' || t.program[keel::sysdesc::kNameSize - 1] != '\0')
      __builtin_trap();
    if (t.priority < 1 || t.priority > 254) __builtin_trap();
    memory += t.role == keel::sysdesc::Role::kMemoryServer ? 1 : 0;
    uart += t.role == keel::sysdesc::Role::kUartServer ? 1 : 0;
  }
  if (memory != 1 || uart != 1) __builtin_trap();
  return 0;
}
