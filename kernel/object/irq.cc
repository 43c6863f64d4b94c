// irq.cc — IrqControl (authority over every device interrupt) and
// IrqHandler (one SPI, or the user timer, delivered to a notification). The interrupt
// controller side is kernel/core/irq.cc.
#include "kernel/core/irq.h"

#include "kernel/object/objects.h"

namespace keel {

Status irq_invoke(Thread* t, object::Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock) {
  const abi::SyscallView r = t->regs();
  if (s->cap.type == abi::ObjectType::kIrqControl) {
    if (m != abi::Method::kIrqControlGet) return Status::kInvalidArgument;
    const auto a = r.method_args<abi::IrqControlGet>();
    object::Slot* dst = nullptr;
    Status st = cnode_slot(t->cspace(), a.dest, &dst);
    if (st != Status::kOk) return st;
    if (!dst->empty()) return Status::kSlotOccupied;
    if (a.intid > 0xffff && (a.intid < abi::kTimerIntid || a.intid >= abi::kTimerIntid + abi::kTimerChannels)) {
      return Status::kInvalidArgument;
    }
    st = irq_claim(static_cast<uint32_t>(a.intid));  // (kSlotOccupied if taken; an SPI only)
    if (st != Status::kOk) return st;
    return object::insert_child(
        s, dst, object::Capability{.type = abi::ObjectType::kIrqHandler, .rights = abi::kRightsAll, .object = a.intid});
  }
  const uint32_t intid = static_cast<uint32_t>(s->cap.object);
  switch (m) {
    case abi::Method::kIrqHandlerSetNotification: {
      Found<Notification> n =
          lookup<Notification>(*t, r.method_args<abi::IrqHandlerSetNotification>().notification, abi::kRightWrite);
      if (!n.ok()) return n.status;
      return irq_bind(intid, n.slot->cap.object, n.badge());
    }
    case abi::Method::kIrqHandlerAck: return irq_ack(intid);
    case abi::Method::kIrqHandlerSetDeadline:
      return user_timer_set(intid, r.method_args<abi::IrqHandlerSetDeadline>().deadline);
    default: return Status::kInvalidArgument;
  }
}

}  // namespace keel
