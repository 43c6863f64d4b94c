// parse.h — the system description's text form, checked and turned into the
// binary keel::sysdesc::System that init reads (libsys/include/keel/system.h).
//
// Text form (system/*.system):
//   # comment (to the end of the line)
//   task NAME                 a new task (NAME: 1..15 of [a-z0-9_-])
//     program  = MODULE       the boot module it is loaded from (default NAME)
//     role     = client | memory-server | uart-server     (default client)
//     start    = boot | on-demand | test   (default boot; test: the console's `test`)
//     priority = 1..254
//     quota    = SIZE          memory-server pages it may hold (clients)
//     untyped  = SIZE          untyped memory of its own (a power of two)
//     buffer   = SIZE          UART server: transmit buffer, 1K..64K
//     caps     = memory, console    (either or both, comma-separated)
//     channel  = TASK          an endpoint shared with TASK (both ends get it)
//     cpu      = 0..7          the CPU it runs on (default 0; CPU 0 if that one is not online)
//     irq      = console-uart  the interrupt it handles (the uart-server must have it)
//     outcome  = exit | stopped   how a test ends when it passes (default exit 0;
//                                 stopped: the memory server stops it for a fault)
//   SIZE: a number with an optional K or M suffix (bytes).
// Rules: exactly one memory-server and one uart-server, both started at
// boot; every program is one of the image's modules; names are unique.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keel/system.h"

namespace keel::tools {

// `modules`: the names of the image's boot modules (programs may only name these).
absl::StatusOr<sysdesc::System> parse_system(absl::string_view text, const std::vector<std::string>& modules);

}  // namespace keel::tools
