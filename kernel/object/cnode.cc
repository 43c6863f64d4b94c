// cnode.cc — the CNode object: a power-of-two array of capability slots
// (capability.h: every slot is also a node of the derivation tree).
//
// Copy, Mint and Move may take the source from another CNode (a parent
// filling a child's); Delete and Revoke act on one slot. A destroyed CNode
// is emptied later, iteratively (drain_dead_cnodes), never by recursion.
#include "kernel/arch/arch.h"
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

// Destroyed CNodes still holding capabilities: PA | size bits, linked
// through slot 0's spare word.
uint64_t g_dead_cnodes KEEL_GUARDED_BY(g_kernel_lock) = 0;

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
// space nested them: queue it instead and let drain_dead_cnodes empty it.
void cnode_destroy(const object::Capability& cap) KEEL_REQUIRES(g_kernel_lock) {
  auto* slots = arch::phys<Slot>(cap.object);
  slots[0].reserved = g_dead_cnodes;
  g_dead_cnodes = cap.object | cap.size_bits;  // CNodes are >= 128-byte aligned
}

void drain_dead_cnodes_now() KEEL_REQUIRES(g_kernel_lock) {
  while (g_dead_cnodes != 0) {
    uint64_t pa = g_dead_cnodes & ~0x7full;
    unsigned bits = static_cast<unsigned>(g_dead_cnodes & 0x7f);
    auto* slots = arch::phys<Slot>(pa);
    g_dead_cnodes = slots[0].reserved;
    slots[0].reserved = 0;
    for (uint64_t i = 0; i < (1ull << bits); ++i) {
      if (!slots[i].empty()) (void)object::remove(&slots[i], object_hooks());  // may queue more CNodes
    }
  }
}

}  // namespace keel
