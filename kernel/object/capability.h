// capability.h — capabilities, CNode slots and the derivation tree.
//
// Authority in keel is a Capability in a Slot of some CNode. Every slot is
// also a node of the derivation tree (the "MDB"): a capability derived from
// another (Copy, Mint, an object made by Retype from an untyped, an
// IrqHandler from IrqControl) is its child. Each node is on two rings of
// links, Linux list style:
//
//   sibling   its place among its parent's children: a ring through the
//             parent's `children` link (the ring's head)
//   children  the head of the ring of its own children (empty: itself)
//
//   Untyped ─children─┬─ Frame ─children─ Frame copy
//                     └─ Endpoint ─children─┬─ minted, badge 7
//                                           └─ copy
//
// Removal is O(1) whatever lies below: the removed node's children ring is
// spliced into its parent's in its place, so its descendants move up one
// level without being visited (a depth per node, as keel had before, made
// removal walk the whole subtree: a chain of 16,384 copies cost 1.67 s).
// Which link is a head and which a sibling is told by its address: slots
// are 64-byte aligned, `sibling` at offset 32, `children` at 48 — so a
// node finds its parent by walking its sibling ring to the head, and the
// tree needs no parent pointers (which a splice would have to rewrite).
//
// Caps to one object stay together: a derived cap is its source's first
// child, and a splice keeps a run of siblings in place; so all caps of an
// object are one run of siblings with their subtrees. A cap is the *final*
// one for its object iff neither its first child, nor its ring neighbours
// (the previous may be the parent) name the same object; deleting the final
// cap destroys the object.
//
// Portable and host-tested (capability_test.cc): objects are addressed by
// physical address and reached through a PhysWindow, so tests use host memory.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "kernel/lib/status.h"

namespace keel::object {

using abi::ObjectType;

constexpr uint8_t kFlagDevice = 1;  // untyped/frame backed by MMIO: never becomes a kernel object
constexpr uint8_t kFlagHeld = 2;    // held by a kernel object itself (a thread's CNode and address space)

// Frames of either size (mapped by FrameMap, recorded like page tables).
constexpr bool is_frame(ObjectType t) { return t == ObjectType::kFrame4K || t == ObjectType::kFrame2M; }

struct Capability {
  ObjectType type = ObjectType::kNull;
  uint8_t rights = 0;      // abi::Rights bits
  uint8_t size_bits = 0;   // untyped: log2 bytes; CNode: log2 slots; frames: 12 or 21
  uint8_t flags = 0;       // kFlagDevice
  uint32_t space_id = 0;   // frame/page table mapped: the identity of the address space (page_info.h)
  uint64_t object = 0;     // physical address of the object
  uint64_t badge = 0;      // endpoint/notification badge (0 = unbadged); frame/page
                           // table: mapped VA | level << 1 | 1, 0 if unmapped
  uint64_t watermark = 0;  // untyped: bytes handed out from the start; frame/page
                           // table: the root PA of the address space it is mapped in

  bool is_null() const { return type == ObjectType::kNull; }
};

// The mapping a frame or page-table capability made (FrameMap,
// PageTableMap, or init's boot mappings), recorded in that capability so
// that removing it undoes exactly that mapping: the VA, the level of the
// entry (a frame: its leaf's level; a table: the level it serves), the
// address space's root and its identity (page_info.h). Stored in the
// capability's badge (VA | level << 1 | 1), watermark (root) and space_id.
struct MappingRecord {
  uint64_t va = 0;  // page aligned
  unsigned level = 0;
  uint64_t root = 0;
  uint32_t space_id = 0;

