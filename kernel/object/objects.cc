// objects.cc — lookup, invocation dispatch by type, and the hooks the
// derivation tree (capability.h) calls when objects are made and destroyed.
#include "kernel/object/objects.h"

#include "kernel/arch/arch.h"
#include "kernel/core/ipc.h"
#include "kernel/core/irq.h"
#include "kernel/core/panic.h"
#include "kernel/object/page_info.h"

namespace keel {
namespace {

using abi::ObjectType;

// (Called by capability.cc, always under the lock; the analysis cannot
// follow the hook pointers, so these say so themselves.)
void init_object(void*, ObjectType type, uint64_t pa, unsigned size_bits) KEEL_NO_THREAD_SAFETY_ANALYSIS;
void destroy_object(void*, const object::Capability& cap) KEEL_NO_THREAD_SAFETY_ANALYSIS;
void removed_cap(void*, const object::Capability& cap, object::Slot* where) KEEL_NO_THREAD_SAFETY_ANALYSIS;
bool deferred_work_settled(void*) KEEL_NO_THREAD_SAFETY_ANALYSIS;
const object::ObjectHooks kHooks{.init = init_object,
                                 .destroy = destroy_object,
                                 .removed = removed_cap,
                                 .settled = deferred_work_settled,
                                 .ctx = nullptr};

// An untyped's memory is reused only when no dead CNode and no dying
// endpoint or notification is left anywhere (one could lie in it): the
// revoke does a step of each and restarts until then.
bool deferred_work_settled(void*) {
  const bool cnodes = drain_dead_cnodes_step(kDrainBudget);
  return drain_dying_step(1) && cnodes;
}

// New objects are zeroed, except untyped: memory is zeroed when it becomes
// objects, never twice (splitting untyped costs nothing per byte).
void init_object(void*, ObjectType type, uint64_t pa, unsigned size_bits) {
  if (type == ObjectType::kUntyped) return;
  const unsigned bits = object::object_size_bits(type, size_bits);
  arch::zero_memory(pa, uint64_t{1} << bits);  // (at most 2 MiB a call: untyped_invoke)
  if (type == ObjectType::kAddressSpace && !pages_new_space(pa)) {
    panic("address space at 0x%llx outside the page records", static_cast<unsigned long long>(pa));
  }
  if (type == ObjectType::kIoSpace && !pages_new_space(pa, object::PageKind::kIoSpace)) {
    panic("IoSpace at 0x%llx outside the page records", static_cast<unsigned long long>(pa));
  }
}

void removed_cap(void*, const object::Capability& cap, object::Slot* where) {
  if ((object::is_frame(cap.type) || cap.type == ObjectType::kPageTable) && object::MappingRecord::in(cap)) {
    unmap_recorded(cap);
  } else if (cap.type == ObjectType::kAddressSpace && (cap.flags & object::kFlagHeld) != 0) {
    thread_lost_space(
        reinterpret_cast<Thread*>(reinterpret_cast<uintptr_t>(where) - __builtin_offsetof(Thread, vspace_slot)));
  }
}

void destroy_object(void*, const object::Capability& cap) {
  switch (cap.type) {
    case ObjectType::kEndpoint: endpoint_destroy_object(object_at<Endpoint>(cap)); break;
    case ObjectType::kNotification: notification_destroy(cap.object); break;
    case ObjectType::kReply: reply_destroy_object(object_at<Reply>(cap)); break;
    case ObjectType::kThread: thread_destroy(object_at<Thread>(cap)); break;
    case ObjectType::kCNode: cnode_destroy(cap); break;
    case ObjectType::kAddressSpace: address_space_destroy(cap.object); break;
    case ObjectType::kIoSpace: io_space_destroy(cap.object); break;
    case ObjectType::kIrqHandler: irq_release(static_cast<uint32_t>(cap.object)); break;
    default: break;  // frames, page tables, untyped: memory only
  }
}

}  // namespace

uint64_t g_dying_objects KEEL_GUARDED_BY(g_kernel_lock) = 0;
uint32_t g_deferred KEEL_GUARDED_BY(g_kernel_lock) = 0;

bool drain_dying_step(uint64_t batches) KEEL_REQUIRES(g_kernel_lock) {
  for (; g_dying_objects != 0; --batches) {
    if (batches == 0) return false;
    const uint64_t top = g_dying_objects;
    const bool ntfn = (top & 1) != 0;
    const uint64_t pa = top & ~uint64_t{1};
    bool done = false;
    if (ntfn) {
      auto* n = arch::phys<Notification>(pa);
      done = ntfn_destroy(scheduler(), n, kWaitersBatch);
      if (done) g_dying_objects = n->dying_next;
    } else {
      auto* ep = arch::phys<Endpoint>(pa);
      done = endpoint_destroy(scheduler(), ep, kWaitersBatch);
      if (done) g_dying_objects = ep->dying_next;
    }
  }
  return true;
}

void dying_push(uint64_t pa, bool notification) KEEL_REQUIRES(g_kernel_lock) {
  if (notification) {
    arch::phys<Notification>(pa)->dying_next = g_dying_objects;
  } else {
    arch::phys<Endpoint>(pa)->dying_next = g_dying_objects;
  }
  g_dying_objects = pa | (notification ? 1 : 0);
  g_deferred = 1;
}

const object::ObjectHooks& object_hooks() { return kHooks; }

Status invoke(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  const abi::InvokeArgs a = t->regs().args<abi::InvokeArgs>();
  object::Slot* s = nullptr;
  Status st = cnode_slot(t->cspace(), a.cap, &s);
  if (st != Status::kOk) return st;
  const auto m = static_cast<abi::Method>(a.method);
  switch (s->cap.type) {
    case ObjectType::kCNode: return cnode_invoke(t, s, m);
    case ObjectType::kUntyped: return untyped_invoke(t, s, m);
    case ObjectType::kThread: return thread_invoke(t, s, m);
    case ObjectType::kPageTable:
    case ObjectType::kFrame4K:
    case ObjectType::kFrame2M: return mapping_invoke(t, s, m);
    case ObjectType::kIrqControl:
    case ObjectType::kIrqHandler: return irq_invoke(t, s, m);
    case ObjectType::kKernelLog: return kernel_log_invoke(t, s, m);
    case ObjectType::kIoControl:
    case ObjectType::kIoSpace: return io_invoke(t, s, m);
    default: return Status::kInvalidCapability;
  }
}

}  // namespace keel
