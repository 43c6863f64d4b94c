// capability_fuzz — libFuzzer target: the derivation tree driven by random
// sequences of retype, copy/mint, move, delete, revoke and insert_child
// over a small CNode, with the tree's invariants as the oracle after every
// operation:
//   - the slots form doubly linked lists (links both ways, no empty slot
//     in a list, no cycle), every non-empty slot in exactly one;
//   - an object is destroyed exactly when its last capability goes, once;
//   - every descendant of an untyped lies inside it, and its watermark does
//     not pass its end;
//   - after revoke(s), s has no children.
#include <stddef.h>
#include <stdint.h>

#include <map>
#include <utility>

#include "kernel/object/capability.h"

namespace {

using keel::Status;
using keel::abi::ObjectType;
using keel::object::Capability;
using keel::object::ObjectHooks;
using keel::object::Slot;

constexpr size_t kSlots = 48;

struct World {
  Slot slots[kSlots];
  std::map<std::pair<int, uint64_t>, int> made;       // (type, object) -> times made
  std::map<std::pair<int, uint64_t>, int> destroyed;  // -> times destroyed
};

bool kernel_object(ObjectType t) {
  return t != ObjectType::kNull && t != ObjectType::kUntyped && t != ObjectType::kIrqControl &&
         t != ObjectType::kKernelLog;
}

void check(const World& w) {
  size_t nonempty = 0, visited = 0;
  std::map<std::pair<int, uint64_t>, int> live;
  for (const Slot& s : w.slots) {
    if (s.empty()) {
      if (s.mdb_prev != nullptr || s.mdb_next != nullptr) __builtin_trap();  // an empty slot in a list
      continue;
    }
    ++nonempty;
    ++live[{static_cast<int>(s.cap.type), s.cap.object}];
    if (s.mdb_next != nullptr && s.mdb_next->mdb_prev != &s) __builtin_trap();
    if (s.mdb_prev != nullptr && s.mdb_prev->mdb_next != &s) __builtin_trap();
    if (s.mdb_prev != nullptr) continue;
    for (const Slot* x = &s; x != nullptr; x = x->mdb_next) {  // a list from its head
      if (++visited > kSlots) __builtin_trap();                // a cycle
      if (x->cap.type == ObjectType::kUntyped) {
        if (x->cap.watermark > (1ull << x->cap.size_bits)) __builtin_trap();
        for (const Slot* d = x->mdb_next; d != nullptr && d->depth > x->depth; d = d->mdb_next) {
          if (d->cap.object < x->cap.object || d->cap.object >= x->cap.object + (1ull << x->cap.size_bits)) {
            if (d->cap.type != ObjectType::kIrqHandler) __builtin_trap();  // a descendant outside its untyped
          }
        }
      }
    }
  }
  if (visited != nonempty) __builtin_trap();
  // Destroyed exactly when the last capability went, and only once.
  for (const auto& [key, times] : w.destroyed) {
    if (!kernel_object(static_cast<ObjectType>(key.first))) __builtin_trap();
    const int made = w.made.count(key) != 0 ? w.made.at(key) : 0;
    const bool alive = live.count(key) != 0;
    if (times != made - (alive ? 1 : 0)) __builtin_trap();
  }
  for (const auto& [key, count] : live) {
    (void)count;
    if (kernel_object(static_cast<ObjectType>(key.first)) && w.made.count(key) == 0) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* w = nullptr;
  delete w;
  w = new World();
  ObjectHooks hooks;
  hooks.ctx = w;
  hooks.init = [](void* ctx, ObjectType type, uint64_t pa, unsigned) {
    ++static_cast<World*>(ctx)->made[{static_cast<int>(type), pa}];
  };
  hooks.destroy = [](void* ctx, const Capability& c) {
    ++static_cast<World*>(ctx)->destroyed[{static_cast<int>(c.type), c.object}];
  };
  // Two untyped originals and an IRQ control, as the kernel makes at boot.
  Slot anchor;
  (void)keel::object::insert_original(
      &w->slots[0], Capability{.type = ObjectType::kUntyped, .rights = 7, .size_bits = 16, .object = 0x100000},
      &anchor);
  (void)keel::object::insert_original(
      &w->slots[1], Capability{.type = ObjectType::kUntyped, .rights = 7, .size_bits = 14, .object = 0x200000},
      &anchor);
  (void)keel::object::insert_original(&w->slots[2], Capability{.type = ObjectType::kIrqControl, .rights = 7}, &anchor);
  // (the anchor is a stack slot: unlink it before checking the slots alone)
  auto detach_anchor = [&] {
    if (anchor.mdb_next != nullptr) anchor.mdb_next->mdb_prev = nullptr;
    anchor.mdb_next = nullptr;
  };
  detach_anchor();
  check(*w);
  for (size_t i = 0; i + 4 <= size; i += 4) {
    const uint8_t op = data[i] % 7, a = data[i + 1], b = data[i + 2], c = data[i + 3];
    Slot* s1 = &w->slots[a % kSlots];
    Slot* s2 = &w->slots[b % kSlots];
    switch (op) {
      case 0: {  // retype 1..3 objects of any type from s1 into consecutive slots from s2
        Slot* dests[3];
        size_t n = 1 + c % 3;
        for (size_t k = 0; k < n; ++k) dests[k] = &w->slots[(b + k) % kSlots];
        (void)keel::object::retype(s1, static_cast<ObjectType>(c % 14), 6 + c % 8, dests, n, hooks);
        break;
      }
      case 1: (void)keel::object::derive(s1, s2, c & 7, (c & 0x80) != 0 ? c : 0); break;
      case 2: (void)keel::object::move(s1, s2); break;
      case 3: (void)keel::object::remove(s1, hooks); break;
      case 4:
        if (keel::object::revoke(s1, hooks) == Status::kOk && keel::object::has_children(s1)) __builtin_trap();
        break;
      case 5: {  // an IRQ handler, at most one per interrupt (the kernel's irq_claim)
        const std::pair<int, uint64_t> key{static_cast<int>(ObjectType::kIrqHandler), 32u + c};
        bool claimed = false;
        for (const Slot& x : w->slots)
          claimed |= !x.empty() && x.cap.type == ObjectType::kIrqHandler && x.cap.object == key.second;
        if (!claimed && s1->cap.type == ObjectType::kIrqControl &&
            keel::object::insert_child(
                s1, s2, Capability{.type = ObjectType::kIrqHandler, .rights = 7, .object = key.second}) ==
                Status::kOk) {
          ++w->made[key];
        }
        break;
      }
      default:  // copy with all the source's rights
        (void)keel::object::derive(s1, s2, s1->cap.rights, 0);
        break;
    }
    check(*w);
  }
  return 0;
}
