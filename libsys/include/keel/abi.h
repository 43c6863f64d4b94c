// abi.h — keel's system-call ABI: the one definition kernel and user space share.
//
// Explained in docs/objects.md; the servers' protocols build on it
// (keel/proto/, docs/servers.md).
//
// Register use (SVC #0):  x8 = syscall number; x0..x6 = arguments;
// on return x0 = Error (0 = ok), x1..x6 = results. Short IPC messages travel
// in x2..x5 (message registers), longer ones in the IPC buffer page.
//
// The register contract of a syscall (like a function call's, AAPCS64):
//   preserved:  x8 (the number), x19..x29, x30 (LR), SP, TPIDR_EL0, the
//               FP/SIMD registers;
//   results:    x0..x6 — x0 the Error; of x1..x6, those the syscall's result
//               struct does not name hold what the caller passed, or zero;
//   clobbered:  x7, x9..x18 — always zero on return (the flags come back
//               as they were, from SPSR):
//               a thread never sees another thread's or the kernel's values
//               there. The kernel does not save them (the entry saves only
//               what this contract keeps); KEEL_SVC_CLOBBERS is the
//               compiler's view for an `svc` asm statement.
// Interrupts and faults arrive unasked: they preserve every register.
#pragma once

// The clobber list of an `svc #0` asm statement with x0..x6 as operands
// and x8 an input (keel/sys.h).
#define KEEL_SVC_CLOBBERS "x7", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "cc", "memory"

#include <stdint.h>

namespace keel::abi {

// Errors returned in x0. Stable numbers: user space switches on them.
enum class Error : uint64_t {
  kOk = 0,
  kInvalidCapability = 1,   // slot empty, or the capability is of the wrong type
  kInvalidSlot = 2,         // slot index outside the CNode
  kSlotOccupied = 3,        // destination slot is not empty
  kInsufficientRights = 4,  // the capability lacks a right the operation needs
  kInvalidArgument = 5,     // a value outside its documented domain
  kNotEnoughMemory = 6,     // the untyped region has no room for the objects
  kRevokeFirst = 7,         // the operation needs the capability to have no children
  kInvalidAddress = 8,      // a user pointer is unmapped, misaligned or in kernel space
  kUnknownSyscall = 9,
  kObjectDestroyed = 10,  // the object went away while the caller waited on it
  kWouldBlock = 11,       // a non-blocking operation found no partner
  kNoPageTable = 12,      // mapping needs a page table that is not there yet
};

// Kernel object types, as named in capabilities and retype requests.
enum class ObjectType : uint8_t {
  kNull = 0,
  kUntyped = 1,
  kCNode = 2,
  kThread = 3,
  kEndpoint = 4,
  kNotification = 5,
  kAddressSpace = 6,
  kPageTable = 7,
  kFrame4K = 8,
  kFrame2M = 9,
  kIrqControl = 10,
  kIrqHandler = 11,
  kReply = 12,
  kKernelLog = 13,  // the kernel's console output, once a user-space console takes it over
  kIoControl = 14,  // authority over every DMA stream (like kIrqControl): binds IoSpaces to stream IDs
  kIoSpace = 15,    // a device's DMA address space: a root table (4 KiB) the IOMMU walks for its stream
  kCount,
};

// Capability rights (a subset may be minted; never a superset).
enum Rights : uint8_t {
  kRightRead = 1 << 0,   // receive / map readable
  kRightWrite = 1 << 1,  // send / map writable
  kRightGrant = 1 << 2,  // transfer capabilities along with a message
  kRightsAll = kRightRead | kRightWrite | kRightGrant,
};

// Syscall numbers (x8).
enum class Syscall : uint64_t {
  kCall = 1,
  kSend = 2,
  kNBSend = 3,
  kRecv = 4,
  kReplyRecv = 5,
  kSignal = 6,
  kWait = 7,
  kPoll = 8,
  kYield = 9,
  kInvoke = 10,  // an object method on a capability (InvokeArgs, then the method's struct)
  kExit = 11,    // the calling thread stops for good (ExitArgs; crt0 calls it when main returns)
  kReply = 12,   // answers the caller a Reply object holds (IpcArgs, cap = the Reply object)
};

constexpr const char* error_name(Error e) {
  switch (e) {
    case Error::kOk: return "ok";
    case Error::kInvalidCapability: return "invalid capability";
    case Error::kInvalidSlot: return "invalid slot";
    case Error::kSlotOccupied: return "slot occupied";
    case Error::kInsufficientRights: return "insufficient rights";
    case Error::kInvalidArgument: return "invalid argument";
    case Error::kNotEnoughMemory: return "not enough memory";
    case Error::kRevokeFirst: return "revoke first";
    case Error::kInvalidAddress: return "invalid address";
    case Error::kUnknownSyscall: return "unknown syscall";
    case Error::kObjectDestroyed: return "object destroyed";
    case Error::kWouldBlock: return "would block";
    case Error::kNoPageTable: return "no page table";
  }
  return "unknown error";
}

}  // namespace keel::abi

