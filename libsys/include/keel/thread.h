// thread.h — starting another thread in the caller's own CNode and address
// space (init and every task have them at slots 1 and 3).
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"

namespace keel::sys {

struct ThreadSpec {
  uint64_t untyped;   // retyped into the Thread object
  uint64_t slot;      // where its capability goes (in the caller's CNode)
  unsigned priority;  // at most the caller's
  uint64_t cpu = 0;   // affinity
  void (*entry)(uint64_t) = nullptr;
  uint64_t stack_top = 0;  // 16-byte aligned
  uint64_t arg = 0;
  uint64_t ipc_buffer = 0;  // its own IPC buffer page (0: none; it then sends at most 4 words)
};

inline abi::Error start_thread(const ThreadSpec& s) {
  constexpr uint64_t kOwnCNode = 1, kOwnAddressSpace = 3;
  const ThreadCap th(s.slot);
  abi::Error e = Untyped(s.untyped).retype(abi::ObjectType::kThread, 0, s.slot);
  if (e == abi::Error::kOk) e = th.configure(kOwnCNode, kOwnAddressSpace, s.priority);
  if (e == abi::Error::kOk && s.cpu != 0) e = th.set_affinity(s.cpu);
  if (e == abi::Error::kOk && s.ipc_buffer != 0) e = th.set_ipc_buffer(s.ipc_buffer);
  if (e == abi::Error::kOk) e = th.start(reinterpret_cast<uint64_t>(s.entry), s.stack_top, s.arg);
  return e;
}

}  // namespace keel::sys
