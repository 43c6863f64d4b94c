// cnode.cc — the CNode object: a power-of-two array of capability slots
// (capability.h: every slot is also a node of the derivation tree).
//
// Copy, Mint and Move may take the source from another CNode (a parent
// filling a child's); Delete and Revoke act on one slot. A destroyed CNode
// is emptied later, iteratively (drain_dead_cnodes), never by recursion.
#include "kernel/arch/arch.h"
#include "kernel/core/panic.h"
#include "kernel/object/objects.h"

namespace keel {
namespace {

using abi::ObjectType;
using object::Slot;

// Decode for Copy, Mint and Move: the destination slot in `cn`, the source
// slot in `cn` or in the CNode named by source_cnode.
Status decode_transfer(const Thread& t, Slot* cn, uint64_t dest, uint64_t source, uint64_t source_cnode, Slot** dst,
                       Slot** src) {
  Slot* src_cn = cn;
  Status s = source_cnode == 0 ? Status::kOk : lookup_slot(t, source_cnode, ObjectType::kCNode, 0, &src_cn);
  if (s == Status::kOk) s = cnode_slot(cn->cap, dest, dst);
  if (s == Status::kOk) s = cnode_slot(src_cn->cap, source, src);
  return s;
}

}  // namespace

// Dead CNodes: no capability names them, but their slots may still hold
// capabilities. They are emptied in bounded steps (drain_dead_cnodes_step)
// and their memory is not reused until they are (an untyped's revoke waits:
// dead_cnodes_settled). Each is identified as PA | size bits (CNodes are at
// least 128-byte aligned) and queued on a stack linked through its own
// slot 0, which becomes a record — empty as a capability (type kNull):
//   cap.object     the next dead CNode, 0 at the bottom
//   cap.watermark  the next slot to empty
//   cap.badge      a dead CNode whose slot 0 is not a record yet (pending)
uint64_t g_dead_cnodes KEEL_GUARDED_BY(g_kernel_lock) = 0;

namespace {

// While a slot 0 is being turned into a record, the capability taken from
// it may kill one more CNode (it was that CNode's final capability, or a
// thread's whose CNode it was): noted here, prepared next.
bool g_preparing KEEL_GUARDED_BY(g_kernel_lock) = false;
uint64_t g_pending KEEL_GUARDED_BY(g_kernel_lock) = 0;

Slot* dead_slots(uint64_t id) { return arch::phys<Slot>(id & ~uint64_t{0x7f}); }
uint64_t dead_size(uint64_t id) { return uint64_t{1} << (id & 0x7f); }

// The work units of a drain step: a slot looked at costs 1, a capability
// removed (or a slot 0 made a record) kRemoveCost.
constexpr uint64_t kRemoveCost = 16;
// A chain of CNodes each holding the next one's final capability in slot 0
// is prepared this many at a time; the rest waits in the last record.
constexpr uint64_t kPrepareChain = 16;

// Queues CNode `id` (and up to kPrepareChain - 1 more that its slot 0's
// capability kills): slot 0's capability is taken out of the tree first,
// the record written there, and only then the taken capability's
// consequences run. No recursion, whatever user space nested.
void prepare_dead(uint64_t id) KEEL_REQUIRES(g_kernel_lock) {
  g_preparing = true;
  for (uint64_t left = kPrepareChain; id != 0;) {
    Slot* s = dead_slots(id);
    const bool had = !s[0].empty();
    object::Taken taken{};
    if (had) taken = object::take(&s[0]);
    s[0].cap.object = g_dead_cnodes;
    s[0].cap.watermark = 1;
    s[0].cap.badge = 0;
    g_dead_cnodes = id;
    g_deferred = 1;
    g_pending = 0;
    if (had) object::finish_removal(taken, &s[0], object_hooks());  // may note one more dead CNode
    id = g_pending;
    g_pending = 0;
    if (id != 0 && --left == 0) {
      s[0].cap.badge = id;  // the rest of the chain: the drain prepares it
      break;
    }
  }
  g_preparing = false;
}

}  // namespace

Status cnode_invoke(Thread* t, Slot* cn, abi::Method m) KEEL_REQUIRES(g_kernel_lock) {
  const abi::SyscallView r = t->regs();
  Slot* dst = nullptr;
  Slot* src = nullptr;
  switch (m) {
    case abi::Method::kCNodeCopy: {
      const auto a = r.method_args<abi::CNodeCopy>();
      Status s = decode_transfer(*t, cn, a.dest, a.source, a.source_cnode, &dst, &src);
      if (s != Status::kOk) return s;
      if (a.rights > 0xff) return Status::kInvalidArgument;
      return object::derive(src, dst, static_cast<uint8_t>(a.rights), 0);  // (checks, then acts)
    }
    case abi::Method::kCNodeMint: {
      const auto a = r.method_args<abi::CNodeMint>();
      Status s = decode_transfer(*t, cn, a.dest, a.source, a.source_cnode, &dst, &src);
      if (s != Status::kOk) return s;
      if (a.rights > 0xff) return Status::kInvalidArgument;
      return object::derive(src, dst, static_cast<uint8_t>(a.rights), a.badge);
    }
    case abi::Method::kCNodeMove: {
      const auto a = r.method_args<abi::CNodeMove>();
      Status s = decode_transfer(*t, cn, a.dest, a.source, a.source_cnode, &dst, &src);
      if (s != Status::kOk) return s;
      return object::move(src, dst);
    }
    case abi::Method::kCNodeDelete: {
      Status s = cnode_slot(cn->cap, r.method_args<abi::CNodeDelete>().slot, &dst);
      if (s != Status::kOk) return s;
      // An untyped with children: deleting it would strand their memory
      // (nothing could revoke it again). Revoke first.
      if (dst->cap.type == ObjectType::kUntyped && object::has_children(dst)) return Status::kRevokeFirst;
      return object::remove(dst, object_hooks());
    }
    case abi::Method::kCNodeRevoke: {
      Status s = cnode_slot(cn->cap, r.method_args<abi::CNodeRevoke>().slot, &dst);
      if (s != Status::kOk) return s;
      return object::revoke(dst, object_hooks());
    }
    default: return Status::kInvalidArgument;
  }
}

// Emptying it here could destroy further CNodes, recursing as deep as user
// space nested them, and take as long as it holds capabilities: queue it
// instead and let drain_dead_cnodes_step empty it, a bounded step at a time.
void cnode_destroy(const object::Capability& cap) KEEL_REQUIRES(g_kernel_lock) {
  const uint64_t id = cap.object | cap.size_bits;
  if (g_preparing) {
    // One removal kills at most one CNode (a CNode capability, or a
    // thread's own CNode slot): anything else is a kernel bug.
    if (g_pending != 0) panic("two CNodes died of one capability's removal");
    g_pending = id;
    return;
  }
  prepare_dead(id);
}

bool drain_dead_cnodes_step(uint64_t budget) KEEL_REQUIRES(g_kernel_lock) {
  while (g_dead_cnodes != 0) {
    if (budget == 0) return false;
    const uint64_t id = g_dead_cnodes;
    Slot* s = dead_slots(id);
    if (s[0].cap.badge != 0) {  // a pending one first (it is pushed above this one)
      const uint64_t pending = s[0].cap.badge;
      s[0].cap.badge = 0;
      prepare_dead(pending);
      budget = budget > kRemoveCost ? budget - kRemoveCost : 0;
      continue;
    }
    g_dead_cnodes = s[0].cap.object;  // taken off while emptied: removals may push more
    uint64_t i = s[0].cap.watermark;
    const uint64_t n = dead_size(id);
    for (; i < n && budget > 0; ++i) {
      if (s[i].empty()) {
        --budget;
        continue;
      }
      budget = budget > kRemoveCost ? budget - kRemoveCost : 0;
      (void)object::remove(&s[i], object_hooks());  // may queue more dead CNodes
    }
    if (i < n) {  // more to do: back on top
      s[0].cap.watermark = i;
      s[0].cap.object = g_dead_cnodes;
      g_dead_cnodes = id;
      return false;
    }
    s[0] = Slot{};  // empty: its memory may be reused once nothing else is queued
  }
  return true;
}

}  // namespace keel