namespace keel::abi {

// Debug console syscall (x8 = kDebugWrite; DebugWriteArgs): a user buffer,
// its length (at most kDebugWriteMax), and the slot of a KernelLog capability with the
// write right (init's kKernelLog; the UART server's): writing the kernel's
// console is an authority like any other, so no task can flood the log or
// print lines that look like the kernel's, init's or a test verdict. The
// kernel's console: the UART before the hand-over (KernelLogBind), the
// kernel log that the UART server forwards after it. Programs with a
// console endpoint print through the UART server.
constexpr uint64_t kSyscallDebugWrite = 100;
constexpr uint64_t kDebugWriteMax = 4096;

// The address-space layout the kernel gives init.
constexpr uint64_t kUserStackTop = 0x0000'7fff'ffff'0000ull;  // initial SP, 16-byte aligned
constexpr uint64_t kUserStackSize = 64 * 1024;
constexpr uint64_t kIpcBufferVa = 0x0000'7fff'ffff'e000ull;  // one page, the thread's IPC buffer
constexpr uint64_t kUserLimit = 0x0000'8000'0000'0000ull;    // first address user space may not use

}  // namespace keel::abi

namespace keel::abi {

// Slots of init's root CNode (2^kInitCNodeBits slots) that the kernel fills.
constexpr unsigned kInitCNodeBits = 10;
// IrqControlGet's intid for the user timer: the EL1 virtual timer (its
// PPI is the DTB's; the kernel's own tick is the physical timer), as
// kTimerChannels channels; SetDeadline arms one.
constexpr uint64_t kTimerIntid = 0x10000;
// Its channels: kTimerIntid + 0 .. kTimerChannels - 1, each one holder and
// one deadline (the network stack has one, init another).
constexpr uint64_t kTimerChannels = 4;
namespace init_slot {
constexpr uint64_t kCNode = 1;            // the root CNode itself
constexpr uint64_t kThread = 2;           // init's thread
constexpr uint64_t kAddressSpace = 3;     // init's address space (root table)
constexpr uint64_t kIrqControl = 4;       // authority over every device interrupt
constexpr uint64_t kKernelLog = 5;        // the kernel's console output (Method::kKernelLogBind)
constexpr uint64_t kIoControl = 6;        // authority over DMA streams (Method::kIoControlBind)
constexpr uint64_t kFirstPageTable = 8;   // page tables of init's address space ...
constexpr uint64_t kFirstFrame = 32;      // frames: init's image, stack, IPC buffer ...
constexpr uint64_t kFirstUntyped = 128;   // untyped memory, the largest region first, ... (at most kMaxBootUntyped)
constexpr uint64_t kMaxBootUntyped = 64;  // (InitBootInfo::untyped): slots from 192 on are init's
constexpr uint64_t kFirstFree = kFirstUntyped + kMaxBootUntyped;  // 192: the first slot the kernel never fills
}  // namespace init_slot

}  // namespace keel::abi

