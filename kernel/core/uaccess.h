// uaccess.h — the only way the kernel reads user memory.
//
// The kernel never dereferences a user pointer. copy_from_user walks the
// thread's own tables (arm64::translate, the same walker preflight uses),
// requires every byte to be mapped EL0-readable below abi::kUserLimit, and
// copies through the kernel's linear map. Anything else is kInvalidAddress.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/lib/status.h"
#include "kernel/object/thread.h"

namespace keel {

// Copies len bytes from user address uva of thread t into dst.
// Errors: Status::kOutOfRange (kernel address, overflow), kNotFound (unmapped
// or not readable at EL0).
Status copy_from_user(const Thread& t, uint64_t uva, size_t len, void* dst);

// Copies len bytes from src to user address uva of thread t, which must be
// mapped EL0-writable. Same errors.
Status copy_to_user(const Thread& t, uint64_t uva, size_t len, const void* src);

// The IPC engine's transfers through IPC buffers (ipc.h CapTransferFn,
// WordTransferFn), with the copies above.
bool transfer_capability(Thread* from, Thread* to);
bool transfer_words(Thread* from, Thread* to, uint64_t length);

}  // namespace keel
