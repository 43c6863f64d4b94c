#include "kernel/core/uaccess.h"

#include "keel/abi.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/core/kernel_objects.h"

namespace keel {

namespace {

// Walks t's tables for [uva, uva+len) page by page and copies between the
// user range and kernel memory through the linear map.
Status copy_user(const Thread& t, uint64_t uva, size_t len, uint8_t* kbuf, bool to_user) {
  if (uva >= abi::kUserLimit || len > abi::kUserLimit - uva) return Status::kOutOfRange;
  if (t.as_root == 0 || t.vspace_slot.empty()) return Status::kNotFound;  // its space is gone: nothing to walk
  arm64::TranslationRegime regime{.ttbr0 = t.as_root, .ttbr1 = 0, .tcr = arch::translation_control().epd0(0)};
  const arm64::PhysWindow linear = arch::phys_window();
  while (len > 0) {
    arm64::Translation tr = arm64::translate(regime, linear, uva);
    if (!tr.ok() || !(to_user ? tr.el0_writable : tr.el0_readable)) return Status::kNotFound;
    // Only Normal write-back RAM, which the linear map covers: a device
    // frame (or anything else) is not memory the kernel may touch for a
    // user — an invalid address, never a kernel fault.
    if (tr.leaf.attr_index() != static_cast<uint64_t>(arm64::AttrIndex::kNormalWB) || !is_ram(tr.pa)) {
      return Status::kNotFound;
    }
    size_t chunk = arm64::kPageSize - (uva & (arm64::kPageSize - 1));
    if (chunk > len) chunk = len;
    auto* user = arch::phys<uint8_t>(tr.pa);
    for (size_t i = 0; i < chunk; ++i) {
      if (to_user) {
        user[i] = kbuf[i];
      } else {
        kbuf[i] = user[i];
      }
    }
    kbuf += chunk;
    uva += chunk;
    len -= chunk;
  }
  return Status::kOk;
}

}  // namespace

Status copy_from_user(const Thread& t, uint64_t uva, size_t len, void* dst) {
  return copy_user(t, uva, len, static_cast<uint8_t*>(dst), false);
}

Status copy_to_user(const Thread& t, uint64_t uva, size_t len, const void* src) {
  return copy_user(t, uva, len, const_cast<uint8_t*>(static_cast<const uint8_t*>(src)), true);
}

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
  object::Slot* src = nullptr;
  object::Slot* dst = nullptr;
  if (cnode_slot(from->cspace(), fb.send_cap, &src) != Status::kOk || src->empty() ||
      cnode_slot(to->cspace(), tb.receive_slot, &dst) != Status::kOk || !dst->empty()) {
    return false;
  }
  return object::derive(src, dst, src->cap.rights, 0) == Status::kOk;
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

}  // namespace keel