namespace keel::abi {

// IPC: the registers are IpcArgs in, IpcResult out (below). Recv and
// ReplyRecv may name a Reply object (IpcArgs::reply; 0: the receiver's
// implicit reply): ReplyRecv then answers the caller that object holds, and
// the next caller's reply right goes into it; Reply answers it later.
// MessageInfo: bits [9:4] = message words (MRs) used, 0..kMaxMessageWords;
// bit 3 = a capability travels; bits [63:12] = label. MR0..MR3 travel in
// x2..x5, MR4 and up in the IPC buffers (sender's mr[4..] to receiver's
// mr[4..]); if the kernel cannot use both buffers, the receiver's length
// says only the register part arrived.
constexpr uint64_t kMaxMessageRegisters = 4;
constexpr uint64_t kMaxMessageWords = 32;
// Bit 3, one capability: the sender's IPC buffer names it in send_cap (and
// the endpoint capability needs the grant right); it arrives in the
// receiver's receive_slot, and the receiver's bit 3 says whether it did.
constexpr uint64_t message_info(uint64_t label, uint64_t length, uint64_t caps = 0) {
  return (label << 12) | ((length & 0x3f) << 4) | ((caps & 1) << 3);
}
constexpr uint64_t info_length(uint64_t info) { return (info >> 4) & 0x3f; }
constexpr uint64_t info_caps(uint64_t info) { return (info >> 3) & 1; }
constexpr uint64_t info_label(uint64_t info) { return info >> 12; }

// The IPC buffer: one page per thread (ThreadSetIpcBuffer; init's is at
// kIpcBufferVa). The kernel reads and writes it with checked copies only.
struct IpcBuffer {
  uint64_t send_cap;              // slot (in the sender's CNode) of the capability to send
  uint64_t receive_slot;          // slot (in the receiver's CNode) for a received capability; 0 refuses
  uint64_t mr[kMaxMessageWords];  // message words; [0..3] unused (they travel in registers)
};
constexpr uint64_t kIpcBufferMrOffset = 16;  // offsetof(IpcBuffer, mr)

// Object invocations (Syscall::kInvoke): x0 = capability slot, x1 = method,
// x2.. = the method's argument struct (below, under the same name).
enum class Method : uint64_t {
  kCNodeCopy = 1,  // a copy with a subset of the rights
  kCNodeMint = 2,  // the same with a badge
  kCNodeMove = 3,
  kCNodeDelete = 4,  // an untyped with children needs Revoke first
  kCNodeRevoke = 5,  // deletes every capability derived from it
  kUntypedRetype = 16,
  kThreadConfigure = 32,  // its CNode, address space, priority and fault endpoint (inactive only)
  kThreadStart = 33,
  kThreadSuspend = 34,
  kThreadSetIpcBuffer = 35,
  kThreadSetAffinity = 36,  // the CPU whose run queue it uses
  kPageTableMap = 48,       // installs the table at `level` covering va (once, and only while empty)
  kFrameMap = 49,
  // The physical address of a frame the caller holds (any rights): what a
  // driver programs into a DMA device. No capability, no answer.
  kFrameAddress = 50,
  kIrqControlGet = 64,  // an IrqHandler for an SPI (32..1019), or the user timer (kTimerIntid)
  // The notification is signalled (with its badge) when the interrupt
  // fires; the interrupt stays masked until Ack.
  kIrqHandlerSetNotification = 65,
  kIrqHandlerAck = 66,
  // The user timer's handler only (kTimerIntid): signal its notification
  // when the virtual counter (CNTVCT_EL0, which EL0 reads) reaches
  // `deadline`, once. Armed on the calling CPU (pin the thread that uses
  // it: `cpu =`); a new deadline replaces the old on that CPU.
  kIrqHandlerSetDeadline = 67,
  // From Bind on, the kernel no longer writes the UART (except to report a
  // panic): its messages and DebugWrite output go to a log ring, and the
  // notification is signalled (with its badge) when there is something to
  // read. If the ring overflowed, the reader first gets a line saying how
  // much was lost.
  kKernelLogBind = 80,
  kKernelLogRead = 81,
  // Makes an unbound IoSpace the DMA address space of one stream ID (each
  // stream once; the IoSpace once). From then on the device's requests are
  // translated through the IoSpace's tables; until then, and after the
  // IoSpace is destroyed, the stream's every DMA is aborted and reported.
  // kInvalidArgument without an IOMMU, for a stream beyond its table, or
  // one bound already. `label` names the owner in the kernel's reports.
  kIoControlBind = 96,
  // The IOMMU events recorded for the IoSpace's stream since it was bound,
  // and the last faulting IO virtual address.
  kIoSpaceFaults = 97,
};

// ---- Arguments as types ------------------------------------------------------
//
// Each method's arguments are one struct whose uint64_t fields, in order,
// are x2, x3, ... (x0 = the capability, x1 = the method); each syscall's are
// one struct from x0. Results follow x0 (the Error) from x1. These are the
// only definitions of the register layout: the kernel decodes with them,
// libsys packs with them, the fuzzers draw arguments by them. A field is the
// raw register value: the kernel checks every one (rights > 0xff, say).

constexpr unsigned kArgumentRegisters = 7;  // x0..x6
constexpr unsigned kFirstMethodArgument = 2;

// CNode (the invoked capability is the CNode; slots are indices into it).
// Copy, Mint and Move take the source slot from another CNode if
// source_cnode names one (a CNode capability in the caller's root CNode;
// 0 = the same CNode): that is how a parent fills a child's CNode.
struct CNodeCopy {
  static constexpr Method kMethod = Method::kCNodeCopy;
  uint64_t dest, source, rights, source_cnode;
};
struct CNodeMint {
  static constexpr Method kMethod = Method::kCNodeMint;
  uint64_t dest, source, rights, badge, source_cnode;
};
struct CNodeMove {
  static constexpr Method kMethod = Method::kCNodeMove;
  uint64_t dest, source, source_cnode;
};
struct CNodeDelete {
  static constexpr Method kMethod = Method::kCNodeDelete;
  uint64_t slot;
};
struct CNodeRevoke {
  static constexpr Method kMethod = Method::kCNodeRevoke;
  uint64_t slot;
};
// `count` objects of 2^size_bits (where the type has a variable size) into
// the caller's root CNode slots [dest, dest + count). At most 64, and at
// most 2 MiB of objects other than untyped per call (the kernel zeroes
// them, and holds its lock meanwhile).
struct UntypedRetype {
  static constexpr Method kMethod = Method::kUntypedRetype;
  uint64_t type, size_bits, dest, count;
};
// cnode, address_space: slots in the caller's CNode; fault_endpoint: a slot
// in the thread's own CNode (0: faults stop the thread).
struct ThreadConfigure {
  static constexpr Method kMethod = Method::kThreadConfigure;
  uint64_t cnode, address_space, priority, fault_endpoint;
};
struct ThreadStart {
  static constexpr Method kMethod = Method::kThreadStart;
  uint64_t pc, sp, arg;  // arg: its x0
};
struct ThreadSuspend {
  static constexpr Method kMethod = Method::kThreadSuspend;
};
struct ThreadSetIpcBuffer {
  static constexpr Method kMethod = Method::kThreadSetIpcBuffer;
  uint64_t va;  // page aligned, user space
};
struct ThreadSetAffinity {
  static constexpr Method kMethod = Method::kThreadSetAffinity;
  uint64_t cpu;  // 0 .. cpus_online - 1
};
// address_space: an AddressSpace, or an IoSpace (the device's view: a
// frame of RAM only, never device memory; kMapExecute refused; the IO
// virtual address is va).
struct PageTableMap {
  static constexpr Method kMethod = Method::kPageTableMap;
  uint64_t address_space, va, level;  // level 1..3
};
struct FrameMap {
  static constexpr Method kMethod = Method::kFrameMap;
  uint64_t address_space, va, flags;  // MapFlags
};
struct FrameAddress {
  static constexpr Method kMethod = Method::kFrameAddress;
};
struct FrameAddressResult {
  uint64_t pa;
};
struct IrqControlGet {
  static constexpr Method kMethod = Method::kIrqControlGet;
  uint64_t intid, dest;
};
struct IoControlBind {
  static constexpr Method kMethod = Method::kIoControlBind;
  uint64_t io_space, stream, label;
};
struct IoSpaceFaults {
  static constexpr Method kMethod = Method::kIoSpaceFaults;
};
struct IoSpaceFaultsResult {
  uint64_t count, last_iova;
};
struct IrqHandlerSetNotification {
  static constexpr Method kMethod = Method::kIrqHandlerSetNotification;
  uint64_t notification;
};
struct IrqHandlerAck {
  static constexpr Method kMethod = Method::kIrqHandlerAck;
};
struct IrqHandlerSetDeadline {
  static constexpr Method kMethod = Method::kIrqHandlerSetDeadline;
  uint64_t deadline;  // a CNTVCT_EL0 value
};
struct KernelLogBind {
  static constexpr Method kMethod = Method::kKernelLogBind;
  uint64_t notification;
};
struct KernelLogRead {
  static constexpr Method kMethod = Method::kKernelLogRead;
  uint64_t buffer, size;
};
struct KernelLogReadResult {
  uint64_t bytes;  // copied (0: the log is empty)
};

// Syscalls (from x0).
struct InvokeArgs {
  uint64_t cap, method;  // then the method's struct from x2
};
// Send, NBSend, Call, Recv, ReplyRecv, Reply. cap: the endpoint (Reply: the
// Reply object); reply: Recv/ReplyRecv's Reply object slot (0: implicit).
struct IpcArgs {
  uint64_t cap, info, mr[kMaxMessageRegisters], reply;
};
// What Recv, Call and ReplyRecv return (after x0).
struct IpcResult {
  uint64_t info, mr[kMaxMessageRegisters], badge;
};
struct NotificationArgs {  // Signal, Wait, Poll
  uint64_t cap;
};
struct NotificationResult {  // Wait, Poll
  uint64_t word;
};
struct ExitArgs {
  uint64_t code;
};
struct DebugWriteArgs {
  uint64_t buffer, length, log;
};

// Words an argument struct occupies (an empty one: none).
template <class A>
constexpr unsigned kWords = __is_empty(A) ? 0 : sizeof(A) / 8;

template <unsigned N>
struct Words {
  uint64_t w[N > 0 ? N : 1];
};

template <class A>
constexpr A from_words(const uint64_t* w) {
  if constexpr (kWords<A> == 0) {
    return A{};
  } else {
    static_assert(sizeof(A) == 8 * kWords<A>, "argument structs hold uint64_t fields only");
    Words<kWords<A>> ws{};
    for (unsigned i = 0; i < kWords<A>; ++i) ws.w[i] = w[i];
    return __builtin_bit_cast(A, ws);
  }
}

template <class A>
constexpr void to_words(const A& a, uint64_t* w) {
  if constexpr (kWords<A> != 0) {
    auto ws = __builtin_bit_cast(Words<kWords<A>>, a);
    for (unsigned i = 0; i < kWords<A>; ++i) w[i] = ws.w[i];
  }
}

// The argument registers of one SVC (x0..x6), as libsys loads them.
struct Registers {
  uint64_t x[kArgumentRegisters];
};

// One invocation's registers: x0 = cap, x1 = method, x2.. = args.
template <class M>
constexpr Registers invocation(uint64_t cap, const M& args) {
  static_assert(kWords<M> <= kArgumentRegisters - kFirstMethodArgument, "fits the argument registers");
  Registers r{};
  r.x[0] = cap;
  r.x[1] = static_cast<uint64_t>(M::kMethod);
  to_words(args, &r.x[kFirstMethodArgument]);
  return r;
}

// One syscall's registers: the struct from x0.
template <class A>
constexpr Registers syscall_registers(const A& args) {
  static_assert(kWords<A> <= kArgumentRegisters, "fits the argument registers");
  Registers r{};
  to_words(args, r.x);
  return r;
}

// A thread's syscall registers x0..x6 as the kernel sees them (its saved
// frame) — named reads of arguments, named writes of results.
class SyscallView {
 public:
  explicit constexpr SyscallView(uint64_t* x) : x_(x) {}
  template <class A>
  constexpr A args() const {
    return from_words<A>(x_);
  }
  template <class M>
  constexpr M method_args() const {
    return from_words<M>(x_ + kFirstMethodArgument);
  }
  constexpr uint64_t cap() const { return x_[0]; }  // every call's first argument
  constexpr Error error() const { return static_cast<Error>(x_[0]); }
  constexpr void set_error(Error e) { x_[0] = static_cast<uint64_t>(e); }
  template <class R>
  constexpr void set_result(Error e, const R& r) {
    set_error(e);
    to_words(r, x_ + 1);
  }
  template <class R>
  constexpr R result() const {
    return from_words<R>(x_ + 1);
  }

