// notification.h — the Notification kernel object (64 bytes): a word of
// pending signal bits and the threads waiting for it. Signal, Wait and Poll
// are decoded in notification.cc; the engine is kernel/core/ipc.h.
#pragma once

#include <stdint.h>

#include "kernel/object/thread.h"

namespace keel {

struct Notification final {
  uint64_t word;
  ThreadQueue waiters;
  uint64_t dying_next;  // destroyed with waiters still to release: the dying list (objects.h)
};
static_assert(sizeof(Notification) <= 64, "a Notification fits its 64-byte object");

}  // namespace keel
