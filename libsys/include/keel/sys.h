// sys.h — the syscall stubs every user program calls (ABI: keel/abi.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"

// Every user program defines main; crt0 calls it (freestanding: declare the
// C linkage here so that `int main()` in a program is the symbol crt0 uses).
extern "C" int main();

namespace keel::sys {

struct SyscallResult {
  abi::Error error;                         // x0
  uint64_t r[abi::kArgumentRegisters - 1];  // x1..x6
  // The results as the syscall's result struct (abi.h), e.g. abi::IpcResult.
  template <class R>
  R as() const {
    return abi::from_words<R>(r);
  }
};

// One SVC with raw argument registers x0..x6; every stub goes through it
// (the typed forms below are what programs use; fuzzers and error-path
// tests use this one to send what no typed form can).
inline SyscallResult syscall(uint64_t number, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                             uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0) {
  register uint64_t x0 asm("x0") = a0;
  register uint64_t x1 asm("x1") = a1;
  register uint64_t x2 asm("x2") = a2;
  register uint64_t x3 asm("x3") = a3;
  register uint64_t x4 asm("x4") = a4;
  register uint64_t x5 asm("x5") = a5;
  register uint64_t x6 asm("x6") = a6;
  register uint64_t x8 asm("x8") = number;
  asm volatile("svc #0"
               : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6)
               : "r"(x8)
               : KEEL_SVC_CLOBBERS);
  return SyscallResult{static_cast<abi::Error>(x0), {x1, x2, x3, x4, x5, x6}};
}

inline SyscallResult syscall(uint64_t number, const abi::Registers& a) {
  return syscall(number, a.x[0], a.x[1], a.x[2], a.x[3], a.x[4], a.x[5], a.x[6]);
}

inline uint64_t sysno(abi::Syscall s) { return static_cast<uint64_t>(s); }
inline uint64_t method(abi::Method m) { return static_cast<uint64_t>(m); }

// ---- IPC ----------------------------------------------------------------

struct Message {
  uint64_t label = 0;
  uint64_t length = 0;  // message words used, 0..abi::kMaxMessageWords (4 travel in registers)
  uint64_t mr[abi::kMaxMessageWords] = {};
  uint64_t badge = 0;  // on receipt: the sender's badge
  uint64_t caps = 0;   // 1: a capability travels (IPC buffer send_cap / receive_slot)
};

// This thread's IPC buffer: libsys keeps the pointer in TPIDR_EL0 (the
// kernel switches it with the thread); 0 means init's, at kIpcBufferVa. A
// thread with another buffer calls set_ipc_buffer_pointer first (and its
// creator ThreadSetIpcBuffer, so the kernel knows it too).
inline abi::IpcBuffer* ipc_buffer() {
  uint64_t tp;
  asm volatile("mrs %0, tpidr_el0" : "=r"(tp));
  return reinterpret_cast<abi::IpcBuffer*>(tp != 0 ? tp : abi::kIpcBufferVa);
}
inline void set_ipc_buffer_pointer(abi::IpcBuffer* b) {
  asm volatile("msr tpidr_el0, %0" ::"r"(reinterpret_cast<uint64_t>(b)) : "memory");
}

// The words past the registers travel in the IPC buffer: out of line, so
// that the register case — nearly every message — inlines into its caller
// and keeps no frame of its own.
[[gnu::noinline]] inline void take_long_words(Message& m) {
  const abi::IpcBuffer* b = ipc_buffer();
  for (uint64_t i = abi::kMaxMessageRegisters; i < m.length; ++i) m.mr[i] = b->mr[i];
}
[[gnu::noinline]] inline void put_long_words(const Message& m, uint64_t len) {
  abi::IpcBuffer* b = ipc_buffer();
  for (uint64_t i = abi::kMaxMessageRegisters; i < len; ++i) b->mr[i] = m.mr[i];
}

