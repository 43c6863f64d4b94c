// syscall.cc — everything that enters the kernel from EL0.
//
// vectors.S saves the user context straight into the current Thread's frame
// (PerCpu::user_frame); syscalls and invocations work on Thread frames
// (results in x0 as an abi::Error, every argument checked); then the
// scheduler picks who runs, and switching threads is pointing PerCpu at
// another frame. Any other exception from EL0 is a user fault: it goes to the
// thread's fault endpoint if it has one; otherwise the thread is stopped, the
// fault reported decoded (with a user backtrace the runner symbolizes), and
// the kernel carries on with the other threads.
#include <stdint.h>

#include "keel/abi.h"
#include "kernel/arch/arm64/esr.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/layout.h"
#include "kernel/core/abi_map.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/invariants.h"
#include "kernel/core/ipc.h"
#include "kernel/core/irq.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"
#include "kernel/core/scheduler.h"
#include "kernel/core/thread.h"
#include "kernel/core/uaccess.h"

namespace keel {
namespace {

using abi::Error;
using abi::ObjectType;
using object::Slot;

// The thread this CPU runs is the one whose frame its PerCpu::user_frame
// names (cpu.h): Thread::frame is its first member.
Thread* running() { return reinterpret_cast<Thread*>(this_cpu().user_frame); }

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

Status lookup(const Thread& t, uint64_t index, ObjectType type, uint8_t rights, Slot** out);

Error sys_debug_write(const Thread& t, uint64_t uva, uint64_t len, uint64_t log_slot) {
  Slot* log = nullptr;
  Status st = lookup(t, log_slot, ObjectType::kKernelLog, abi::kRightWrite, &log);
  if (st != Status::kOk) return to_abi(st);
  if (len > abi::kDebugWriteMax) return Error::kInvalidArgument;
  char buf[256];
  while (len > 0) {
    size_t chunk = len < sizeof buf ? len : sizeof buf;
    Status s = copy_from_user(t, uva, chunk, buf);
    if (s != Status::kOk) return to_abi(s);
    console_write(buf, chunk);
    uva += chunk;
    len -= chunk;
  }
  return Error::kOk;
}

// The capability in slot `index` of t's root CNode, if it has `type` and
// `rights`. Slots are flat indices into the root CNode (no multi-level
// addressing yet).
Status lookup(const Thread& t, uint64_t index, ObjectType type, uint8_t rights, Slot** out) {
  Status s = cnode_slot(t.cspace(), index, out);
  if (s != Status::kOk) return s;
  if ((*out)->cap.type != type) return Status::kInvalidCapability;
  if (((*out)->cap.rights & rights) != rights) return Status::kInsufficientRights;
  return Status::kOk;
}

Status invoke_cnode(Thread* t, Slot* cn, uint64_t method) KEEL_REQUIRES(g_kernel_lock) {
  auto& x = t->frame.x;
  Slot* dst = nullptr;
  Slot* src = nullptr;
  switch (static_cast<abi::Method>(method)) {
    case abi::Method::kCNodeCopy:
    case abi::Method::kCNodeMint:
    case abi::Method::kCNodeMove: {
      // The source may be in another CNode (abi.h): its slot in t's root CNode.
      const auto m = static_cast<abi::Method>(method);
      uint64_t from = x[m == abi::Method::kCNodeCopy ? 5 : m == abi::Method::kCNodeMint ? 6 : 4];
      Slot* src_cn = cn;
      Status s = from == 0 ? Status::kOk : lookup(*t, from, ObjectType::kCNode, 0, &src_cn);
      if (s == Status::kOk) s = cnode_slot(cn->cap, x[2], &dst);
      if (s == Status::kOk) s = cnode_slot(src_cn->cap, x[3], &src);
      if (s != Status::kOk) return s;
      if (static_cast<abi::Method>(method) == abi::Method::kCNodeMove) return object::move(src, dst);
      if (x[4] > 0xff) return Status::kInvalidArgument;
      uint64_t badge = static_cast<abi::Method>(method) == abi::Method::kCNodeMint ? x[5] : 0;
      return object::derive(src, dst, static_cast<uint8_t>(x[4]), badge);
    }
    case abi::Method::kCNodeDelete:
    case abi::Method::kCNodeRevoke: {
      Status s = cnode_slot(cn->cap, x[2], &dst);
      if (s != Status::kOk) return s;
      if (static_cast<abi::Method>(method) == abi::Method::kCNodeRevoke) return object::revoke(dst, object_hooks());
      // An untyped with children: deleting it would strand their memory
      // (nothing could revoke it again). Revoke first.
      if (dst->cap.type == ObjectType::kUntyped && object::has_children(dst)) return Status::kRevokeFirst;
      return object::remove(dst, object_hooks());
    }
    default: return Status::kInvalidArgument;
  }
}

Status invoke_untyped(Thread* t, Slot* ut) KEEL_REQUIRES(g_kernel_lock) {
  auto& x = t->frame.x;
  constexpr uint64_t kMaxCount = 64;
  if (x[2] == 0 || x[2] >= static_cast<uint64_t>(ObjectType::kCount) || x[3] > 63 || x[5] == 0 || x[5] > kMaxCount) {
    return Status::kInvalidArgument;
  }
  Slot* dests[kMaxCount];
  for (uint64_t i = 0; i < x[5]; ++i) {
    if (x[4] + i < x[4]) return Status::kInvalidSlot;
    Status s = cnode_slot(t->cspace(), x[4] + i, &dests[i]);
    if (s != Status::kOk) return s;
  }
  return object::retype(ut, static_cast<ObjectType>(x[2]), static_cast<unsigned>(x[3]), dests, x[5], object_hooks());
}

Status invoke_thread(Thread* t, Slot* th_slot, uint64_t method) KEEL_REQUIRES(g_kernel_lock) {
  auto& x = t->frame.x;
  Thread* th = thread_object(th_slot->cap);
  switch (static_cast<abi::Method>(method)) {
    case abi::Method::kThreadConfigure: {
      if (th->state != ThreadState::kInactive) return Status::kInvalidArgument;
      Slot* cn = nullptr;
      Slot* as = nullptr;
      Status s = lookup(*t, x[2], ObjectType::kCNode, 0, &cn);
      if (s == Status::kOk) s = lookup(*t, x[3], ObjectType::kAddressSpace, 0, &as);
      if (s != Status::kOk) return s;
      if (x[4] > t->priority) return Status::kInvalidArgument;  // no priority above the caller's
      if (cn == &th->cspace_slot || as == &th->vspace_slot) return Status::kInvalidArgument;
      // Replacing its references: not a loss of its space (no stop).
      th->vspace_slot.cap.flags &= ~object::kFlagHeld;
      if (!th->cspace_slot.empty()) (void)object::remove(&th->cspace_slot, object_hooks());
      if (!th->vspace_slot.empty()) (void)object::remove(&th->vspace_slot, object_hooks());
      th->as_root = 0;
      s = object::derive(cn, &th->cspace_slot, cn->cap.rights, 0);
      if (s == Status::kOk) s = object::derive(as, &th->vspace_slot, as->cap.rights, 0);
      if (s != Status::kOk) return s;
      th->cspace_slot.cap.flags |= object::kFlagHeld;
      th->vspace_slot.cap.flags |= object::kFlagHeld;  // removing it stops the thread (kernel_objects.cc)
      th->as_root = as->cap.object;
      th->ttbr0_gen = 0;  // computed when it first runs
      th->priority = static_cast<uint32_t>(x[4]);
      th->fault_ep_index = x[5];  // looked up in its own CNode when it faults
      return Status::kOk;
    }
    case abi::Method::kThreadStart: {
      if (th->state != ThreadState::kInactive || th->vspace_slot.empty() || th->cspace_slot.empty()) {
        return Status::kInvalidArgument;
      }
      if (x[2] >= abi::kUserLimit || x[3] > abi::kUserLimit || (x[3] & 15) != 0 || (x[2] & 3) != 0) {
        return Status::kInvalidArgument;
      }
      th->frame = arm64::ExceptionFrame{};
      th->frame.elr = x[2];
      th->frame.sp = x[3];
      th->frame.x[0] = x[4];
      th->frame.spsr = arm64::Spsr{}.m(arm64::Spsr::kEl0t).d(1).f(1).raw;  // IRQs on: the tick preempts
      th->state = ThreadState::kRunnable;
      scheduler().enqueue(th);
      return Status::kOk;
    }
    case abi::Method::kThreadSetIpcBuffer:
      if (x[2] == 0 || x[2] >= abi::kUserLimit || (x[2] & (arm64::kPageSize - 1)) != 0) return Status::kInvalidArgument;
      th->ipc_buffer = x[2];
      return Status::kOk;
    case abi::Method::kThreadSuspend:
      cpus_release_thread(th);  // running on another CPU: it parks it first (cpu.h)
      thread_detach(scheduler(), th);
      return Status::kOk;
    case abi::Method::kThreadSetAffinity: {
      if (!cpu_online(x[2])) return Status::kInvalidArgument;
      bool queued = th->state == ThreadState::kRunnable && scheduler().contains(th);
      if (queued) scheduler().remove(th);
      uint32_t was = th->cpu;
      th->cpu = static_cast<uint32_t>(x[2]);
      if (queued) scheduler().enqueue(th);  // (kicks its new CPU)
      // Running on its old CPU right now: that CPU moves it when it next enters the kernel.
      if (cpu_current(was) == th && was != this_cpu().index) cpu_kick(was);
      return Status::kOk;
    }
    default: return Status::kInvalidArgument;
  }
}

// Maps a page table or frame capability into an address space, recording
// the mapping in the capability (capability.h) so deleting it unmaps.
Status invoke_map(Thread* t, Slot* s, uint64_t method) KEEL_REQUIRES(g_kernel_lock) {
  auto& x = t->frame.x;
  bool frame = object::is_frame(s->cap.type);
  if (method != static_cast<uint64_t>(frame ? abi::Method::kFrameMap : abi::Method::kPageTableMap)) {
    return Status::kInvalidArgument;
  }
  if ((s->cap.badge & 1) != 0) return Status::kSlotOccupied;  // this capability already maps it
  Slot* as = nullptr;
  Status st = lookup(*t, x[2], ObjectType::kAddressSpace, 0, &as);
  if (st != Status::kOk) return st;
  uint64_t va = x[3];
  if (va >= abi::kUserLimit) return Status::kOutOfRange;
  arm64::PhysWindow window{layout::kLinearMapBase};
  unsigned level;
  if (frame) {
    level = s->cap.type == ObjectType::kFrame4K ? 3 : 2;
    if ((va & (arm64::level_size(level) - 1)) != 0 || x[4] > 3) return Status::kInvalidArgument;
    bool write = (x[4] & abi::kMapWrite) != 0, exec = (x[4] & abi::kMapExecute) != 0;
    if ((s->cap.rights & abi::kRightRead) == 0 || (write && (s->cap.rights & abi::kRightWrite) == 0)) {
      return Status::kInsufficientRights;
    }
    bool device = (s->cap.flags & object::kFlagDevice) != 0;  // MMIO: Device-nGnRE, never executable
    arm64::Pte leaf =
        arm64::leaf_template(arm64::MapAttrs{.type = device ? arm64::MemType::kDevice : arm64::MemType::kNormal,
                                             .writable = write,
                                             .executable = exec && !device,
                                             .user = true,
                                             .global = false})
            .address(s->cap.object);
    st = arm64::install_leaf(window, as->cap.object, va, level, leaf);
  } else {
    level = static_cast<unsigned>(x[4]);
    if (level < 1 || level > 3) return Status::kInvalidArgument;
    va &= ~(arm64::level_size(level - 1) - 1);
    // Installed at most once, at one level, and only while empty: whether it
    // is installed belongs to the table (its page record), not to this one
    // capability — a copy of an installed table's capability is unmapped
    // too, and must not install it a second time (or its page entries would
    // be walked as table entries).
    object::PageInfo* table = page_info(s->cap.object);
    if (table == nullptr || table->kind != object::PageKind::kNone) return Status::kSlotOccupied;
    if (!arm64::table_empty(window, s->cap.object)) return Status::kInvalidArgument;
    st = arm64::install_table(window, as->cap.object, va, level, s->cap.object);
    if (st == Status::kOk) table->kind = object::PageKind::kInstalledTable;
  }
  if (st == Status::kNotFound) return Status::kMissingTable;
  if (st != Status::kOk) return st == Status::kOverlap ? Status::kSlotOccupied : st;
  arm64::dsb_ishst();  // the entry is visible to table walks before user code runs
  object::Capability record = s->cap;
  record.badge = va | (uint64_t{level} << 1) | 1;
  record.watermark = as->cap.object;
  record.space_id = page_info(as->cap.object)->id;  // a live space: its capability is in hand
  // The entry was empty, so another capability of this frame recording
  // this very mapping is stale (its table was removed and replaced since):
  // it forgets it, and every mapping has exactly one record. (Capabilities
  // of one object are neighbours in the derivation tree.)
  for (int dir = 0; dir < 2; ++dir) {
    for (Slot* n = dir == 0 ? s->mdb_prev : s->mdb_next;
         n != nullptr && n->cap.type == s->cap.type && n->cap.object == s->cap.object;
         n = dir == 0 ? n->mdb_prev : n->mdb_next) {
      if (n->cap.badge == record.badge && n->cap.watermark == record.watermark && n->cap.space_id == record.space_id) {
        n->cap.badge = n->cap.watermark = 0;
        n->cap.space_id = 0;
      }
    }
  }
  s->cap = record;
  return Status::kOk;
}

Status invoke_irq(Thread* t, Slot* s, uint64_t method) KEEL_REQUIRES(g_kernel_lock) {
  auto& x = t->frame.x;
  if (s->cap.type == ObjectType::kIrqControl) {
    if (method != static_cast<uint64_t>(abi::Method::kIrqControlGet)) return Status::kInvalidArgument;
    Slot* dst = nullptr;
    Status st = cnode_slot(t->cspace(), x[3], &dst);
    if (st != Status::kOk) return st;
    if (!dst->empty()) return Status::kSlotOccupied;
    if (x[2] > 0xffff) return Status::kInvalidArgument;
    st = irq_claim(static_cast<uint32_t>(x[2]));
    if (st != Status::kOk) return st;
    return object::insert_child(
        s, dst, object::Capability{.type = ObjectType::kIrqHandler, .rights = abi::kRightsAll, .object = x[2]});
  }
  uint32_t intid = static_cast<uint32_t>(s->cap.object);
  switch (static_cast<abi::Method>(method)) {
    case abi::Method::kIrqHandlerSetNotification: {
      Slot* n = nullptr;
      Status st = lookup(*t, x[2], ObjectType::kNotification, abi::kRightWrite, &n);
      if (st != Status::kOk) return st;
      return irq_bind(intid, n->cap.object, n->cap.badge);
    }
    case abi::Method::kIrqHandlerAck: return irq_ack(intid);
    default: return Status::kInvalidArgument;
  }
}

Status invoke_kernel_log(Thread* t, uint64_t method) KEEL_REQUIRES(g_kernel_lock) {
  auto& x = t->frame.x;
  switch (static_cast<abi::Method>(method)) {
    case abi::Method::kKernelLogBind: {
      Slot* n = nullptr;
      Status st = lookup(*t, x[2], ObjectType::kNotification, abi::kRightWrite, &n);
      if (st == Status::kOk) console_log_bind(n->cap.object, n->cap.badge);
      return st;
    }
    case abi::Method::kKernelLogRead: {
      char buf[512];
      size_t n = console_log_read(buf, x[3] < sizeof buf ? x[3] : sizeof buf);
      Status st = n == 0 ? Status::kOk : copy_to_user(*t, x[2], n, buf);
      x[1] = st == Status::kOk ? n : 0;
      return st;  // (bytes that could not be copied are gone: the reader gave a bad buffer)
    }
    default: return Status::kInvalidArgument;
  }
}

Status invoke(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  Slot* s = nullptr;
  Status st = cnode_slot(t->cspace(), t->frame.x[0], &s);
  if (st != Status::kOk) return st;
  uint64_t method = t->frame.x[1];
  switch (s->cap.type) {
    case ObjectType::kCNode: return invoke_cnode(t, s, method);
    case ObjectType::kUntyped:
      if (method != static_cast<uint64_t>(abi::Method::kUntypedRetype)) return Status::kInvalidArgument;
      return invoke_untyped(t, s);
    case ObjectType::kThread:
      if ((s->cap.rights & abi::kRightWrite) == 0) return Status::kInsufficientRights;
      return invoke_thread(t, s, method);
    case ObjectType::kPageTable:
    case ObjectType::kFrame4K:
    case ObjectType::kFrame2M: return invoke_map(t, s, method);
    case ObjectType::kIrqControl:
    case ObjectType::kIrqHandler: return invoke_irq(t, s, method);
    case ObjectType::kKernelLog: return invoke_kernel_log(t, method);
    default: return Status::kInvalidCapability;
  }
}

// Sends t's fault to its fault endpoint: the slot named at ThreadConfigure,
// looked up in t's own CNode now (so a deleted endpoint is simply absent).
// Returns false if there is no usable endpoint; the caller then stops t.
bool deliver_fault(Thread* t, uint64_t kind) KEEL_REQUIRES(g_kernel_lock) {
  Slot* ep = nullptr;
  if (t->fault_ep_index == 0 ||
      lookup(*t, t->fault_ep_index, ObjectType::kEndpoint, abi::kRightWrite, &ep) != Status::kOk) {
    return false;
  }
  const bool exit = kind == abi::kFaultExit;  // MR0 = the exit code (abi.h)
  const uint64_t mr[4] = {exit ? t->frame.x[0] : t->frame.esr, exit ? 0 : t->frame.far, t->frame.elr, t->frame.sp};
  ipc_send_fault(scheduler(), endpoint_object(ep->cap), t, ep->cap.badge | abi::kFaultBadge, kind, mr);
  return true;
}

// Runs the syscall in t's saved frame. Returns true if t yields the CPU.
bool dispatch(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  auto& x = t->frame.x;
  uint64_t number = x[8];
  Status st = Status::kOk;
  Slot* ep = nullptr;
  switch (number) {
    case abi::kSyscallDebugWrite: x[0] = static_cast<uint64_t>(sys_debug_write(*t, x[0], x[1], x[2])); return false;
    case static_cast<uint64_t>(abi::Syscall::kYield): x[0] = 0; return true;
    case static_cast<uint64_t>(abi::Syscall::kExit):
      if (!deliver_fault(t, abi::kFaultExit)) thread_stop(scheduler(), t);
      return false;
    case static_cast<uint64_t>(abi::Syscall::kSend):
    case static_cast<uint64_t>(abi::Syscall::kNBSend):
    case static_cast<uint64_t>(abi::Syscall::kCall):
      st = lookup(*t, x[0], ObjectType::kEndpoint, abi::kRightWrite, &ep);
      if (st == Status::kOk && abi::info_caps(x[1]) != 0 && (ep->cap.rights & abi::kRightGrant) == 0) {
        st = Status::kInsufficientRights;  // sending a capability needs the grant right
      }
      if (st == Status::kOk) {
        ipc_send(scheduler(), endpoint_object(ep->cap), t, ep->cap.badge,
                 number != static_cast<uint64_t>(abi::Syscall::kNBSend),
                 number == static_cast<uint64_t>(abi::Syscall::kCall));
        return false;
      }
      break;
    case static_cast<uint64_t>(abi::Syscall::kRecv):
    case static_cast<uint64_t>(abi::Syscall::kReplyRecv): {
      st = lookup(*t, x[0], ObjectType::kEndpoint, abi::kRightRead, &ep);
      Reply* reply = nullptr;
      if (st == Status::kOk && x[6] != 0) {
        Slot* rs = nullptr;
        st = lookup(*t, x[6], ObjectType::kReply, abi::kRightWrite, &rs);
        if (st == Status::kOk) reply = reply_object(rs->cap);
        // A Reply designated by another waiting receiver is in use.
        if (st == Status::kOk && reply->receiver != nullptr && reply->receiver != t) st = Status::kSlotOccupied;
      }
      if (st == Status::kOk) {
        bool reply_recv = number == static_cast<uint64_t>(abi::Syscall::kReplyRecv);
        if (reply_recv && reply != nullptr) {
          (void)ipc_reply_object(scheduler(), reply, t);
        } else if (reply_recv) {
          ipc_reply(scheduler(), t);
        }
        if (reply != nullptr && reply->caller != nullptr) {
          st = Status::kSlotOccupied;  // it still holds an unanswered caller
          break;
        }
        ipc_recv(scheduler(), endpoint_object(ep->cap), t, reply);
        return false;
      }
      break;
    }
    case static_cast<uint64_t>(abi::Syscall::kReply): {
      Slot* rs = nullptr;
      st = lookup(*t, x[0], ObjectType::kReply, abi::kRightWrite, &rs);
      if (st == Status::kOk && !ipc_reply_object(scheduler(), reply_object(rs->cap), t)) st = Status::kInvalidArgument;
      if (st == Status::kOk) {
        x[0] = 0;
        return false;
      }
      break;
    }
    case static_cast<uint64_t>(abi::Syscall::kSignal):
      st = lookup(*t, x[0], ObjectType::kNotification, abi::kRightWrite, &ep);
      if (st == Status::kOk) {
        ntfn_signal(scheduler(), notification_object(ep->cap), ep->cap.badge);
        x[0] = 0;
        return false;
      }
      break;
    case static_cast<uint64_t>(abi::Syscall::kWait):
    case static_cast<uint64_t>(abi::Syscall::kPoll):
      st = lookup(*t, x[0], ObjectType::kNotification, abi::kRightRead, &ep);
      if (st == Status::kOk) {
        ntfn_wait(notification_object(ep->cap), t, number == static_cast<uint64_t>(abi::Syscall::kWait));
        return false;
      }
      break;
    case static_cast<uint64_t>(abi::Syscall::kInvoke): st = invoke(t); break;
    default:
      if (!deliver_fault(t, abi::kFaultUnknownSyscall)) x[0] = static_cast<uint64_t>(Error::kUnknownSyscall);
      return false;
  }
  x[0] = static_cast<uint64_t>(to_abi(st));
  return false;
}

// Lazy FP/SIMD switching, per CPU: a CPU's registers hold its fp_owner's
// state (PerCpu, cpu.h). Any other thread runs there with EL0 FP access
// trapped (CPACR_EL1.FPEN = 0b01); its first FP instruction traps (EC 0x07),
// the owner's state is saved, its own loaded, and it retries. IPC between
// threads that do not use FP never pays for it. A thread whose state is
// still in another CPU's registers (it moved) has that CPU save it first.
void set_fp_access(bool el0) {
  arm64::PerCpu& c = this_cpu();
  uint64_t v = (el0 ? 3ull : 1ull) << 20;
  if (v == c.cpacr) return;
  KEEL_WRITE_SYSREG(cpacr_el1, v);  // in effect from the eret (context synchronizing)
  c.cpacr = v;
}

void fp_claim(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  arm64::PerCpu& c = this_cpu();
  set_fp_access(true);
  arm64::isb();  // before the kernel itself touches the registers
  if (t->fp_live_on != 0 && t->fp_live_on != c.index + 1) cpu_fetch_fp(t->fp_live_on - 1);
  if (auto* owner = static_cast<Thread*>(c.fp_owner)) {
    arm64::fpsimd_save(&owner->fp);
    owner->fp_live_on = 0;
  }
  arm64::fpsimd_restore(&t->fp);
  c.fp_owner = t;
  t->fp_live_on = static_cast<uint32_t>(c.index + 1);
}

// Makes `next` this CPU's thread. `from` is the thread whose EL0 registers
// the CPU still holds (null when it idled or lost its thread).
void switch_to(Thread* from, Thread* next) KEEL_REQUIRES(g_kernel_lock) {
  arm64::PerCpu& c = this_cpu();
  set_fp_access(next == c.fp_owner);
  if (next != from) {  // the EL0 thread-pointer registers are part of a thread's context
    if (from != nullptr) from->tpidr_el0 = KEEL_READ_SYSREG(tpidr_el0);
    KEEL_WRITE_SYSREG(tpidr_el0, next->tpidr_el0);
    KEEL_WRITE_SYSREG(tpidrro_el0, next->tpidrro_el0);
  }
  // Its space's ASID may have changed since it last ran (a rollover).
  const uint64_t ttbr0 = thread_ttbr0(next);
  if (c.ttbr0 == 0) {  // walks disabled (idle, or its thread was taken away): enable them with next's tables
    KEEL_WRITE_SYSREG(ttbr0_el1, ttbr0);
    arm64::isb();  // TTBR0 before walks can start from it
    KEEL_WRITE_SYSREG(tcr_el1, arm64::TcrEl1{KEEL_READ_SYSREG(tcr_el1)}.epd0(0).raw);
    arm64::isb();  // the new address space is in effect before the eret
  } else if (ttbr0 != c.ttbr0) {
    KEEL_WRITE_SYSREG(ttbr0_el1, ttbr0);
    arm64::isb();
  }
  c.ttbr0 = ttbr0;
  c.user_frame = &next->frame;
}

// Call and ReplyRecv on the common path: checks only, then ipc.h's fastpath
// functions, which decline (nullptr) whenever anything is unusual; the slow
// path then handles the syscall from the start.
Thread* fastpath(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  uint64_t n = t->frame.x[8];
  bool call = n == static_cast<uint64_t>(abi::Syscall::kCall);
  if (!call && (n != static_cast<uint64_t>(abi::Syscall::kReplyRecv) || t->frame.x[6] != 0)) return nullptr;
  Slot* ep = nullptr;
  if (lookup(*t, t->frame.x[0], ObjectType::kEndpoint, call ? abi::kRightWrite : abi::kRightRead, &ep) != Status::kOk) {
    return nullptr;
  }
  return call ? ipc_fastpath_call(scheduler(), endpoint_object(ep->cap), t, ep->cap.badge)
              : ipc_fastpath_reply_recv(scheduler(), endpoint_object(ep->cap), t);
}

// Kernel output since the last exception wakes the log's reader; done here,
// on the way out, because kprintf runs in the middle of kernel operations.
void signal_kernel_log() KEEL_REQUIRES(g_kernel_lock) {
  uint64_t pa = 0, badge = 0;
  if (console_log_take_signal(&pa, &badge)) ntfn_signal(scheduler(), layout::linear<Notification>(pa), badge);
}

}  // namespace

// Nothing runnable on this CPU: drop the lock and wait for an interrupt
// (with IRQs masked, WFI still wakes on a pending one, which is then taken
// from the GIC here, under the lock) that makes a thread runnable here — a
// device, or an SGI from a CPU that queued one — and run it. `last` is the
// thread whose EL0 registers the CPU still holds (or null).
[[noreturn]] void cpu_idle(Thread* last) {
  arm64::PerCpu& c = this_cpu();
  c.user_frame = nullptr;
  // Its EL0 thread pointer now: once the lock is dropped, `last` may run on
  // another CPU, and this one must not write to it later.
  if (last != nullptr) last->tpidr_el0 = KEEL_READ_SYSREG(tpidr_el0);
  timer_stop();
  static bool said = false;  // once: with servers waiting for interrupts, idling is normal
  if (!said && c.index == 0) {
    kprintf("keel: no runnable thread; the CPU idles until an interrupt (the kernel is still up)\n");
    said = true;
  }
  for (;;) {
    if (Thread* next = scheduler().pick()) {
      timer_restart();
      switch_to(nullptr, next);
      check_invariants();
      kernel_exit();
      arm64::enter_user();
    }
    cpu_user_walks_off();  // the last thread's tables may be freed while this CPU waits
    kernel_exit();
    arm64::wfi();
    kernel_enter();
    while (irq_dispatch() != IrqResult::kNone) {
    }
    signal_kernel_log();
  }
}

namespace {

// The user fault report: decoded like a kernel panic, but it stops only the
// thread. Backtrace frames are read with copy_from_user, never dereferenced.
void report_user_fault(const Thread& t, const arm64::ExceptionFrame& f, uint64_t slot) {
  char meaning[96];
  if (slot % 4 == 0) {
    arm64::describe_esr(f.esr, meaning, sizeof meaning);
  } else {
    meaning[0] = '\0';
  }
  uint32_t ec = arm64::esr_ec(f.esr);
  kprintf("keel: USER FAULT in thread %s: %s%s\n", t.name, slot % 4 == 0 ? meaning : "unexpected ",
          slot % 4 == 0 ? "" : arm64::vector_kind(slot));
  kprintf("  EC 0x%02x (%s)  ESR 0x%016llx  FAR 0x%016llx\n  PC 0x%016llx  SP 0x%016llx\n", ec,
          arm64::exception_class_name(ec), ull(f.esr), ull(f.far), ull(f.elr), ull(f.sp));
  kprintf("  backtrace:\n    #0 0x%016llx in %s\n", ull(f.elr), t.name);
  uint64_t fp = f.x[29];
  for (int depth = 1; depth < 16 && fp != 0 && (fp & 15) == 0; ++depth) {
    uint64_t rec[2];
    if (copy_from_user(t, fp, sizeof rec, rec) != Status::kOk || rec[1] == 0) break;
    kprintf("    #%d 0x%016llx in %s\n", depth, ull(rec[1] - 4), t.name);
    if (rec[0] <= fp) break;
    fp = rec[0];
  }
  kprintf("  end of backtrace\n");
  kprintf("keel: thread %s stopped; the kernel carries on\n", t.name);
}

}  // namespace

// The kernel's capability transfer for ipc.cc: reads both IPC buffers with
// checked copies and derives the sender's capability into the receiver's
// empty receive slot. Any problem means the message arrives without it.
bool transfer_capability(Thread* from, Thread* to) {
  abi::IpcBuffer fb{}, tb{};
  if (from->ipc_buffer == 0 || to->ipc_buffer == 0 ||
      copy_from_user(*from, from->ipc_buffer, sizeof fb, &fb) != Status::kOk ||
      copy_from_user(*to, to->ipc_buffer, sizeof tb, &tb) != Status::kOk || tb.receive_slot == 0) {
    return false;
  }
  Slot* src = nullptr;
  Slot* dst = nullptr;
  if (cnode_slot(from->cspace(), fb.send_cap, &src) != Status::kOk || src->empty() ||
      cnode_slot(to->cspace(), tb.receive_slot, &dst) != Status::kOk || !dst->empty()) {
    return false;
  }
  return object::derive(src, dst, src->cap.rights, 0) == Status::kOk;
}

void fp_forget(const Thread* t) {
  for (size_t i = 0; i < kMaxCpus; ++i) {
    if (cpu_record(i).fp_owner == t) cpu_record(i).fp_owner = nullptr;  // (its registers' contents are dead)
  }
}

void fp_init() {
  this_cpu().fp_owner = nullptr;
  this_cpu().cpacr = ~0ull;
  set_fp_access(false);
  arm64::isb();
}

// The kernel's word transfer for ipc.cc: message words 4.. from the
// sender's IPC buffer to the receiver's, both through checked copies.
bool transfer_words(Thread* from, Thread* to, uint64_t length) {
  uint64_t words[abi::kMaxMessageWords];
  uint64_t n = length - abi::kMaxMessageRegisters, offset = abi::kIpcBufferMrOffset + 8 * abi::kMaxMessageRegisters;
  return from->ipc_buffer != 0 && to->ipc_buffer != 0 &&
         copy_from_user(*from, from->ipc_buffer + offset, 8 * n, words) == Status::kOk &&
         copy_to_user(*to, to->ipc_buffer + offset, 8 * n, words) == Status::kOk;
}

Thread* current_thread() { return running(); }
void set_current_thread(Thread* t) { this_cpu().user_frame = t != nullptr ? &t->frame : nullptr; }

// Called by vectors.S for every exception from EL0; the user context is
// already saved in the current thread's frame (f). Returning resumes the
// frame PerCpu::user_frame names then.
extern "C" void user_exception(arm64::ExceptionFrame* f, uint64_t slot) {
  kernel_enter();  // from here the big kernel lock is held (lock.h)
  arm64::PerCpu& c = this_cpu();
  if (c.lost_current != 0) {
    // While this CPU waited for the lock, another took its thread away
    // (cpu.h: stall protocol). The saved frame is not ours any more: serve
    // only the interrupt, if that is what brought us here, and move on.
    c.lost_current = 0;
    if (slot == 9) {
      while (irq_dispatch() != IrqResult::kNone) {
      }
    }
    signal_kernel_log();
    cpu_idle(nullptr);  // runs the next thread here, or waits for one
  }
  Thread* t = running();
  if (t == nullptr || f != &t->frame) panic("exception from EL0 (ESR 0x%llx) with no current thread", ull(f->esr));
  const uint32_t ec = arm64::esr_ec(f->esr);
  const bool synchronous = slot == 8;  // lower EL, AArch64, synchronous
  if (synchronous && ec == arm64::ec::kSvc64) {
    if (Thread* next = fastpath(t)) {
      switch_to(t, next);
      check_invariants();
      kernel_exit();
      return;
    }
  }
  if (synchronous && ec == arm64::ec::kFpAccess) {  // load its FP/SIMD state, retry the instruction
    fp_claim(t);
    kernel_exit();
    return;
  }
  bool yield = false;
  if (synchronous && ec == arm64::ec::kSvc64) {
    yield = dispatch(t);
    drain_dead_cnodes();
  } else if (slot == 9) {  // IRQ from EL0: the tick ends the time slice; devices signal; SGIs
    for (IrqResult r = irq_dispatch(); r != IrqResult::kNone; r = irq_dispatch()) yield |= r == IrqResult::kTick;
  } else {
    bool memory = ec == arm64::ec::kDataAbortLower || ec == arm64::ec::kInstAbortLower;
    if (slot % 4 != 0 || !deliver_fault(t, memory ? abi::kFaultMemory : abi::kFaultException)) {
      report_user_fault(*t, *f, slot);
      thread_stop(scheduler(), t);
    }
  }
  signal_kernel_log();
  // Keep running t unless it blocked, yielded, moved to another CPU, or a
  // higher-priority thread woke here.
  Thread* next = t;
  bool moved = t->cpu != c.index;
  if (t->state != ThreadState::kRunnable || yield || moved || scheduler().highest() > static_cast<int>(t->priority)) {
    if (t->state == ThreadState::kRunnable) scheduler().enqueue(t);  // (its own CPU's queue)
    next = scheduler().pick();
  }
  if (next == nullptr) cpu_idle(t);
  switch_to(t, next);
  check_invariants();
  kernel_exit();
}

}  // namespace keel