 private:
  uint64_t* x_;
};

template <class... T>
struct TypeList {};

// Every method's argument struct: adding a method here covers it in
// kAllMethods and the fuzzers.
using AllMethods =
    TypeList<CNodeCopy, CNodeMint, CNodeMove, CNodeDelete, CNodeRevoke, UntypedRetype, ThreadConfigure, ThreadStart,
             ThreadSuspend, ThreadSetIpcBuffer, ThreadSetAffinity, PageTableMap, FrameMap, FrameAddress, IrqControlGet,
             IrqHandlerSetNotification, IrqHandlerAck, IrqHandlerSetDeadline, KernelLogBind, KernelLogRead>;

template <class... M>
struct MethodTable {
  Method m[sizeof...(M)];
};
template <class... M>
constexpr MethodTable<M...> method_table(TypeList<M...>) {
  return {{M::kMethod...}};
}

// Every syscall and every method, for tools that must cover all of them.
constexpr Syscall kAllSyscalls[] = {Syscall::kCall,      Syscall::kSend,   Syscall::kNBSend, Syscall::kRecv,
                                    Syscall::kReplyRecv, Syscall::kSignal, Syscall::kWait,   Syscall::kPoll,
                                    Syscall::kYield,     Syscall::kInvoke, Syscall::kExit,   Syscall::kReply};
inline constexpr auto kMethodTable = method_table(AllMethods{});
inline constexpr const auto& kAllMethods = kMethodTable.m;

// Frame mapping flags (readable is implied; writing needs the write right
// on the frame capability). kMapUncached: Normal non-cacheable instead of
// write-back, for memory a device that is not cache-coherent reads or
// writes (the kernel cleans and invalidates the frame's lines to the point
// of coherency first, so no stale line of its earlier life is visible
// through it); ignored for device frames, which are Device memory anyway.
enum MapFlags : uint64_t { kMapWrite = 1, kMapExecute = 2, kMapUncached = 4 };
constexpr uint64_t kMapFlagsAll = kMapWrite | kMapExecute | kMapUncached;

constexpr unsigned kMaxPriority = 255;

// The most CPUs keel runs (the one definition: the kernel's per-CPU arrays,
// run queues and GIC interfaces are sized by it). CPUs beyond it in the DTB
// are reported and left off; InitBootInfo::cpus_online is at most this.
constexpr unsigned kMaxCpus = 8;

// Faults delivered to a thread's fault endpoint (ThreadConfigure::fault_endpoint) arrive
// as a message: label = FaultKind, MR0 = ESR, MR1 = FAR, MR2 = PC, MR3 = SP,
// badge = the fault endpoint capability's badge. The faulting thread waits
// like a caller; the handler's reply resumes it (at the faulting instruction
// for kFaultMemory/kFaultException, after the SVC with x0 = kUnknownSyscall
// for kFaultUnknownSyscall). Without a fault endpoint a fault stops the
// thread and is reported on the console.
//
// Exit is reported the same way: a thread that calls Syscall::kExit with a
// fault endpoint sends kFaultExit (MR0 = its x0, the exit code; MR2 = PC)
// before it stops. A reply to that message resumes it after the SVC, where
// crt0 exits again; handlers should not answer it.
enum FaultKind : uint64_t { kFaultMemory = 1, kFaultUnknownSyscall = 2, kFaultException = 3, kFaultExit = 4 };
// The kernel sets this bit in the badge a fault (or exit) message arrives
// with; no capability can carry it (Mint refuses such badges), so a message
// with it comes from the kernel, never from a thread calling the endpoint.
constexpr uint64_t kFaultBadge = 1ull << 63;

}  // namespace keel::abi

