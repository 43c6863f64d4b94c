// untyped.cc — the Untyped object: a power-of-two range of memory that
// Retype turns into objects (capability.h: retype, with the watermark
// rules). Memory is zeroed when it becomes objects (objects.cc), never when
// untyped is split into smaller untyped; one Retype zeroes at most
// kMaxRetypeBytes, so no call holds the kernel lock for a time that grows
// with the memory it is given.
#include "kernel/object/objects.h"

namespace keel {

Status untyped_invoke(Thread* t, object::Slot* ut, abi::Method m) KEEL_REQUIRES(g_kernel_lock) {
  if (m != abi::Method::kUntypedRetype) return Status::kInvalidArgument;
  const auto a = t->regs().method_args<abi::UntypedRetype>();
  constexpr uint64_t kMaxCount = 64;
  if (a.type == 0 || a.type >= static_cast<uint64_t>(abi::ObjectType::kCount) || a.size_bits > 63 || a.count == 0 ||
      a.count > kMaxCount) {
    return Status::kInvalidArgument;
  }
  // Objects made of memory the kernel zeroes: at most one 2 MiB frame's
  // worth per call (untyped costs nothing per byte: it is never zeroed).
  constexpr uint64_t kMaxRetypeBytes = 2ull << 20;
  const unsigned bits =
      object::object_size_bits(static_cast<abi::ObjectType>(a.type), static_cast<unsigned>(a.size_bits));
  if (a.type != static_cast<uint64_t>(abi::ObjectType::kUntyped) && bits != 0 &&
      (bits > 21 || (a.count << bits) > kMaxRetypeBytes)) {
    return Status::kInvalidArgument;
  }
  object::Slot* dests[kMaxCount];
  for (uint64_t i = 0; i < a.count; ++i) {
    if (a.dest + i < a.dest) return Status::kInvalidSlot;
    Status s = cnode_slot(t->cspace(), a.dest + i, &dests[i]);
    if (s != Status::kOk) return s;
  }
  return object::retype(ut, static_cast<abi::ObjectType>(a.type), static_cast<unsigned>(a.size_bits), dests, a.count,
                        object_hooks());  // (checks every destination and the room, then makes them)
}

}  // namespace keel
