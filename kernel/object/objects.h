// objects.h — the kernel objects as kernel/core sees them: the typed
// capability lookup every syscall starts with, the invocation entry points
// of each object (one file per object in this folder), and what making and
// destroying objects does.
//
// Every invocation is decode-then-perform: the decode reads the typed
// arguments (keel/abi.h), looks up every capability and checks every rule,
// returning an error having changed nothing; only then does the perform
// part act, and from there on nothing fails.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/lock.h"
#include "kernel/lib/status.h"
#include "kernel/object/capability.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/notification.h"
#include "kernel/object/thread.h"

namespace keel {

// The capability in slot `index` of t's root CNode, if it has `type` and
// every one of `rights`. Slots are flat indices into the root CNode.
// Type and rights are checked in one compare: a capability's first two
// bytes are its type and its rights (little-endian: type the low byte).
static_assert(__builtin_offsetof(object::Capability, type) == 0 && __builtin_offsetof(object::Capability, rights) == 1);
inline Status lookup_slot(const Thread& t, uint64_t index, abi::ObjectType type, uint8_t rights, object::Slot** out) {
  Status s = cnode_slot(t.cspace(), index, out);
  if (s != Status::kOk) return s;
  uint16_t head;
  __builtin_memcpy(&head, &(*out)->cap, sizeof head);
  const uint16_t mask = static_cast<uint16_t>(0xff | rights << 8);
  const uint16_t want = static_cast<uint16_t>(static_cast<uint8_t>(type) | rights << 8);
  if (__builtin_expect((head & mask) != want, false)) {
    return (*out)->cap.type != type ? Status::kInvalidCapability : Status::kInsufficientRights;
  }
  return Status::kOk;
}

template <class T>
struct TypeOf;
template <>
struct TypeOf<Thread> {
  static constexpr abi::ObjectType kType = abi::ObjectType::kThread;
};
template <>
struct TypeOf<Endpoint> {
  static constexpr abi::ObjectType kType = abi::ObjectType::kEndpoint;
};
template <>
struct TypeOf<Notification> {
  static constexpr abi::ObjectType kType = abi::ObjectType::kNotification;
};
template <>
struct TypeOf<Reply> {
  static constexpr abi::ObjectType kType = abi::ObjectType::kReply;
};

// A capability found for an operation: the object (T), the slot, its badge.
template <class T>
struct Found {
  Status status = Status::kInvalidCapability;
  T* object = nullptr;
  object::Slot* slot = nullptr;
  bool ok() const { return status == Status::kOk; }
  uint64_t badge() const { return slot->cap.badge; }
};

// Typed lookup: the object of type T in t's slot `index`, with `rights`.
template <class T>
Found<T> lookup(const Thread& t, uint64_t index, uint8_t rights) {
  Found<T> f;
  f.status = lookup_slot(t, index, TypeOf<T>::kType, rights, &f.slot);
  if (f.status == Status::kOk) f.object = object_at<T>(f.slot->cap);
  return f;
}

// Syscall::kInvoke: looks up the invoked capability and hands the method to
// its object's *_invoke below.
Status invoke(Thread* t) KEEL_REQUIRES(g_kernel_lock);

// Invocations, by the invoked capability's type (t: the caller, whose frame
// holds the arguments; results go there too).
Status cnode_invoke(Thread* t, object::Slot* cn, abi::Method m) KEEL_REQUIRES(g_kernel_lock);
Status untyped_invoke(Thread* t, object::Slot* ut, abi::Method m) KEEL_REQUIRES(g_kernel_lock);
Status thread_invoke(Thread* t, object::Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock);
Status mapping_invoke(Thread* t, object::Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock);
Status irq_invoke(Thread* t, object::Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock);
Status io_invoke(Thread* t, object::Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock);
Status kernel_log_invoke(Thread* t, object::Slot* log, abi::Method m) KEEL_REQUIRES(g_kernel_lock);

// Syscalls on endpoints and replies (endpoint.cc) and notifications
// (notification.cc). Each either completes (results in the caller's frame,
// blocked or not) and returns kOk, or fails having changed nothing.
Status endpoint_send(Thread* t, abi::Syscall s) KEEL_REQUIRES(g_kernel_lock);
Status endpoint_recv(Thread* t, abi::Syscall s) KEEL_REQUIRES(g_kernel_lock);
Status reply_send(Thread* t) KEEL_REQUIRES(g_kernel_lock);
Status notification_call(Thread* t, abi::Syscall s) KEEL_REQUIRES(g_kernel_lock);
// Sends t's fault (abi::FaultKind) to its fault endpoint (thread.cc);
// false if it has no usable one (the caller then stops t).
bool deliver_fault(Thread* t, uint64_t kind) KEEL_REQUIRES(g_kernel_lock);
// DebugWrite (kernel_log.cc).
abi::Error debug_write(Thread& t) KEEL_REQUIRES(g_kernel_lock);

// Making and destroying objects (objects.cc): retype zeroes new objects;
// destroying one cleans up after it (each object's *_destroy).
const object::ObjectHooks& object_hooks();

// Destroy cases, one per object file.
void thread_destroy(Thread* t) KEEL_REQUIRES(g_kernel_lock);
void endpoint_destroy_object(Endpoint* ep) KEEL_REQUIRES(g_kernel_lock);
void reply_destroy_object(Reply* r) KEEL_REQUIRES(g_kernel_lock);
void notification_destroy(uint64_t pa) KEEL_REQUIRES(g_kernel_lock);
void cnode_destroy(const object::Capability& cap) KEEL_REQUIRES(g_kernel_lock);
void address_space_destroy(uint64_t root_pa) KEEL_REQUIRES(g_kernel_lock);
void io_space_destroy(uint64_t root_pa) KEEL_REQUIRES(g_kernel_lock);
// A frame's or table's capability removed: undo the mapping it records.
void unmap_recorded(const object::Capability& cap) KEEL_REQUIRES(g_kernel_lock);
// A thread's own reference to its address space removed: it stops.
void thread_lost_space(Thread* t) KEEL_REQUIRES(g_kernel_lock);

// Dead CNodes (cnode.cc): destroyed, their slots emptied later in bounded
// steps — no recursion, whatever user space nested, and no kernel entry
// longer than a step. drain_dead_cnodes_step does at most `budget` units
// of that work (a slot looked at: 1, a capability removed: 16) and says
// whether none is left. Every syscall's exit does one step (the test of
// whether there are any is inline); an untyped's revoke does steps until
// none is left before its memory can be reused.
extern uint64_t g_dead_cnodes KEEL_GUARDED_BY(g_kernel_lock);  // the stack's top: PA | size bits
bool drain_dead_cnodes_step(uint64_t budget) KEEL_REQUIRES(g_kernel_lock);
constexpr uint64_t kDrainBudget = 1024;  // 64 removals

// Endpoints and notifications destroyed with more waiters than one step
// releases (kWaitersBatch): the rest are released kWaitersBatch at a time
// at syscall exits, and the object's memory is not reused until they are
// (like a dead CNode's). A stack linked through the objects' dying_next:
// PA, | 1 for a notification (g_dying_objects: kernel_objects.h, for the
// invariant checker).
constexpr uint64_t kWaitersBatch = 64;
bool drain_dying_step(uint64_t batches) KEEL_REQUIRES(g_kernel_lock);
void dying_push(uint64_t pa, bool notification) KEEL_REQUIRES(g_kernel_lock);

// One bounded step of both, at every syscall's exit. g_deferred is set
// whenever either list gains an entry and cleared here once both are
// empty, so the test on every exit is one load.
extern uint32_t g_deferred KEEL_GUARDED_BY(g_kernel_lock);
inline void drain_deferred() KEEL_REQUIRES(g_kernel_lock) {
  if (__builtin_expect(g_deferred != 0, false)) {
    (void)drain_dead_cnodes_step(kDrainBudget);
    (void)drain_dying_step(1);
    g_deferred = (g_dead_cnodes | g_dying_objects) != 0 ? 1 : 0;
  }
}

}  // namespace keel