namespace keel::abi {

// What init finds at kInitBootInfoVa (x0 of its _start): the untyped memory
// in its CNode and the boot modules, mapped read-only at `va`.
constexpr uint64_t kInitBootInfoVa = 0x0000'7fff'ffff'd000ull;  // between the stack top and the IPC buffer
constexpr uint64_t kBootModulesVa = 0x0000'1000'0000'0000ull;
constexpr uint64_t kInitBootInfoMagic = 0x4f464e49544f4f42ull;  // "BOOTINFO"

struct BootUntyped {
  uint64_t slot;       // in init's CNode
  uint64_t base;       // physical address
  uint64_t size_bits;  // 2^size_bits bytes
  uint64_t device;     // 1: MMIO (only frames and smaller untyped; frames map as Device memory)
};

struct BootModule {
  char name[24];
  uint64_t va;  // where init sees its bytes (read-only)
  uint64_t size;
};

struct InitBootInfo {
  uint64_t magic;
  uint64_t cpu_count;  // CPUs in the DTB
  uint64_t memory_bytes;
  // The machine's DTB, read-only at dtb_va (dtb_size bytes: its header's
  // totalsize): init finds every device in it (keel/devices.h), the console
  // through /chosen/stdout-path.
  uint64_t dtb_va;
  uint64_t dtb_size;
  uint64_t untyped_count;
  BootUntyped untyped[init_slot::kMaxBootUntyped];
  uint64_t module_count;
  BootModule modules[16];
  uint64_t cpus_online;  // CPUs running the kernel (numbered 0 .. cpus_online - 1)
  char bootargs[128];    // the DTB's /chosen/bootargs (QEMU -append), NUL-terminated
  // /chosen/stdout-path up to its ":options" (the kernel read it; empty:
  // none): init finds `device = stdout` without walking for it first.
  char stdout_path[128];
};
static_assert(sizeof(InitBootInfo) <= 4096, "one page");

}  // namespace keel::abi
