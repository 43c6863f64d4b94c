// board.h — QEMU `virt` facts keel may fall back on, and nothing else.
//
// The DTB is the authority on every address. These constants are used only
// to report a problem *with* the DTB (a missing or malformed one), when no
// other console is known; they are never used to drive the board.
#pragma once

#include <stdint.h>

namespace keel::platform::qemu_virt {

constexpr uint64_t kFallbackConsolePa = 0x0900'0000;  // virt's first PL011
constexpr uint64_t kRamBase = 0x4000'0000;

}  // namespace keel::platform::qemu_virt