  static constexpr bool in(const Capability& c) { return (c.badge & 1) != 0; }
  static constexpr MappingRecord of(const Capability& c) {
    return {.va = c.badge & ~0xfffull,
            .level = static_cast<unsigned>((c.badge >> 1) & 3),
            .root = c.watermark,
            .space_id = c.space_id};
  }
  // c records this mapping from now on.
  constexpr void store(Capability* c) const {
    c->badge = va | (uint64_t{level & 3} << 1) | 1;
    c->watermark = root;
    c->space_id = space_id;
  }
  // c records no mapping.
  static constexpr void clear(Capability* c) {
    c->badge = c->watermark = 0;
    c->space_id = 0;
  }
  constexpr bool operator==(const MappingRecord&) const = default;
};

// One link of a ring (both null in an empty slot).
struct MdbLink {
  MdbLink* prev = nullptr;
  MdbLink* next = nullptr;
};

struct alignas(64) Slot {
  Capability cap;
  MdbLink sibling;   // in the ring headed by its parent's `children` (alone: an original without an anchor)
  MdbLink children;  // head of its children's ring

  bool empty() const { return cap.is_null(); }
};
static_assert(sizeof(Slot) == 64, "CNodes are sized as 64-byte slots");
static_assert(__builtin_offsetof(Slot, sibling) == 32 && __builtin_offsetof(Slot, children) == 48,
              "a link's role is told by its offset in the slot");
constexpr unsigned kSlotBits = 6;

// The derivation tree, read (for the invariant checker, mapping records
// and tests; nothing here is on a path a task can make long, except as
// noted).
inline bool is_children_head(const MdbLink* l) {
  return (reinterpret_cast<uintptr_t>(l) & 63) == __builtin_offsetof(Slot, children);
}
inline Slot* slot_of(const MdbLink* l) {
  return reinterpret_cast<Slot*>(reinterpret_cast<uintptr_t>(l) & ~uintptr_t{63});
}
inline bool has_children(const Slot* s) { return s->children.next != nullptr && s->children.next != &s->children; }
inline Slot* first_child(const Slot* s) { return has_children(s) ? slot_of(s->children.next) : nullptr; }
inline bool same_object(const Slot* a, const Slot* b) {
  return a->cap.type == b->cap.type && a->cap.object == b->cap.object;
}
// Its parent: the head of its sibling ring (nullptr: none). O(siblings).
Slot* parent_of(const Slot* s);
// The node after s in preorder (children before siblings), not leaving the
// subtree of `root`; nullptr at its end. A walk from the kernel's anchor
// visits every capability.
Slot* preorder_next(const Slot* s, const Slot* root);
// The node after s's whole subtree in preorder (same bounds).
Slot* preorder_skip(const Slot* s, const Slot* root);
// s's parent if it is a capability of the same object, else nullptr. The
// children of such a parent are all of that object, so the walk to the
// head stops at the first sibling of another object: O(the object's caps).
// (Not for untyped or IrqControl, whose children are other objects.)
inline Slot* same_object_parent(const Slot* s) {
  if (s->sibling.next == nullptr) return nullptr;
  for (const MdbLink* l = s->sibling.next; l != &s->sibling; l = l->next) {
    if (is_children_head(l)) return same_object(slot_of(l), s) ? slot_of(l) : nullptr;
    if (!same_object(slot_of(l), s)) return nullptr;
  }
  return nullptr;
}
// Calls f(Slot*) for every capability of s's object (s too): O(the object's
// capabilities). Not for untyped or IrqControl (see same_object_parent).
template <class F>
void for_each_same_object(Slot* s, F f) {
  Slot* top = s;
  for (Slot* p = same_object_parent(top); p != nullptr; p = same_object_parent(top)) top = p;
  // The run of top-level caps of this object among top's siblings: back to
  // its first, then forward, each with its subtree.
  Slot* first = top;
  while (first->sibling.prev != &first->sibling && !is_children_head(first->sibling.prev) &&
         slot_of(first->sibling.prev) != top && same_object(slot_of(first->sibling.prev), s)) {
    first = slot_of(first->sibling.prev);
  }
  Slot* x = first;
  for (;;) {
    // (Below a cap of the object only caps of it, except an IrqControl's
    // handlers: other objects, with their own subtrees, skipped.)
    for (Slot* d = x; d != nullptr;) {
      if (same_object(d, s)) {
        f(d);
        d = preorder_next(d, x);
      } else {
        d = preorder_skip(d, x);
      }
    }
    const MdbLink* n = x->sibling.next;
    if (n == &x->sibling || is_children_head(n) || slot_of(n) == first || !same_object(slot_of(n), s)) break;
    x = slot_of(n);
  }
}

// What happens to object memory when objects are made and destroyed. The
// kernel zeroes memory and constructs objects; on destroy it wakes waiters,
// unmaps frames and so on. Tests record the calls.
struct ObjectHooks {
  void (*init)(void* ctx, ObjectType type, uint64_t pa, unsigned size_bits) = nullptr;
  void (*destroy)(void* ctx, const Capability& final_cap) = nullptr;
  // Called for every capability removed (before destroy, if that follows):
  // the kernel undoes what this one capability did, e.g. a frame's mapping,
  // or stops the thread whose own address-space slot `where` was (kFlagHeld).
  // `where` is already empty.
  void (*removed)(void* ctx, const Capability& cap, Slot* where) = nullptr;
  // Before an untyped's memory is reused (revoke resets its watermark):
  // true if nothing destroyed is still being emptied (the kernel's dead
  // CNodes); false makes the revoke return kRestart. It may do some of that
  // work itself. nullptr: always settled.
  bool (*settled)(void* ctx) = nullptr;
  void* ctx = nullptr;
};

// log2 of the bytes one object of `type` occupies (size_bits is the
// untyped or CNode size argument); 0 if the type cannot be made by retype.
unsigned object_size_bits(ObjectType type, unsigned size_bits);

// Installs an original capability (boot: untyped memory, IRQ control) with
// no parent. dst must be empty. With an anchor (an empty slot that is never
// removed), it becomes the anchor's first child — the anchor stands for "no
// parent" — so that one walk from the anchor visits every capability (the
// kernel's invariant checker).
Status insert_original(Slot* dst, const Capability& cap, Slot* anchor = nullptr);

// Copies src into the empty dst as its child, with rights reduced to
// `rights` (never more than src has) and, when `badge` != 0, the badge set
// (endpoints and notifications only, and only on an unbadged source).
// Untyped capabilities are not copied: their watermark lives in one place.
Status derive(Slot* src, Slot* dst, uint8_t rights, uint64_t badge);

// Puts `cap` into the empty dst as a child of parent (an object the parent
// hands out, e.g. an IrqHandler from IrqControl).
Status insert_child(Slot* parent, Slot* dst, const Capability& cap);

// Moves src's capability and derivation-tree position into the empty dst.
Status move(Slot* src, Slot* dst);

// Empties slot s. If its capability was the final one for its object, the
// object is destroyed (hooks.destroy). Children stay, re-parented to s's
// parent (their subtree moves up one level; children of an original become
// originals). O(1) itself; the hooks do what destroying the object takes.
Status remove(Slot* s, const ObjectHooks& hooks);

// remove() in two halves, for a caller that must use the emptied slot
// before the consequences run (cnode.cc: a dead CNode's slot 0 becomes its
// queue record): take() empties s and says whether the object is to be
// destroyed; finish_removal() runs the hooks.
struct Taken {
  Capability cap;
  bool destroy = false;
};
Taken take(Slot* s);
void finish_removal(const Taken& t, Slot* where, const ObjectHooks& hooks);

// Removes every capability derived from s, destroying objects whose final
// capability goes. Revoking an untyped resets its watermark: its memory is
// free again — once hooks.settled says no destroyed object is still being
// taken apart in it (else kRestart). Removes at most `budget` capabilities
// per call: with more left it returns kRestart, having made progress (the
// kernel runs the syscall again after dropping the lock, so no revoke holds
// it for a time that grows with the tree); a later call carries on where
// this one ended.
constexpr uint64_t kRevokeBatch = 64;
Status revoke(Slot* s, const ObjectHooks& hooks, uint64_t budget = kRevokeBatch);

// Makes `count` objects of `type` from the untyped in ut and puts their
// capabilities (children of ut, all rights) into dests[0..count).
Status retype(Slot* ut, ObjectType type, unsigned size_bits, Slot* const* dests, size_t count,
              const ObjectHooks& hooks);

}  // namespace keel::object
