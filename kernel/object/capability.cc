#include "kernel/object/capability.h"

namespace keel::object {
namespace {

bool is_final(const Slot* s) {
  const Slot* p = s->mdb_prev;
  const Slot* n = s->mdb_next;
  return !(p != nullptr && p->cap.type == s->cap.type && p->cap.object == s->cap.object) &&
         !(n != nullptr && n->cap.type == s->cap.type && n->cap.object == s->cap.object);
}

// Object types whose memory holds kernel state (destroyed with their final cap).
bool is_kernel_object(ObjectType t) {
  return t != ObjectType::kNull && t != ObjectType::kUntyped && t != ObjectType::kIrqControl &&
         t != ObjectType::kKernelLog;
}

void link_after(Slot* prev, Slot* s) {
  s->mdb_prev = prev;
  s->mdb_next = prev->mdb_next;
  if (prev->mdb_next != nullptr) prev->mdb_next->mdb_prev = s;
  prev->mdb_next = s;
}

void unlink(Slot* s) {
  if (s->mdb_prev != nullptr) s->mdb_prev->mdb_next = s->mdb_next;
  if (s->mdb_next != nullptr) s->mdb_next->mdb_prev = s->mdb_prev;
  s->mdb_prev = s->mdb_next = nullptr;
}

constexpr uint64_t align_up(uint64_t x, unsigned bits) { return (x + (1ull << bits) - 1) & ~((1ull << bits) - 1); }

}  // namespace

unsigned object_size_bits(ObjectType type, unsigned size_bits) {
  switch (type) {
    case ObjectType::kUntyped: return size_bits >= 12 && size_bits <= 47 ? size_bits : 0;
    case ObjectType::kCNode: return size_bits >= 1 && size_bits <= 16 ? size_bits + kSlotBits : 0;
    case ObjectType::kThread: return 11;
    case ObjectType::kEndpoint:
    case ObjectType::kNotification:
    case ObjectType::kReply: return 6;
    case ObjectType::kAddressSpace:
    case ObjectType::kPageTable:
    case ObjectType::kFrame4K: return 12;
    case ObjectType::kFrame2M: return 21;
    default: return 0;  // IrqControl is made at boot, IrqHandlers by IrqControl
  }
}

Status insert_original(Slot* dst, const Capability& cap, Slot* anchor) {
  if (!dst->empty()) return Status::kSlotOccupied;
  if (anchor != nullptr && anchor->depth != 0) return Status::kInvalidArgument;
  dst->cap = cap;
  dst->mdb_prev = dst->mdb_next = nullptr;
  dst->depth = 0;
  if (anchor != nullptr) link_after(anchor, dst);  // before the anchor's old successor: nobody's descendant
  return Status::kOk;
}

Status derive(Slot* src, Slot* dst, uint8_t rights, uint64_t badge) {
  if (src->empty()) return Status::kInvalidCapability;
  if (!dst->empty()) return Status::kSlotOccupied;
  if (src == dst) return Status::kInvalidArgument;
  if (src->cap.type == ObjectType::kUntyped) return Status::kInvalidCapability;
  if ((rights & ~src->cap.rights) != 0) return Status::kInsufficientRights;
  Capability c = src->cap;
  c.rights = rights;
  c.flags &= ~kFlagHeld;
  if (is_frame(c.type) || c.type == ObjectType::kPageTable) {
    MappingRecord::clear(&c);  // a mapping belongs to the capability that made it
  }
  if (badge != 0) {
    if (c.type != ObjectType::kEndpoint && c.type != ObjectType::kNotification) return Status::kInvalidArgument;
    if (c.badge != 0) return Status::kInvalidArgument;                     // a badge is never changed
    if ((badge & abi::kFaultBadge) != 0) return Status::kInvalidArgument;  // the kernel's own mark
    c.badge = badge;
  }
  dst->cap = c;
  dst->depth = src->depth + 1;
  link_after(src, dst);
  return Status::kOk;
}

Status insert_child(Slot* parent, Slot* dst, const Capability& cap) {
  if (parent->empty()) return Status::kInvalidCapability;
  if (!dst->empty()) return Status::kSlotOccupied;
  dst->cap = cap;
  dst->depth = parent->depth + 1;
  link_after(parent, dst);
  return Status::kOk;
}

Status move(Slot* src, Slot* dst) {
  if (src->empty()) return Status::kInvalidCapability;
  if (src == dst) return Status::kOk;
  if (!dst->empty()) return Status::kSlotOccupied;
  dst->cap = src->cap;
  dst->depth = src->depth;
  dst->mdb_prev = src->mdb_prev;
  dst->mdb_next = src->mdb_next;
  if (dst->mdb_prev != nullptr) dst->mdb_prev->mdb_next = dst;
  if (dst->mdb_next != nullptr) dst->mdb_next->mdb_prev = dst;
  *src = Slot{};
  return Status::kOk;
}

bool has_children(const Slot* s) { return s->mdb_next != nullptr && s->mdb_next->depth > s->depth; }

Status remove(Slot* s, const ObjectHooks& hooks) {
  if (s->empty()) return Status::kInvalidCapability;
  Capability c = s->cap;
  bool destroy = is_kernel_object(c.type) && is_final(s);
  // Its descendants move up one level, to its parent: left at their depth
  // they would follow the previous sibling's subtree and count as *its*
  // descendants (a revoke of an unrelated capability would remove them).
  // Found by capability_fuzz.
  for (Slot* d = s->mdb_next; d != nullptr && d->depth > s->depth; d = d->mdb_next) --d->depth;
  unlink(s);
  *s = Slot{};
  if (hooks.removed != nullptr) hooks.removed(hooks.ctx, c, s);
  if (destroy && hooks.destroy != nullptr) hooks.destroy(hooks.ctx, c);
  return Status::kOk;
}

Status revoke(Slot* s, const ObjectHooks& hooks, uint64_t budget) {
  if (s->empty()) return Status::kInvalidCapability;
  // Deepest-last order is not needed: every successor deeper than s is a
  // descendant, and removing one never changes which the next one is.
  while (has_children(s)) {
    if (budget-- == 0) return Status::kRestart;
    Status st = remove(s->mdb_next, hooks);
    if (st != Status::kOk) return st;
  }
  if (s->cap.type == ObjectType::kUntyped) s->cap.watermark = 0;
  return Status::kOk;
}

Status retype(Slot* ut, ObjectType type, unsigned size_bits, Slot* const* dests, size_t count,
              const ObjectHooks& hooks) {
  if (ut->empty() || ut->cap.type != ObjectType::kUntyped) return Status::kInvalidCapability;
  if ((ut->cap.rights & abi::kRightWrite) == 0) return Status::kInsufficientRights;
  unsigned obj_bits = object_size_bits(type, size_bits);
  if (obj_bits == 0 || count == 0 || count > 256) return Status::kInvalidArgument;
  if ((ut->cap.flags & kFlagDevice) != 0 && type != ObjectType::kUntyped && type != ObjectType::kFrame4K &&
      type != ObjectType::kFrame2M) {
    return Status::kInvalidArgument;  // device memory never holds kernel objects
  }
  for (size_t i = 0; i < count; ++i) {
    if (dests[i] == nullptr || dests[i] == ut) return Status::kInvalidArgument;
    if (!dests[i]->empty()) return Status::kSlotOccupied;
    for (size_t j = 0; j < i; ++j) {
      if (dests[j] == dests[i]) return Status::kInvalidArgument;
    }
  }
  uint64_t region = 1ull << ut->cap.size_bits;
  uint64_t start = align_up(ut->cap.watermark, obj_bits);
  if (obj_bits > ut->cap.size_bits || start > region || (region - start) >> obj_bits < count) {
    return Status::kNoMemory;
  }
  for (size_t i = 0; i < count; ++i) {
    uint64_t pa = ut->cap.object + start + (uint64_t{i} << obj_bits);
    if (hooks.init != nullptr && (ut->cap.flags & kFlagDevice) == 0) hooks.init(hooks.ctx, type, pa, size_bits);
    Slot* d = dests[i];
    d->cap = Capability{.type = type,
                        .rights = abi::kRightsAll,
                        .size_bits = static_cast<uint8_t>(
                            type == ObjectType::kCNode || type == ObjectType::kUntyped ? size_bits : obj_bits),
                        .flags = ut->cap.flags,
                        .object = pa};
    d->depth = ut->depth + 1;
    link_after(ut, d);
  }
  ut->cap.watermark = start + (uint64_t{count} << obj_bits);
  return Status::kOk;
}

}  // namespace keel::object
