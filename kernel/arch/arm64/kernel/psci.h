// psci.h — Power State Coordination Interface calls (Arm DEN 0022).
// The conduit (HVC or SMC) comes from the DTB's /psci node.
#pragma once

#include <stdint.h>

#include "kernel/dtb/dtb.h"

namespace keel::arm64 {

constexpr uint32_t kPsciVersion = 0x8400'0000;
constexpr uint32_t kPsciSystemOff = 0x8400'0008;

// Issues a PSCI call; returns x0. With conduit kNone returns -1 (NOT_SUPPORTED).
int64_t psci_call(dtb::PsciConduit conduit, uint64_t fn, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0);

}  // namespace keel::arm64
