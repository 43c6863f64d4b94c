// capability_fuzz — libFuzzer target: the derivation tree driven by random
// sequences of retype, copy/mint, move, delete, revoke and insert_child
// over a small CNode, with the tree's invariants as the oracle after every
// operation:
//   - the slots form one tree under the anchor: every ring linked both
//     ways, no empty slot in a ring, the preorder walk from the anchor
//     visits every non-empty slot once and ends;
//   - the capabilities of one object are found from any one of them
//     (for_each_same_object: they stay one run of siblings and subtrees);
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
  Slot anchor;
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
    for (const keel::object::MdbLink* l : {&s.sibling, &s.children}) {
      if (s.empty()) {
        if (l->prev != nullptr || l->next != nullptr) __builtin_trap();  // an empty slot in a ring
      } else if (l->next->prev != l || l->prev->next != l) {
        __builtin_trap();  // links not both ways
      }
    }
    if (s.empty()) continue;
    ++nonempty;
    ++live[{static_cast<int>(s.cap.type), s.cap.object}];
  }
  for (const Slot* x = keel::object::preorder_next(&w.anchor, &w.anchor); x != nullptr;
       x = keel::object::preorder_next(x, &w.anchor)) {
    if (++visited > kSlots || x->empty()) __builtin_trap();  // a cycle, or an empty slot reached
    if (x->cap.type == ObjectType::kUntyped) {
      if (x->cap.watermark > (1ull << x->cap.size_bits)) __builtin_trap();
      for (const Slot* d = keel::object::preorder_next(x, x); d != nullptr; d = keel::object::preorder_next(d, x)) {
        if (d->cap.object < x->cap.object || d->cap.object >= x->cap.object + (1ull << x->cap.size_bits)) {
          if (d->cap.type != ObjectType::kIrqHandler) __builtin_trap();  // a descendant outside its untyped
        }
      }
    }
    if (x->cap.type != ObjectType::kUntyped && x->cap.type != ObjectType::kIrqControl) {
      int same = 0;
      keel::object::for_each_same_object(const_cast<Slot*>(x), [&](Slot* y) {
        if (!keel::object::same_object(x, y)) __builtin_trap();
        ++same;
      });
      if (same != live[{static_cast<int>(x->cap.type), x->cap.object}]) __builtin_trap();  // an object's caps split
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
  (void)keel::object::insert_original(
      &w->slots[0], Capability{.type = ObjectType::kUntyped, .rights = 7, .size_bits = 16, .object = 0x100000},
      &w->anchor);
  (void)keel::object::insert_original(
      &w->slots[1], Capability{.type = ObjectType::kUntyped, .rights = 7, .size_bits = 14, .object = 0x200000},
      &w->anchor);
  (void)keel::object::insert_original(&w->slots[2], Capability{.type = ObjectType::kIrqControl, .rights = 7},
                                      &w->anchor);
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