// Fills m in place from a receive's results (no temporary: a Message is 36
// words, and IPC is on every server's hot path).
[[gnu::always_inline]] inline void take_message(const SyscallResult& r, Message& m) {
  const abi::IpcResult in = r.as<abi::IpcResult>();
  m.label = abi::info_label(in.info);
  m.length = abi::info_length(in.info) < abi::kMaxMessageWords ? abi::info_length(in.info) : abi::kMaxMessageWords;
  for (uint64_t i = 0; i < abi::kMaxMessageRegisters; ++i) m.mr[i] = in.mr[i];
  m.badge = in.badge;
  m.caps = abi::info_caps(in.info);
  if (m.length > abi::kMaxMessageRegisters) take_long_words(m);
}

[[gnu::always_inline]] inline SyscallResult ipc(abi::Syscall s, uint64_t slot, const Message& m,
                                                uint64_t reply_slot = 0) {
  uint64_t len = m.length < abi::kMaxMessageWords ? m.length : abi::kMaxMessageWords;
  if (len > abi::kMaxMessageRegisters) put_long_words(m, len);  // (only then: reading TPIDR_EL0 is an asm statement)
  return syscall(sysno(s), abi::syscall_registers(abi::IpcArgs{.cap = slot,
                                                               .info = abi::message_info(m.label, len, m.caps),
                                                               .mr = {m.mr[0], m.mr[1], m.mr[2], m.mr[3]},
                                                               .reply = reply_slot}));
}

// What the kernel tells init (only init has this page).
inline const abi::InitBootInfo* init_boot_info() {
  return reinterpret_cast<const abi::InitBootInfo*>(abi::kInitBootInfoVa);
}

// An endpoint capability in the caller's CNode.
class Endpoint {
 public:
  explicit constexpr Endpoint(uint64_t slot) : slot_(slot) {}
  uint64_t slot() const { return slot_; }
  abi::Error send(const Message& m) const { return ipc(abi::Syscall::kSend, slot_, m).error; }
  abi::Error nb_send(const Message& m) const { return ipc(abi::Syscall::kNBSend, slot_, m).error; }
  // Sends m and waits for the reply, which replaces m.
  [[gnu::always_inline]] abi::Error call(Message& m) const {
    SyscallResult r = ipc(abi::Syscall::kCall, slot_, m);
    if (r.error == abi::Error::kOk) take_message(r, m);
    return r.error;
  }
  // reply_slot: a Reply object that takes the caller's reply right (0: implicit).
  abi::Error recv(Message& out, uint64_t reply_slot = 0) const {
    SyscallResult r =
        syscall(sysno(abi::Syscall::kRecv), abi::syscall_registers(abi::IpcArgs{.cap = slot_, .reply = reply_slot}));
    if (r.error == abi::Error::kOk) take_message(r, out);
    return r.error;
  }
  // Replies to the last caller with `reply`, then waits for the next message.
  [[gnu::always_inline]] abi::Error reply_recv(const Message& reply, Message& out, uint64_t reply_slot = 0) const {
    SyscallResult r = ipc(abi::Syscall::kReplyRecv, slot_, reply, reply_slot);
    if (r.error == abi::Error::kOk) take_message(r, out);
    return r.error;
  }

 private:
  uint64_t slot_;
};

// A server loop: every message on ep answered by answer(m, &out) and
// replied with ReplyRecv (a failed receive is retried: nothing a client
// does makes Recv fail). For servers that answer each call at once.
template <class F>
[[noreturn]] void serve(const Endpoint& ep, F answer) {
  Message m, out;
  abi::Error e = ep.recv(m);
  for (;;) {
    if (e != abi::Error::kOk) {
      e = ep.recv(m);
      continue;
    }
    answer(m, &out);
    e = ep.reply_recv(out, m);
  }
}

// ---- IPC in registers --------------------------------------------------
//
// Up to four words and no capability: the message stays in x1..x5 across
// the SVC (abi::IpcArgs in, abi::IpcResult out) and never touches memory —
// no Message, no IPC buffer. The cheapest IPC there is; what a hot path
// (and the benchmark's register row) uses.
struct RegMessage {
  uint64_t info = 0;  // abi::message_info(label, words <= 4)
  uint64_t mr[abi::kMaxMessageRegisters] = {};
  uint64_t badge = 0;  // on receipt
};

