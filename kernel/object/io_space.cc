// io_space.cc — IoControl (authority over every DMA stream, held by init
// like IrqControl) and IoSpace (one device's DMA address space: a root
// table the SMMU walks for the stream it is bound to). Frames and tables
// map into an IoSpace through their own capabilities (address_space.cc),
// which record the mapping; deleting or revoking one unmaps it, and the
// IOMMU's TLB is invalidated and synchronized before that returns
// (kernel/core/iommu.h).
#include "kernel/core/iommu.h"
#include "kernel/object/objects.h"
#include "kernel/object/page_info.h"

namespace keel {

Status io_invoke(Thread* t, object::Slot* s, abi::Method m) KEEL_REQUIRES(g_kernel_lock) {
  const abi::SyscallView r = t->regs();
  if (s->cap.type == abi::ObjectType::kIoControl) {
    if (m != abi::Method::kIoControlBind) return Status::kInvalidArgument;
    const auto a = r.method_args<abi::IoControlBind>();
    object::Slot* io = nullptr;
    Status st = lookup_slot(*t, a.io_space, abi::ObjectType::kIoSpace, 0, &io);
    if (st != Status::kOk) return st;
    object::PageInfo* p = page_info(io->cap.object);
    if (p == nullptr || p->kind != object::PageKind::kIoSpace) return Status::kInvalidCapability;
    if (p->asid != 0) return Status::kSlotOccupied;  // an IoSpace serves one stream
    if (a.stream >= kIommuStreams) return Status::kInvalidArgument;
    st = iommu_bind(static_cast<uint32_t>(a.stream), io->cap.object, a.label);
    if (st == Status::kOk) p->asid = static_cast<uint32_t>(a.stream) + 1;
    return st;
  }
  if (m != abi::Method::kIoSpaceFaults) return Status::kInvalidArgument;
  const object::PageInfo* p = page_info(s->cap.object);
  uint64_t count = 0, last = 0;
  if (p != nullptr && p->kind == object::PageKind::kIoSpace && p->asid != 0) iommu_faults(p->asid - 1, &count, &last);
  t->regs().set_result(abi::Error::kOk, abi::IoSpaceFaultsResult{.count = count, .last_iova = last});
  return Status::kOk;
}

// Its last capability went: the stream aborts again (synchronously) before
// the root's memory can be reused; mapping records naming it are stale.
void io_space_destroy(uint64_t root_pa) KEEL_REQUIRES(g_kernel_lock) {
  object::PageInfo* p = page_info(root_pa);
  if (p == nullptr || p->kind != object::PageKind::kIoSpace) return;
  if (p->asid != 0) iommu_unbind(p->asid - 1);
  *p = object::PageInfo{};
}

}  // namespace keel
