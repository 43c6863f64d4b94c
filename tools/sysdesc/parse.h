// parse.h — the system description's text form, checked and turned into the
// binary keel::sysdesc::System that init reads (libsys/include/keel/system.h).
//
// Text form (system/*.system):
//   # comment (to the end of the line; a '#' starts one at the start of a
//     line or after a blank)
//   task NAME                 a new task (NAME: 1..15 of [a-z0-9_-])
//     program  = MODULE       the boot module it is loaded from (default NAME)
//     role     = client | driver | memory-server | console-server   (default client)
//     start    = boot | on-demand | test | with-net   (default boot; test: the console's `test`;
//                with-net: at boot when the runner attached a network, `keel.net` boot argument)
//     priority = 1..254
//     quota    = SIZE          memory-server pages it may hold (clients)
//     untyped  = SIZE          untyped memory of its own (a power of two)
//     buffer   = SIZE          console server: transmit buffer, 1K..64K
//     caps     = memory, console    (either or both, comma-separated)
//     channel  = TASK          an endpoint shared with TASK (both ends get it)
//     shared   = SIZE          memory both ends of the channel map, and a notification
//                              each way (power of two, 4K..64K; either end may say)
//     cpu      = 0..7          the CPU it runs on (default 0; CPU 0 if that one is not online)
//     device   = SPEC          a driver's device (up to 4 lines): COMPATIBLE, COMPATIBLE#N,
//                              /PATH or stdout (keel/devices.h); init gives it the
//                              node's registers and interrupts. One device, one task.
//     dma      = SIZE          a driver's physically contiguous RAM (power of two, 4K..1M)
//     disk     = DRIVER [OFFSET SIZE]  a client's partition of a block driver's disk (whole
//                              disk without OFFSET SIZE; partitions never overlap; <= 4 per driver)
//     connect  = DRIVER        a connection to a driver (shared memory, a wake-up each way;
//                              a driver may connect to another driver; <= 4 per driver)
//     timer    = yes           a driver gets the user timer (one task in the system)
//     restart  = always | on-fault | never   when it stops by itself, init restarts it
//                              (drivers default to on-fault, others to never)
//     reset    = 0xOFFSET      a driver's devices, quieted when it is stopped: 0 written
//                              there, read back until 0 (virtio-mmio: 0x70)
//     serves   = clock         a driver's protocol on its endpoint (init's `date` asks it)
//     outcome  = exit | stopped   how a test ends when it passes (default exit 0;
//                                 stopped: the memory server stops it for a fault)
//   SIZE: a number with an optional K or M suffix (bytes).
// Rules: exactly one memory-server and one console-server, both started at
// boot; drivers and the console-server have devices, nobody else does; no
// device is named twice; every program is one of the image's modules;
// names are unique.
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