// Syscall `s` with m in the message registers; m takes what comes back.
inline abi::Error ipc_registers(abi::Syscall s, uint64_t slot, RegMessage& m, uint64_t reply_slot = 0) {
  register uint64_t x0 asm("x0") = slot;
  register uint64_t x1 asm("x1") = m.info;
  register uint64_t x2 asm("x2") = m.mr[0];
  register uint64_t x3 asm("x3") = m.mr[1];
  register uint64_t x4 asm("x4") = m.mr[2];
  register uint64_t x5 asm("x5") = m.mr[3];
  register uint64_t x6 asm("x6") = reply_slot;
  register uint64_t x8 asm("x8") = sysno(s);
  asm volatile("svc #0"
               : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6)
               : "r"(x8)
               : KEEL_SVC_CLOBBERS);
  m.info = x1;
  m.mr[0] = x2;
  m.mr[1] = x3;
  m.mr[2] = x4;
  m.mr[3] = x5;
  m.badge = x6;
  return static_cast<abi::Error>(x0);
}
inline abi::Error call_registers(uint64_t endpoint, RegMessage& m) {
  return ipc_registers(abi::Syscall::kCall, endpoint, m);
}

// Answers the caller held in a Reply object (see Endpoint::recv).
inline abi::Error reply(uint64_t reply_slot, const Message& m) {
  return ipc(abi::Syscall::kReply, reply_slot, m).error;
}

// ---- object invocations --------------------------------------------------

// Invokes method M (its argument struct, abi.h) on the capability in slot.
template <class M>
inline abi::Error invoke(uint64_t slot, const M& args) {
  return syscall(sysno(abi::Syscall::kInvoke), abi::invocation(slot, args)).error;
}

// Copy, mint and move take the source from another CNode when source_cnode
// names one (a CNode capability in the caller's root CNode; 0: this one).
class CNode {
 public:
  explicit constexpr CNode(uint64_t slot) : slot_(slot) {}
  abi::Error copy(uint64_t dst, uint64_t src, uint8_t rights, uint64_t source_cnode = 0) const {
    return invoke(slot_, abi::CNodeCopy{.dest = dst, .source = src, .rights = rights, .source_cnode = source_cnode});
  }
  abi::Error mint(uint64_t dst, uint64_t src, uint8_t rights, uint64_t badge, uint64_t source_cnode = 0) const {
    return invoke(
        slot_,
        abi::CNodeMint{.dest = dst, .source = src, .rights = rights, .badge = badge, .source_cnode = source_cnode});
  }
  abi::Error move(uint64_t dst, uint64_t src, uint64_t source_cnode = 0) const {
    return invoke(slot_, abi::CNodeMove{.dest = dst, .source = src, .source_cnode = source_cnode});
  }
  abi::Error remove(uint64_t slot) const { return invoke(slot_, abi::CNodeDelete{.slot = slot}); }
  abi::Error revoke(uint64_t slot) const { return invoke(slot_, abi::CNodeRevoke{.slot = slot}); }

 private:
  uint64_t slot_;
};

class Untyped {
 public:
  explicit constexpr Untyped(uint64_t slot) : slot_(slot) {}
  // Makes `count` objects into the caller's CNode slots [dest, dest+count).
  abi::Error retype(abi::ObjectType type, unsigned size_bits, uint64_t dest, uint64_t count = 1) const {
    return invoke(
        slot_,
        abi::UntypedRetype{.type = static_cast<uint64_t>(type), .size_bits = size_bits, .dest = dest, .count = count});
  }

 private:
  uint64_t slot_;
};

