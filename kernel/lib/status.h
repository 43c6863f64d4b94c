// status.h — keel's one error type.
//
// Contract: every fallible kernel function returns `Status` (or `Result<T>`)
// and the compiler refuses to let a caller drop it. Status names are stable:
// they appear in panic and preflight messages and in tests.
#pragma once

#include <stdint.h>

namespace keel {

enum class [[nodiscard]] Status : uint32_t {
  kOk = 0,
  kInvalidArgument,     // a parameter is outside its documented domain
  kOutOfRange,          // an offset or address lies outside the object
  kMisaligned,          // an address or size violates a required alignment
  kOverlap,             // a mapping collides with an existing one
  kNoMemory,            // an allocator is exhausted
  kNotFound,            // the requested item does not exist
  kMalformed,           // input data (DTB, ELF, image) is structurally invalid
  kTruncated,           // input data ends before a structure it declares
  kUnsupported,         // valid, but keel does not handle it
  kInvalidCapability,   // empty slot, or a capability of the wrong type
  kSlotOccupied,        // a destination slot is not empty
  kInsufficientRights,  // the capability lacks a right the operation needs
  kRevokeFirst,         // the capability must have no derived children first
  kInvalidSlot,         // a slot index outside its CNode
  kMissingTable,        // a mapping needs an intermediate table that is absent
  kRestart,             // progress made, more to do: the syscall runs again (never reaches user space)
  kStop,                // a walk's visitor has what it wanted: the walk ends early (not an error)
};

constexpr const char* status_name(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kOutOfRange: return "out of range";
    case Status::kMisaligned: return "misaligned";
    case Status::kOverlap: return "overlap";
    case Status::kNoMemory: return "out of memory";
    case Status::kNotFound: return "not found";
    case Status::kMalformed: return "malformed";
    case Status::kTruncated: return "truncated";
    case Status::kUnsupported: return "unsupported";
    case Status::kInvalidCapability: return "invalid capability";
    case Status::kSlotOccupied: return "slot occupied";
    case Status::kInsufficientRights: return "insufficient rights";
    case Status::kRevokeFirst: return "revoke first";
    case Status::kInvalidSlot: return "invalid slot";
    case Status::kMissingTable: return "missing table";
    case Status::kRestart: return "restart";
    case Status::kStop: return "stop";
  }
  return "unknown status";
}

// A value or the Status explaining why there is none. Trivial on purpose:
// usable with the MMU off (no constructors with side effects, no heap).
template <typename T>
class [[nodiscard]] Result {
 public:
  constexpr Result(T value) : value_(value), status_(Status::kOk) {}  // NOLINT: implicit by design
  constexpr Result(Status s) : value_(), status_(s) {}                // NOLINT: implicit by design
  constexpr bool ok() const { return status_ == Status::kOk; }
  constexpr Status status() const { return status_; }
  constexpr const T& value() const { return value_; }
  constexpr T& value() { return value_; }

 private:
  T value_;
  Status status_;
};

}  // namespace keel
