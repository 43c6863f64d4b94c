// thread.h — starting another thread in the caller's own CNode and address
// space (init and every task have them at slots 1 and 3).
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace keel::sys {

struct ThreadSpec {
  uint64_t untyped;   // retyped into the Thread object
  uint64_t slot;      // where its capability goes (in the caller's CNode)
  unsigned priority;  // at most the caller's
  uint64_t cpu = 0;   // affinity
  void (*entry)(uint64_t) = nullptr;
  uint64_t stack_top = 0;  // 16-byte aligned
  uint64_t arg = 0;
  uint64_t ipc_buffer = 0;  // its own IPC buffer page (0: none; it then sends at most 4 words); libsys's
                            // pointer to it is set before entry runs
};

// What a new thread starts with: libsys's entry reads this (at the top of
// the thread's stack), points the thread's IPC-buffer pointer at its own
// buffer, runs entry(arg), and ends the thread if entry returns.
struct ThreadStartBlock {
  void (*entry)(uint64_t);
  uint64_t arg;
  uint64_t ipc_buffer;
  uint64_t pad;
};
[[noreturn]] inline void thread_trampoline(uint64_t block) {
  const auto* b = reinterpret_cast<const ThreadStartBlock*>(block);
  if (b->ipc_buffer != 0) set_ipc_buffer_pointer(reinterpret_cast<abi::IpcBuffer*>(b->ipc_buffer));
  b->entry(b->arg);
  for (;;) (void)syscall(sysno(abi::Syscall::kExit), 0);  // this thread (no fault endpoint: it just stops)
}

// In a task (not init), the first one also makes the notification its
// threads take turns at the console with (print), from the same untyped
// (if that fails, print goes on without turns).
inline abi::Error start_thread(const ThreadSpec& s) {
  constexpr uint64_t kOwnCNode = 1, kOwnAddressSpace = 3;
  const ThreadCap th(s.slot);
  if (abi::start_info()->magic == abi::kStartInfoMagic)
    (void)enable_print_turns(s.untyped, abi::task_slot::kPrintTurns);
  abi::Error e = Untyped(s.untyped).retype(abi::ObjectType::kThread, 0, s.slot);
  if (e == abi::Error::kOk) e = th.configure(kOwnCNode, kOwnAddressSpace, s.priority);
  if (e == abi::Error::kOk && s.cpu != 0) e = th.set_affinity(s.cpu);
  if (e == abi::Error::kOk && s.ipc_buffer != 0) e = th.set_ipc_buffer(s.ipc_buffer);
  // The start block at the top of its stack (16-byte aligned, below stack_top).
  auto* block = reinterpret_cast<ThreadStartBlock*>(s.stack_top - sizeof(ThreadStartBlock));
  if (e == abi::Error::kOk) *block = ThreadStartBlock{s.entry, s.arg, s.ipc_buffer, 0};
  if (e == abi::Error::kOk) {
    e = th.start(reinterpret_cast<uint64_t>(&thread_trampoline), reinterpret_cast<uint64_t>(block),
                 reinterpret_cast<uint64_t>(block));
  }
  return e;
}

}  // namespace keel::sys