class ThreadCap {
 public:
  explicit constexpr ThreadCap(uint64_t slot) : slot_(slot) {}
  // fault_endpoint: a slot in the thread's CNode; 0 = faults stop the thread.
  abi::Error configure(uint64_t cnode, uint64_t address_space, unsigned priority, uint64_t fault_endpoint = 0) const {
    return invoke(
        slot_,
        abi::ThreadConfigure{
            .cnode = cnode, .address_space = address_space, .priority = priority, .fault_endpoint = fault_endpoint});
  }
  abi::Error start(uint64_t pc, uint64_t sp, uint64_t arg) const {
    return invoke(slot_, abi::ThreadStart{.pc = pc, .sp = sp, .arg = arg});
  }
  abi::Error suspend() const { return invoke(slot_, abi::ThreadSuspend{}); }
  abi::Error set_ipc_buffer(uint64_t va) const { return invoke(slot_, abi::ThreadSetIpcBuffer{.va = va}); }
  abi::Error set_affinity(uint64_t cpu) const { return invoke(slot_, abi::ThreadSetAffinity{.cpu = cpu}); }

 private:
  uint64_t slot_;
};

class IrqControl {
 public:
  explicit constexpr IrqControl(uint64_t slot) : slot_(slot) {}
  // An IrqHandler for SPI `intid` into the caller's slot `dest`.
  abi::Error get(uint64_t intid, uint64_t dest) const {
    return invoke(slot_, abi::IrqControlGet{.intid = intid, .dest = dest});
  }

 private:
  uint64_t slot_;
};

// Authority over DMA streams (init's init_slot::kIoControl).
class IoControl {
 public:
  explicit constexpr IoControl(uint64_t slot) : slot_(slot) {}
  // The IoSpace at io_space becomes stream `stream`'s DMA address space.
  abi::Error bind(uint64_t io_space, uint64_t stream, uint64_t label) const {
    return invoke(slot_, abi::IoControlBind{.io_space = io_space, .stream = stream, .label = label});
  }

 private:
  uint64_t slot_;
};

// A device's DMA address space: frames and page tables map into it with
// FrameCap::map / PageTableCap::map, the IO virtual address as va.
class IoSpace {
 public:
  explicit constexpr IoSpace(uint64_t slot) : slot_(slot) {}
  abi::Error faults(uint64_t* count, uint64_t* last_iova) const {
    SyscallResult r = syscall(sysno(abi::Syscall::kInvoke), abi::invocation(slot_, abi::IoSpaceFaults{}));
    if (r.error == abi::Error::kOk) {
      *count = r.as<abi::IoSpaceFaultsResult>().count;
      *last_iova = r.as<abi::IoSpaceFaultsResult>().last_iova;
    }
    return r.error;
  }

 private:
  uint64_t slot_;
};

class IrqHandler {
 public:
  explicit constexpr IrqHandler(uint64_t slot) : slot_(slot) {}
  abi::Error set_notification(uint64_t notification) const {
    return invoke(slot_, abi::IrqHandlerSetNotification{.notification = notification});
  }
  abi::Error ack() const { return invoke(slot_, abi::IrqHandlerAck{}); }
  // The user timer's handler: signal at virtual count `deadline` (time.h
  // counter()), on the calling CPU.
  abi::Error set_deadline(uint64_t deadline) const {
    return invoke(slot_, abi::IrqHandlerSetDeadline{.deadline = deadline});
  }

 private:
  uint64_t slot_;
};

class KernelLog {
 public:
  explicit constexpr KernelLog(uint64_t slot) : slot_(slot) {}
  abi::Error bind(uint64_t notification) const {
    return invoke(slot_, abi::KernelLogBind{.notification = notification});
  }
  // Copies up to `size` bytes of the log to `buffer`; *bytes = how many (0: empty).
  abi::Error read(void* buffer, uint64_t size, uint64_t* bytes) const {
    SyscallResult r =
        syscall(sysno(abi::Syscall::kInvoke),
                abi::invocation(slot_, abi::KernelLogRead{.buffer = reinterpret_cast<uint64_t>(buffer), .size = size}));
    *bytes = r.error == abi::Error::kOk ? r.as<abi::KernelLogReadResult>().bytes : 0;
    return r.error;
  }

