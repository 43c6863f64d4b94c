// endpoint.h — the Endpoint and Reply kernel objects (64 bytes each).
//
// An endpoint is a rendezvous point: a queue of threads that all send or
// all receive (kernel/core/ipc.h moves the messages). A Reply object holds
// the right to answer one caller, so a server can keep several replies
// outstanding and answer them in any order. The syscalls on them are
// decoded in endpoint.cc.
#pragma once

#include <stdint.h>

#include "kernel/lib/locks.h"
#include "kernel/object/thread.h"

namespace keel {

enum class EndpointState : uint32_t { kIdle, kSenders, kReceivers };

struct Endpoint final {
  // Taken by the IPC fastpath (without the big lock: docs/smp.md), never by
  // the slow path, which waits out every fastpath instead (cpu.h
  // fast_path_enter). Zero (free) in a newly retyped endpoint. First: its
  // address is the endpoint's, which the fastpath has in a register.
  WordLock fast_lock;
  EndpointState state;
  ThreadQueue waiters;
  uint64_t dying_next;  // destroyed with waiters still to release: the dying list (objects.h)
};
static_assert(sizeof(Endpoint) <= 64, "an Endpoint fits its 64-byte object");

struct Reply final {
  Thread* caller;    // waiting for this reply (null: empty)
  Thread* receiver;  // a thread blocked in Recv that designated this object
};
static_assert(sizeof(Reply) <= 64, "a Reply fits its 64-byte object");

}  // namespace keel
