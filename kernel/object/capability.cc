#include "kernel/object/capability.h"

namespace keel::object {
namespace {

// Object types whose memory holds kernel state (destroyed with their final cap).
bool is_kernel_object(ObjectType t) {
  return t != ObjectType::kNull && t != ObjectType::kUntyped && t != ObjectType::kIrqControl &&
         t != ObjectType::kKernelLog;
}

void ring_init(MdbLink* l) { l->prev = l->next = l; }
void ring_insert_after(MdbLink* at, MdbLink* l) {
  l->prev = at;
  l->next = at->next;
  at->next->prev = l;
  at->next = l;
}
// A head that was never used (a fresh anchor, zeroed memory) is an empty ring.
void ring_ready(MdbLink* head) {
  if (head->next == nullptr) ring_init(head);
}

// s (empty links) becomes parent's first child.
void add_child(Slot* parent, Slot* s) {
  ring_ready(&parent->children);
  ring_init(&s->children);
  ring_insert_after(&parent->children, &s->sibling);
}

// Takes s out of the tree in O(1): its children's ring is spliced into its
// sibling ring where s was, so they become its parent's children (or, for
// an original without an anchor, originals among themselves).
void detach(Slot* s) {
  MdbLink* prev = s->sibling.prev;
  MdbLink* next = s->sibling.next;
  const bool alone = prev == &s->sibling;
  if (has_children(s)) {
    MdbLink* first = s->children.next;
    MdbLink* last = s->children.prev;
    if (alone) {  // their own ring now
      first->prev = last;
      last->next = first;
    } else {
      prev->next = first;
      first->prev = prev;
      last->next = next;
      next->prev = last;
    }
  } else if (!alone) {
    prev->next = next;
    next->prev = prev;
  }
  s->sibling = s->children = MdbLink{};
}

// No other capability names s's object (see capability.h: they are one run
// of siblings with their subtrees, so one of these would be one).
bool is_final(const Slot* s) {
  if (const Slot* c = first_child(s); c != nullptr && same_object(c, s)) return false;
  if (s->sibling.prev == &s->sibling) return true;
  return !same_object(slot_of(s->sibling.prev), s) && !same_object(slot_of(s->sibling.next), s);
}

constexpr uint64_t align_up(uint64_t x, unsigned bits) { return (x + (1ull << bits) - 1) & ~((1ull << bits) - 1); }

}  // namespace

Slot* parent_of(const Slot* s) {
  if (s->sibling.next == nullptr) return nullptr;
  for (const MdbLink* l = s->sibling.next; l != &s->sibling; l = l->next) {
    if (is_children_head(l)) return slot_of(l);
  }
  return nullptr;
}

Slot* preorder_next(const Slot* s, const Slot* root) {
  return has_children(s) ? slot_of(s->children.next) : preorder_skip(s, root);
}

Slot* preorder_skip(const Slot* s, const Slot* root) {
  for (;;) {
    if (s == root) return nullptr;
    const MdbLink* n = s->sibling.next;
    if (n == nullptr || n == &s->sibling) return nullptr;
    if (!is_children_head(n)) return slot_of(n);
    s = slot_of(n);  // s was its parent's last child: on from the parent
  }
}

unsigned object_size_bits(ObjectType type, unsigned size_bits) {
  switch (type) {
    case ObjectType::kUntyped: return size_bits >= 12 && size_bits <= 47 ? size_bits : 0;
    case ObjectType::kCNode: return size_bits >= 1 && size_bits <= 16 ? size_bits + kSlotBits : 0;
    case ObjectType::kThread: return 11;
    case ObjectType::kEndpoint:
    case ObjectType::kNotification:
    case ObjectType::kReply: return 6;
    case ObjectType::kAddressSpace:
    case ObjectType::kIoSpace:
    case ObjectType::kPageTable:
    case ObjectType::kFrame4K: return 12;
    case ObjectType::kFrame2M: return 21;
    default: return 0;  // IrqControl and IoControl are made at boot, IrqHandlers by IrqControl
  }
}

Status insert_original(Slot* dst, const Capability& cap, Slot* anchor) {
  if (!dst->empty()) return Status::kSlotOccupied;
  if (anchor != nullptr && !anchor->empty()) return Status::kInvalidArgument;
  dst->cap = cap;
  if (anchor != nullptr) {
    add_child(anchor, dst);
  } else {
    ring_init(&dst->sibling);
    ring_init(&dst->children);
  }
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
  add_child(src, dst);
  return Status::kOk;
}

Status insert_child(Slot* parent, Slot* dst, const Capability& cap) {
  if (parent->empty()) return Status::kInvalidCapability;
  if (!dst->empty()) return Status::kSlotOccupied;
  dst->cap = cap;
  add_child(parent, dst);
  return Status::kOk;
}

namespace {
// dst's link takes over src's place in its ring (or an empty ring of its own).
void relink(MdbLink* src, MdbLink* dst) {
  if (src->next == src) {
    ring_init(dst);
    return;
  }
  *dst = *src;
  dst->prev->next = dst;
  dst->next->prev = dst;
}
}  // namespace

Status move(Slot* src, Slot* dst) {
  if (src->empty()) return Status::kInvalidCapability;
  if (src == dst) return Status::kOk;
  if (!dst->empty()) return Status::kSlotOccupied;
  dst->cap = src->cap;
  relink(&src->sibling, &dst->sibling);
  ring_ready(&src->children);
  relink(&src->children, &dst->children);
  *src = Slot{};
  return Status::kOk;
}

Taken take(Slot* s) {
  Taken t{.cap = s->cap, .destroy = is_kernel_object(s->cap.type) && is_final(s)};
  detach(s);
  *s = Slot{};
  return t;
}

void finish_removal(const Taken& t, Slot* where, const ObjectHooks& hooks) {
  if (hooks.removed != nullptr) hooks.removed(hooks.ctx, t.cap, where);
  if (t.destroy && hooks.destroy != nullptr) hooks.destroy(hooks.ctx, t.cap);
}

Status remove(Slot* s, const ObjectHooks& hooks) {
  if (s->empty()) return Status::kInvalidCapability;
  finish_removal(take(s), s, hooks);
  return Status::kOk;
}

Status revoke(Slot* s, const ObjectHooks& hooks, uint64_t budget) {
  if (s->empty()) return Status::kInvalidCapability;
  // Each removal splices the child's own children in its place, so the
  // first child is always a descendant still to go, and each step is O(1).
  while (Slot* c = first_child(s)) {
    if (budget-- == 0) return Status::kRestart;
    Status st = remove(c, hooks);
    if (st != Status::kOk) return st;
  }
  if (s->cap.type == ObjectType::kUntyped) {
    if (hooks.settled != nullptr && !hooks.settled(hooks.ctx)) return Status::kRestart;
    s->cap.watermark = 0;
  }
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
    add_child(ut, d);
  }
  ut->cap.watermark = start + (uint64_t{count} << obj_bits);
  return Status::kOk;
}

}  // namespace keel::object