 private:
  uint64_t slot_;
};

// A notification capability: Signal ORs its badge (1 if unbadged) into the
// word; Wait/Poll return the word and clear it.
class Notification {
 public:
  explicit constexpr Notification(uint64_t slot) : slot_(slot) {}
  abi::Error signal() const { return call(abi::Syscall::kSignal, nullptr); }
  abi::Error wait(uint64_t* word) const { return call(abi::Syscall::kWait, word); }
  abi::Error poll(uint64_t* word) const { return call(abi::Syscall::kPoll, word); }

 private:
  abi::Error call(abi::Syscall s, uint64_t* word) const {
    SyscallResult r = syscall(sysno(s), abi::syscall_registers(abi::NotificationArgs{.cap = slot_}));
    if (word != nullptr) *word = r.as<abi::NotificationResult>().word;
    return r.error;
  }
  uint64_t slot_;
};

class PageTableCap {
 public:
  explicit constexpr PageTableCap(uint64_t slot) : slot_(slot) {}
  // Installs this table as the level-`level` table (1..3) covering va.
  abi::Error map(uint64_t address_space, uint64_t va, unsigned level) const {
    return invoke(slot_, abi::PageTableMap{.address_space = address_space, .va = va, .level = level});
  }

 private:
  uint64_t slot_;
};

class FrameCap {
 public:
  explicit constexpr FrameCap(uint64_t slot) : slot_(slot) {}
  // Maps the frame at va (user-readable; flags: abi::kMapWrite,
  // abi::kMapExecute, abi::kMapUncached).
  abi::Error map(uint64_t address_space, uint64_t va, uint64_t flags) const {
    return invoke(slot_, abi::FrameMap{.address_space = address_space, .va = va, .flags = flags});
  }
  // The frame's physical address (for a DMA device).
  abi::Error address(uint64_t* pa) const {
    SyscallResult r = syscall(sysno(abi::Syscall::kInvoke), abi::invocation(slot_, abi::FrameAddress{}));
    if (r.error == abi::Error::kOk) *pa = r.as<abi::FrameAddressResult>().pa;
    return r.error;
  }

 private:
  uint64_t slot_;
};

// The kernel's console, through the KernelLog capability in slot
// debug_log_slot() (init's by default; set_debug_log names another).
uint64_t debug_log_slot();
void set_debug_log(uint64_t kernel_log_slot);
inline abi::Error debug_write(const char* s, size_t n) {
  return syscall(abi::kSyscallDebugWrite,
                 abi::syscall_registers(abi::DebugWriteArgs{
                     .buffer = reinterpret_cast<uint64_t>(s), .length = n, .log = debug_log_slot()}))
      .error;
}

inline abi::Error yield() { return syscall(static_cast<uint64_t>(abi::Syscall::kYield)).error; }

// Ends the calling thread with `code`, as returning it from main does: its
// fault endpoint (a task's pager) hears of it, and for a task's first
// thread that ends the task (init: a nonzero code of a driver is a failure
// it restarts, `restart = on-fault`).
[[noreturn]] inline void exit(int code) {
  for (;;) (void)syscall(sysno(abi::Syscall::kExit), static_cast<uint64_t>(static_cast<int64_t>(code)));
}

// printf-style output (libsys/src/print.cc): through the console server
// once set_console names an endpoint to it, through debug_write before. A
// call writes whole lines in one request, so its lines do not interleave
// with other clients'. A task's threads take turns writing (once
// enable_print_turns has made the lock, which start_thread does), so a
// task never has more writes waiting than the server holds for it, and no
// line is refused or lost; each thread's lines stay in order.
void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void set_console(uint64_t endpoint_slot);
// Makes the notification that lets a task's writers take turns, at
// notification_slot (an empty slot) from `untyped`; from then on print
// serializes console writes. start_thread calls it for tasks (slot
// task_slot::kPrintTurns). Idempotent.
abi::Error enable_print_turns(uint64_t untyped, uint64_t notification_slot);

}  // namespace keel::sys
