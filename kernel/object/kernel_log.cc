// kernel_log.cc — the KernelLog object: the authority to write the
// kernel's console (DebugWrite) and, once a user-space console binds it,
// to read what the kernel prints (kernel/core/console.h keeps the ring).
#include "kernel/core/abi_map.h"
#include "kernel/core/console.h"
#include "kernel/core/uaccess.h"
#include "kernel/object/objects.h"

namespace keel {

Status kernel_log_invoke(Thread* t, [[maybe_unused]] object::Slot* log, abi::Method m) KEEL_REQUIRES(g_kernel_lock) {
  abi::SyscallView r = t->regs();
  switch (m) {
    case abi::Method::kKernelLogBind: {
      Found<Notification> n =
          lookup<Notification>(*t, r.method_args<abi::KernelLogBind>().notification, abi::kRightWrite);
      if (n.ok()) console_log_bind(n.slot->cap.object, n.badge());
      return n.status;
    }
    case abi::Method::kKernelLogRead: {
      const auto a = r.method_args<abi::KernelLogRead>();
      char buf[512];
      size_t n = console_log_read(buf, a.size < sizeof buf ? a.size : sizeof buf);
      Status st = n == 0 ? Status::kOk : copy_to_user(*t, a.buffer, n, buf);
      // (bytes that could not be copied are gone: the reader gave a bad buffer)
      r.set_result(to_abi(st), abi::KernelLogReadResult{.bytes = st == Status::kOk ? n : 0});
      return st;
    }
    default: return Status::kInvalidArgument;
  }
}

namespace {

// The copy through a kernel buffer, out of line: its frame (the buffer)
// is paid only when there is something to write.
[[gnu::noinline]] abi::Error debug_write_bytes(Thread& t, uint64_t uva, uint64_t len) KEEL_REQUIRES(g_kernel_lock) {
  char buf[256];
  while (len > 0) {
    size_t chunk = len < sizeof buf ? len : sizeof buf;
    Status s = copy_from_user(t, uva, chunk, buf);
    if (s != Status::kOk) return to_abi(s);
    console_write(buf, chunk);
    uva += chunk;
    len -= chunk;
  }
  return abi::Error::kOk;
}

}  // namespace

abi::Error debug_write(Thread& t) KEEL_REQUIRES(g_kernel_lock) {
  const auto a = t.regs().args<abi::DebugWriteArgs>();
  object::Slot* log = nullptr;
  Status st = lookup_slot(t, a.log, abi::ObjectType::kKernelLog, abi::kRightWrite, &log);
  if (st != Status::kOk) return to_abi(st);
  if (a.length > abi::kDebugWriteMax) return abi::Error::kInvalidArgument;
  return a.length == 0 ? abi::Error::kOk : debug_write_bytes(t, a.buffer, a.length);
}

}  // namespace keel
