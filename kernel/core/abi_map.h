// abi_map.h — the one place kernel Status values become ABI error codes.
#pragma once

#include "keel/abi.h"
#include "kernel/lib/status.h"

namespace keel {

// (Always inlined: the syscall short path is a leaf function.)
[[gnu::always_inline]] constexpr abi::Error to_abi(Status s) {
  switch (s) {
    case Status::kOk: return abi::Error::kOk;
    case Status::kInvalidCapability: return abi::Error::kInvalidCapability;
    case Status::kSlotOccupied: return abi::Error::kSlotOccupied;
    case Status::kInsufficientRights: return abi::Error::kInsufficientRights;
    case Status::kRevokeFirst: return abi::Error::kRevokeFirst;
    case Status::kInvalidSlot: return abi::Error::kInvalidSlot;
    case Status::kMissingTable: return abi::Error::kNoPageTable;
    // (syscall_dispatch runs a restarted call again instead of answering.)
    case Status::kRestart:
    case Status::kStop: return abi::Error::kInvalidArgument;
    case Status::kNoMemory: return abi::Error::kNotEnoughMemory;
    case Status::kOutOfRange:
    case Status::kNotFound:
    case Status::kMisaligned: return abi::Error::kInvalidAddress;
    case Status::kInvalidArgument:
    case Status::kOverlap:
    case Status::kMalformed:
    case Status::kTruncated:
    case Status::kUnsupported: return abi::Error::kInvalidArgument;
  }
  return abi::Error::kInvalidArgument;
}

}  // namespace keel
