// capability.h — capabilities, CNode slots and the derivation tree.
//
// Authority in keel is a Capability in a Slot of some CNode. Every slot is
// also a node of the derivation tree (the "MDB"), kept as one doubly linked
// list in preorder with a depth per node:
//
//   Untyped(d0) -> Endpoint(d1) -> Endpoint minted, badge 7 (d2) -> Frame(d1) -> ...
//
// The descendants of a node are exactly the nodes that follow it with a
// greater depth, so revoke() is "delete successors while deeper". Caps to
// the same object are contiguous (a derived cap goes right after its source),
// so a cap is the *final* one for its object iff neither list neighbour names
// the same object; deleting the final cap destroys the object.
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

struct Slot {
  Capability cap;
  Slot* mdb_prev = nullptr;
  Slot* mdb_next = nullptr;
  uint64_t depth = 0;
  uint64_t reserved = 0;  // keeps a slot 64 bytes (CNodes are powers of two)

  bool empty() const { return cap.is_null(); }
};
static_assert(sizeof(Slot) == 64, "CNodes are sized as 64-byte slots");
constexpr unsigned kSlotBits = 6;

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
  void* ctx = nullptr;
};

// log2 of the bytes one object of `type` occupies (size_bits is the
// untyped or CNode size argument); 0 if the type cannot be made by retype.
unsigned object_size_bits(ObjectType type, unsigned size_bits);

// Installs an original capability (boot: untyped memory, IRQ control) with
// no parent. dst must be empty. With an anchor (a slot that is never
// removed), it joins the anchor's list at depth 0 right after it — a child
// of nothing — so that one walk from the anchor visits every capability
// (the kernel's invariant checker).
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
// originals).
Status remove(Slot* s, const ObjectHooks& hooks);

// Removes every capability derived from s, destroying objects whose final
// capability goes. Revoking an untyped resets its watermark: its memory is
// free again. Removes at most `budget` capabilities per call: with more
// left it returns kRestart, having made progress (the kernel runs the
// syscall again after dropping the lock, so no revoke holds it for a time
// that grows with the tree); a later call carries on where this one ended.
constexpr uint64_t kRevokeBatch = 64;
Status revoke(Slot* s, const ObjectHooks& hooks, uint64_t budget = kRevokeBatch);

// True if s has derived children.
bool has_children(const Slot* s);

// Makes `count` objects of `type` from the untyped in ut and puts their
// capabilities (children of ut, all rights) into dests[0..count).
Status retype(Slot* ut, ObjectType type, unsigned size_bits, Slot* const* dests, size_t count,
              const ObjectHooks& hooks);

}  // namespace keel::object
