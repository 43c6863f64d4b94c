// Every invocation and syscall decoder, on the host, through the kernel's
// own dispatch: a failed decode changes nothing (all of RAM compared);
// derive, delete and revoke; mapping and unmapping; destroying objects
// that threads are blocked on.
#include <gtest/gtest.h>

#include <new>

#include "keel/abi.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/core/ipc.h"
#include "kernel/object/host_kernel.h"

namespace keel {
namespace {

using abi::Error;
using abi::ObjectType;
using testing::HostKernel;

constexpr uint64_t kEp = HostKernel::kFirstFree, kNtfn = kEp + 1, kThread = kEp + 2, kSpace = kEp + 3, kTable = kEp + 4,
                   kFrame = kEp + 8, kReply = kEp + 9, kCNode2 = kEp + 10, kEmpty = 200,
                   kOutside = 1u << HostKernel::kRootBits;

// A kernel with one object of each kind the invocations need.
class Objects : public ::testing::Test {
 public:
  void SetUp() override { Make(); }
  // A fresh kernel in the same state.
  void Rebuild() {
    k.~HostKernel();
    new (&k) HostKernel();
    Make();
  }
  void Make() {
    ASSERT_EQ(k.retype(ObjectType::kEndpoint, kEp), Error::kOk);
    ASSERT_EQ(k.retype(ObjectType::kNotification, kNtfn), Error::kOk);
    ASSERT_EQ(k.retype(ObjectType::kThread, kThread), Error::kOk);
    ASSERT_EQ(k.retype(ObjectType::kAddressSpace, kSpace), Error::kOk);
    ASSERT_EQ(k.retype(ObjectType::kPageTable, kTable, 3), Error::kOk);
    ASSERT_EQ(k.retype(ObjectType::kFrame4K, kFrame), Error::kOk);
    ASSERT_EQ(k.retype(ObjectType::kReply, kReply), Error::kOk);
    ASSERT_EQ(k.retype(ObjectType::kCNode, kCNode2, 1, 4), Error::kOk);
  }
  HostKernel k;

 protected:
};

// ---- a failed decode changes nothing ----------------------------------------

// Values that are right for some field of some method and wrong for most:
// slots of each kind, empty slots, slots outside the CNode, small and huge
// numbers, user and kernel addresses.
constexpr uint64_t kWords[] = {0,      1,      2,       3,          kEp,        kNtfn, kThread,   kSpace, kTable,
                               kFrame, kReply, kCNode2, kEmpty,     kOutside,   10,    201,       255,    256,
                               0x1000, 0x1008, 0x8000,  1ull << 39, 1ull << 47, ~0ull, 1ull << 63};

// One valid call of each method in the Objects kernel (its target slot and
// arguments): the decode test breaks it one field at a time.
template <class M>
struct Valid {
  uint64_t target;
  M args;
};
Valid<abi::CNodeCopy> valid(abi::CNodeCopy*) { return {1, {.dest = 150, .source = kEp, .rights = 7}}; }
Valid<abi::CNodeMint> valid(abi::CNodeMint*) { return {1, {.dest = 150, .source = kEp, .rights = 7, .badge = 5}}; }
Valid<abi::CNodeMove> valid(abi::CNodeMove*) { return {1, {.dest = 150, .source = kNtfn}}; }
Valid<abi::CNodeDelete> valid(abi::CNodeDelete*) { return {1, {.slot = kReply}}; }
Valid<abi::CNodeRevoke> valid(abi::CNodeRevoke*) { return {1, {.slot = kEp}}; }
Valid<abi::UntypedRetype> valid(abi::UntypedRetype*) {
  return {HostKernel::kSlotUntyped, {.type = static_cast<uint64_t>(ObjectType::kEndpoint), .dest = 150, .count = 2}};
}
Valid<abi::ThreadConfigure> valid(abi::ThreadConfigure*) {
  return {kThread, {.cnode = 1, .address_space = kSpace, .priority = 10, .fault_endpoint = kEp}};
}
Valid<abi::ThreadStart> valid(abi::ThreadStart*) { return {kThread, {.pc = 0x1000, .sp = 0x8000}}; }
Valid<abi::ThreadSuspend> valid(abi::ThreadSuspend*) { return {kThread, {}}; }
Valid<abi::ThreadSetIpcBuffer> valid(abi::ThreadSetIpcBuffer*) { return {kThread, {.va = 0x2000}}; }
Valid<abi::ThreadSetAffinity> valid(abi::ThreadSetAffinity*) { return {kThread, {.cpu = 0}}; }
Valid<abi::PageTableMap> valid(abi::PageTableMap*) {
  return {kTable, {.address_space = kSpace, .va = 1ull << 39, .level = 1}};
}
Valid<abi::FrameMap> valid(abi::FrameMap*) { return {kFrame, {.address_space = kSpace, .va = 0x1000, .flags = 1}}; }
Valid<abi::FrameAddress> valid(abi::FrameAddress*) { return {kFrame, {}}; }
Valid<abi::IrqControlGet> valid(abi::IrqControlGet*) {
  return {HostKernel::kSlotIrqControl, {.intid = 40, .dest = 150}};
}
Valid<abi::IrqHandlerSetNotification> valid(abi::IrqHandlerSetNotification*) {
  return {HostKernel::kSlotIrqControl, {.notification = kNtfn}};
}
Valid<abi::IrqHandlerAck> valid(abi::IrqHandlerAck*) { return {HostKernel::kSlotIrqControl, {}}; }
Valid<abi::IrqHandlerSetDeadline> valid(abi::IrqHandlerSetDeadline*) {
  return {HostKernel::kSlotIrqControl, {.deadline = 1}};
}
Valid<abi::KernelLogBind> valid(abi::KernelLogBind*) { return {HostKernel::kSlotKernelLog, {.notification = kNtfn}}; }
Valid<abi::KernelLogRead> valid(abi::KernelLogRead*) {
  return {HostKernel::kSlotKernelLog, {.buffer = 0x1000, .size = 8}};
}

// Method M from its valid call with one field (or the target) replaced by
// each of kWords, each on a fresh kernel's state: a call that fails must
// not have changed one byte of RAM. Returns the failures seen.
template <class M>
int DecodeErrorsChangeNothing(Objects& fixture) {
  const Valid<M> base = valid(static_cast<M*>(nullptr));
  int errors = 0;
  auto attempt = [&](uint64_t target, const M& args, const char* what) {
    const auto before = fixture.k.snapshot();
    const Error e = fixture.k.invoke(target, args);
    if (e == Error::kOk) return;
    ++errors;
    EXPECT_TRUE(fixture.k.same_as(before))
        << "method " << static_cast<uint64_t>(M::kMethod) << " (" << what << ") failed with " << abi::error_name(e)
        << " but changed PA 0x" << std::hex << fixture.k.first_difference(before);
  };
  for (uint64_t v : kWords) {
    fixture.Rebuild();
    attempt(v, base.args, "target replaced");
    for (unsigned field = 0; field < abi::kWords<M>; ++field) {
      fixture.Rebuild();
      uint64_t w[abi::kArgumentRegisters] = {};
      abi::to_words(base.args, w);
      w[field] = v;
      attempt(base.target, abi::from_words<M>(w), "one field replaced");
    }
  }
  return errors;
}

TEST_F(Objects, EveryMethodsDecodeErrorsChangeNothing) {
  int errors = 0;
  [&]<class... M>(abi::TypeList<M...>) { ((errors += DecodeErrorsChangeNothing<M>(*this)), ...); }(abi::AllMethods{});
  EXPECT_GT(errors, 500) << "the arguments hardly ever failed: the test tests nothing";
}

TEST_F(Objects, UnknownMethodsAndWrongTypesAreRefused) {
  const auto before = k.snapshot();
  EXPECT_EQ(k.syscall(k.caller(), abi::Syscall::kInvoke, abi::Registers{{kEp, 1}}), Error::kInvalidCapability);
  EXPECT_EQ(k.syscall(k.caller(), abi::Syscall::kInvoke, abi::Registers{{HostKernel::kSlotCNode, 999}}),
            Error::kInvalidArgument);
  EXPECT_EQ(k.syscall(k.caller(), abi::Syscall::kInvoke, abi::Registers{{kOutside, 1}}), Error::kInvalidSlot);
  EXPECT_EQ(k.syscall(k.caller(), static_cast<abi::Syscall>(4242), abi::Registers{}), Error::kUnknownSyscall);
  EXPECT_TRUE(k.same_as(before));
}

// ---- CNode: derive, delete, revoke ------------------------------------------

TEST_F(Objects, CopyMintMoveDeleteRevoke) {
  const abi::Error mint = k.invoke(HostKernel::kSlotCNode,
                                   abi::CNodeMint{.dest = 100, .source = kEp, .rights = abi::kRightWrite, .badge = 7});
  ASSERT_EQ(mint, Error::kOk);
  EXPECT_EQ(k.cap(100).badge, 7u);
  EXPECT_EQ(k.cap(100).rights, abi::kRightWrite) << "rights only ever shrink";
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeCopy{.dest = 101, .source = 100, .rights = abi::kRightsAll}),
            Error::kInsufficientRights)
      << "a copy never gains rights";
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeCopy{.dest = 101, .source = 100, .rights = abi::kRightWrite}),
            Error::kOk);
  EXPECT_EQ(k.cap(101).badge, 7u) << "a copy keeps the badge";
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode,
                     abi::CNodeMint{.dest = 102, .source = 100, .rights = abi::kRightWrite, .badge = 9}),
            Error::kInvalidArgument)
      << "a badged capability cannot be re-badged";
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeMove{.dest = 103, .source = 101}), Error::kOk);
  EXPECT_TRUE(k.slot(101)->empty());
  EXPECT_EQ(k.cap(103).badge, 7u);
  // Revoking the original removes everything derived from it, not itself.
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeRevoke{.slot = kEp}), Error::kOk);
  EXPECT_TRUE(k.slot(100)->empty());
  EXPECT_TRUE(k.slot(103)->empty());
  EXPECT_FALSE(k.slot(kEp)->empty());
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kEp}), Error::kOk);
  EXPECT_TRUE(k.slot(kEp)->empty());
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kEp}), Error::kInvalidCapability);
}

TEST_F(Objects, LongRevokeRestartsInBoundedSteps) {
  // 150 copies of an endpoint capability: revoking the original removes at
  // most object::kRevokeBatch (64) per kernel entry, and the syscall runs
  // again until none is left — the caller sees one successful call.
  constexpr uint64_t kFirst = 100, kCopies = 150;
  for (uint64_t i = 0; i < kCopies; ++i) {
    ASSERT_EQ(
        k.invoke(HostKernel::kSlotCNode, abi::CNodeCopy{.dest = kFirst + i, .source = kEp, .rights = abi::kRightsAll}),
        Error::kOk);
  }
  (void)k.take_restarts();
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeRevoke{.slot = kEp}), Error::kOk);
  EXPECT_EQ(k.take_restarts(), (kCopies - 1) / object::kRevokeBatch) << "64 + 64 + 22: two restarts";
  for (uint64_t i = 0; i < kCopies; ++i) EXPECT_TRUE(k.slot(kFirst + i)->empty()) << "copy " << i;
  EXPECT_FALSE(k.slot(kEp)->empty()) << "revoke keeps the original";
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeRevoke{.slot = kEp}), Error::kOk);
  EXPECT_EQ(k.take_restarts(), 0u) << "nothing left: done in one entry";
}

// A dead CNode is emptied in bounded steps after the call that killed it,
// and an untyped's revoke does not let its memory be reused until every
// dead CNode is empty (the restarts of that revoke do the rest).
TEST_F(Objects, DeadCNodesDrainInBoundedStepsBeforeTheirMemoryIsReused) {
  constexpr uint64_t kUt = 150, kBig = 151, kChain = 160, kChainLength = 40;
  ASSERT_EQ(k.retype(ObjectType::kUntyped, kUt, 1, 17), Error::kOk);  // 128 KiB of the caller's own
  auto from_ut = [&](ObjectType type, uint64_t dest, uint64_t count, uint64_t bits) {
    return k.invoke(
        kUt, abi::UntypedRetype{.type = static_cast<uint64_t>(type), .size_bits = bits, .dest = dest, .count = count});
  };
  // A CNode of 256 slots, each a copy of the endpoint: 256 removals, four times a step's 64.
  ASSERT_EQ(from_ut(ObjectType::kCNode, kBig, 1, 8), Error::kOk);
  for (uint64_t i = 0; i < 256; ++i) {
    ASSERT_EQ(
        k.invoke(kBig,
                 abi::CNodeCopy{
                     .dest = i, .source = kEp, .rights = abi::kRightsAll, .source_cnode = HostKernel::kSlotCNode}),
        Error::kOk);
  }
  // A chain of CNodes, each holding the next one's only capability in its slot 0.
  ASSERT_EQ(from_ut(ObjectType::kCNode, kChain, kChainLength, 1), Error::kOk);
  for (uint64_t i = kChainLength - 1; i > 0; --i) {
    ASSERT_EQ(k.invoke(kChain + i - 1,
                       abi::CNodeMove{.dest = 0, .source = kChain + i, .source_cnode = HostKernel::kSlotCNode}),
              Error::kOk);
  }
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kBig}), Error::kOk);
  EXPECT_TRUE(k.dead_cnodes_queued()) << "one call does not empty 256 slots";
  EXPECT_TRUE(object::has_children(k.slot(kEp))) << "some copies are still there";
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kChain}), Error::kOk);
  EXPECT_TRUE(k.dead_cnodes_queued());
  (void)k.take_restarts();
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeRevoke{.slot = kUt}), Error::kOk);
  EXPECT_GE(k.take_restarts(), 1u) << "the revoke waited for the drain, a bounded step per entry";
  EXPECT_FALSE(k.dead_cnodes_queued());
  EXPECT_FALSE(object::has_children(k.slot(kEp))) << "every copy in the dead CNode went";
  EXPECT_EQ(k.cap(kUt).watermark, 0u);
  // The memory is reusable, and the endpoint still works as before.
  ASSERT_EQ(from_ut(ObjectType::kCNode, kBig, 1, 8), Error::kOk);
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeRevoke{.slot = kUt}), Error::kOk);
}

TEST_F(Objects, CopyFromAnotherCNode) {
  // A parent fills a child's CNode: the source slot is in the root CNode,
  // the destination in the child's (kCNode2, 16 slots).
  EXPECT_EQ(
      k.invoke(kCNode2,
               abi::CNodeCopy{
                   .dest = 3, .source = kNtfn, .rights = abi::kRightsAll, .source_cnode = HostKernel::kSlotCNode}),
      Error::kOk);
  object::Slot* child = nullptr;
  ASSERT_EQ(cnode_slot(k.cap(kCNode2), 3, &child), Status::kOk);
  EXPECT_EQ(child->cap.type, ObjectType::kNotification);
  EXPECT_EQ(k.invoke(kCNode2, abi::CNodeCopy{.dest = 16, .source = kNtfn, .rights = 7, .source_cnode = 1}),
            Error::kInvalidSlot)
      << "slot 16 is outside a 16-slot CNode";
}

TEST_F(Objects, UntypedWithChildrenNeedsRevokeFirst) {
  const auto before = k.snapshot();
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = HostKernel::kSlotUntyped}), Error::kRevokeFirst);
  EXPECT_TRUE(k.same_as(before));
  EXPECT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeRevoke{.slot = HostKernel::kSlotUntyped}), Error::kOk);
  for (uint64_t s : {kEp, kNtfn, kThread, kSpace, kTable, kFrame, kReply, kCNode2}) {
    EXPECT_TRUE(k.slot(s)->empty()) << "slot " << s;
  }
  // Its memory is free again: the same objects fit.
  EXPECT_EQ(k.retype(ObjectType::kEndpoint, kEp, 8), Error::kOk);
}

TEST_F(Objects, RetypeChecksEveryDestinationFirst) {
  const auto before = k.snapshot();
  EXPECT_EQ(k.retype(ObjectType::kEndpoint, kEp + 20, 4), Error::kOk);
  const auto after_ok = k.snapshot();
  // Three free slots and one occupied one: nothing is made.
  EXPECT_EQ(k.retype(ObjectType::kEndpoint, kEp + 17, 4), Error::kSlotOccupied);
  EXPECT_TRUE(k.same_as(after_ok));
  EXPECT_FALSE(k.same_as(before));
  EXPECT_EQ(k.retype(ObjectType::kFrame2M, 150), Error::kNotEnoughMemory);
  // At most 2 MiB of zeroed objects per call (the lock is never held for
  // long): two 2 MiB frames, or a 4 MiB CNode, are refused before anything.
  EXPECT_EQ(k.retype(ObjectType::kFrame2M, 150, 2), Error::kInvalidArgument);
  EXPECT_EQ(k.retype(ObjectType::kCNode, 150, 1, 16), Error::kInvalidArgument);
  EXPECT_EQ(k.retype(ObjectType::kFrame4K, 150, 64), Error::kOk) << "64 pages are fine";
  const auto after_frames = k.snapshot();
  EXPECT_EQ(k.retype(ObjectType::kIrqControl, 150), Error::kInvalidArgument);
  EXPECT_EQ(k.retype(ObjectType::kEndpoint, kOutside - 1, 2), Error::kInvalidSlot);
  EXPECT_TRUE(k.same_as(after_frames));
}

// ---- threads ------------------------------------------------------------------

TEST_F(Objects, ConfigureAndStartAThread) {
  EXPECT_EQ(k.invoke(kThread,
                     abi::ThreadConfigure{.cnode = HostKernel::kSlotCNode, .address_space = kSpace, .priority = 201}),
            Error::kInvalidArgument)
      << "no priority above the caller's (200)";
  EXPECT_EQ(k.invoke(kThread, abi::ThreadConfigure{.cnode = kEp, .address_space = kSpace, .priority = 10}),
            Error::kInvalidCapability);
  ASSERT_EQ(
      k.invoke(kThread,
               abi::ThreadConfigure{
                   .cnode = HostKernel::kSlotCNode, .address_space = kSpace, .priority = 10, .fault_endpoint = kEp}),
      Error::kOk);
  Thread* t = object_at<Thread>(k.cap(kThread));
  EXPECT_EQ(t->priority, 10u);
  EXPECT_EQ(t->as_root, k.cap(kSpace).object);
  EXPECT_EQ(t->fault_ep_index, kEp);
  EXPECT_EQ(k.invoke(kThread, abi::ThreadStart{.pc = 0x1002, .sp = 0x8000}), Error::kInvalidArgument) << "pc % 4";
  EXPECT_EQ(k.invoke(kThread, abi::ThreadStart{.pc = 0x1000, .sp = 0x8008}), Error::kInvalidArgument) << "sp % 16";
  EXPECT_EQ(k.invoke(kThread, abi::ThreadStart{.pc = abi::kUserLimit, .sp = 0x8000}), Error::kInvalidArgument);
  ASSERT_EQ(k.invoke(kThread, abi::ThreadStart{.pc = 0x1000, .sp = 0x8000, .arg = 42}), Error::kOk);
  EXPECT_EQ(t->state, ThreadState::kRunnable);
  EXPECT_EQ(t->frame.elr, 0x1000u);
  EXPECT_EQ(t->regs().cap(), 42u) << "its x0";
  EXPECT_TRUE(k.queued(t));
  EXPECT_EQ(k.invoke(kThread, abi::ThreadStart{.pc = 0x1000, .sp = 0x8000}), Error::kInvalidArgument)
      << "started twice";
  EXPECT_EQ(k.invoke(kThread, abi::ThreadSuspend{}), Error::kOk);
  EXPECT_EQ(t->state, ThreadState::kInactive);
  EXPECT_FALSE(k.queued(t));
}

TEST_F(Objects, AThreadWhoseSpaceGoesStops) {
  ASSERT_EQ(k.invoke(kThread, abi::ThreadConfigure{.cnode = 1, .address_space = kSpace, .priority = 10}), Error::kOk);
  ASSERT_EQ(k.invoke(kThread, abi::ThreadStart{.pc = 0x1000, .sp = 0x8000}), Error::kOk);
  Thread* t = object_at<Thread>(k.cap(kThread));
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeRevoke{.slot = kSpace}), Error::kOk);
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kSpace}), Error::kOk);
  EXPECT_EQ(t->state, ThreadState::kStopped);
  EXPECT_EQ(t->as_root, 0u);
  EXPECT_FALSE(k.queued(t));
}

// ---- mapping --------------------------------------------------------------------

TEST_F(Objects, MapAFrameThroughItsTablesAndUnmapIt) {
  constexpr uint64_t kVa = 0x40'0000'0000;
  auto map_frame = [&] {
    return k.invoke(kFrame, abi::FrameMap{.address_space = kSpace, .va = kVa, .flags = abi::kMapWrite});
  };
  EXPECT_EQ(map_frame(), Error::kNoPageTable);
  for (uint64_t level = 1; level <= 3; ++level) {
    ASSERT_EQ(k.invoke(kTable + level - 1, abi::PageTableMap{.address_space = kSpace, .va = kVa, .level = level}),
              Error::kOk)
        << "level " << level;
  }
  EXPECT_EQ(k.invoke(kTable, abi::PageTableMap{.address_space = kSpace, .va = kVa + (1ull << 39), .level = 1}),
            Error::kSlotOccupied)
      << "a table installs once";
  EXPECT_EQ(k.invoke(kFrame, abi::FrameMap{.address_space = kSpace, .va = kVa + 8, .flags = 0}),
            Error::kInvalidArgument);
  EXPECT_EQ(k.invoke(kFrame, abi::FrameMap{.address_space = kSpace, .va = kVa, .flags = 8}), Error::kInvalidArgument);
  ASSERT_EQ(map_frame(), Error::kOk);
  EXPECT_EQ(map_frame(), Error::kSlotOccupied) << "this capability maps it already";
  const arm64::TranslationRegime regime{
      .ttbr0 = k.cap(kSpace).object, .ttbr1 = 0, .tcr = arch::translation_control().epd0(0)};
  arm64::Translation tr = arm64::translate(regime, arch::phys_window(), kVa + 0x123);
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ(tr.pa, k.cap(kFrame).object + 0x123);
  EXPECT_TRUE(tr.el0_writable);
  // Deleting the frame's capability unmaps it, and — the space has an ASID
  // (it ran), so the TLB may hold the translation — invalidates it.
  EXPECT_NE(k.run_in(k.cap(kSpace).object) >> 48, 0u) << "an ASID";
  const uint64_t flushes = arch::g_host.cpu.tlb_flushes;
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kFrame}), Error::kOk);
  EXPECT_FALSE(arm64::translate(regime, arch::phys_window(), kVa).ok());
  EXPECT_EQ(arch::g_host.cpu.tlb_flushes, flushes + 1) << "a stale translation would survive the unmap";
}

// kMapUncached: Normal non-cacheable (AttrIndx 2), after the frame's lines
// were cleaned and invalidated to the point of coherency (an old, dirty
// line would otherwise be bypassed and the memory's stale bytes shown).
TEST_F(Objects, UncachedMappingCleansTheFrameFirst) {
  constexpr uint64_t kVa = 0x40'0000'0000;
  for (uint64_t level = 1; level <= 3; ++level) {
    ASSERT_EQ(k.invoke(kTable + level - 1, abi::PageTableMap{.address_space = kSpace, .va = kVa, .level = level}),
              Error::kOk);
  }
  const uint64_t cleans = arch::g_host.cpu.cache_cleans;
  ASSERT_EQ(k.invoke(kFrame, abi::FrameMap{.address_space = kSpace, .va = kVa, .flags = abi::kMapUncached}),
            Error::kOk);
  EXPECT_EQ(arch::g_host.cpu.cache_cleans, cleans + 1);
  const arm64::TranslationRegime regime{
      .ttbr0 = k.cap(kSpace).object, .ttbr1 = 0, .tcr = arch::translation_control().epd0(0)};
  arm64::Translation tr = arm64::translate(regime, arch::phys_window(), kVa);
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ(tr.leaf.attr_index(), static_cast<uint64_t>(arm64::AttrIndex::kNormalNC));
  EXPECT_FALSE(tr.el0_writable) << "uncached grants no write by itself";
}

// FrameAddress: the frame's PA to whoever holds the frame (any rights);
// nothing for another object or an empty slot.
TEST_F(Objects, FrameAddressOnlyForAFrameHeld) {
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeCopy{.dest = 120, .source = kFrame, .rights = abi::kRightRead}),
            Error::kOk);
  for (uint64_t target : {kFrame, uint64_t{120}}) {
    k.caller()->frame.x[1] = 0;
    ASSERT_EQ(k.invoke(target, abi::FrameAddress{}), Error::kOk);
    EXPECT_EQ(k.caller()->regs().result<abi::FrameAddressResult>().pa, k.cap(kFrame).object);
  }
  const auto before = k.snapshot();
  EXPECT_EQ(k.invoke(kTable, abi::FrameAddress{}), Error::kInvalidArgument);
  EXPECT_NE(k.caller()->frame.x[1], k.cap(kTable).object) << "a table's address does not leak";
  EXPECT_EQ(k.invoke(kEp, abi::FrameAddress{}), Error::kInvalidCapability);
  EXPECT_EQ(k.invoke(kEmpty, abi::FrameAddress{}), Error::kInvalidCapability);
  EXPECT_TRUE(k.same_as(before));
}

TEST_F(Objects, AReadOnlyFrameCannotMapWritable) {
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeCopy{.dest = 120, .source = kFrame, .rights = abi::kRightRead}),
            Error::kOk);
  const auto before = k.snapshot();
  EXPECT_EQ(k.invoke(120, abi::FrameMap{.address_space = kSpace, .va = 0x1000, .flags = abi::kMapWrite}),
            Error::kInsufficientRights);
  EXPECT_TRUE(k.same_as(before));
}

// An IoSpace (a device's DMA view) takes frames and tables as an address
// space does, with their mapping records: a frame maps there once per
// capability, deleting the capability unmaps it; never executable.
TEST_F(Objects, AnIoSpaceMapsRamFramesThroughItsRecords) {
  constexpr uint64_t kIo = 160, kIoTable = 161, kIoFrame = 164, kIova = 0x10'0000'0000;
  ASSERT_EQ(k.retype(ObjectType::kIoSpace, kIo), Error::kOk);
  ASSERT_EQ(k.retype(ObjectType::kPageTable, kIoTable, 3), Error::kOk);
  ASSERT_EQ(k.retype(ObjectType::kFrame4K, kIoFrame), Error::kOk);
  auto map = [&](uint64_t flags) {
    return k.invoke(kIoFrame, abi::FrameMap{.address_space = kIo, .va = kIova, .flags = flags});
  };
  EXPECT_EQ(map(abi::kMapWrite), Error::kNoPageTable);
  for (uint64_t level = 1; level <= 3; ++level) {
    ASSERT_EQ(k.invoke(kIoTable + level - 1, abi::PageTableMap{.address_space = kIo, .va = kIova, .level = level}),
              Error::kOk);
  }
  {
    const auto before = k.snapshot();
    EXPECT_EQ(map(abi::kMapWrite | abi::kMapExecute), Error::kInvalidArgument) << "a device never executes";
    EXPECT_TRUE(k.same_as(before));
  }
  {
    // A frame of device memory (as device untyped makes them: the flag is
    // the kernel's, set here directly): never in an IoSpace — no DMA from
    // one device into another's registers. An address space takes it.
    constexpr uint64_t kDevFrame = 165;
    ASSERT_EQ(k.retype(ObjectType::kFrame4K, kDevFrame), Error::kOk);
    k.slot(kDevFrame)->cap.flags |= object::kFlagDevice;
    const auto before = k.snapshot();
    EXPECT_EQ(k.invoke(kDevFrame, abi::FrameMap{.address_space = kIo, .va = kIova + 0x1000, .flags = abi::kMapWrite}),
              Error::kInvalidArgument);
    EXPECT_TRUE(k.same_as(before));
  }
  ASSERT_EQ(map(abi::kMapWrite | abi::kMapUncached), Error::kOk);
  const arm64::TranslationRegime regime{
      .ttbr0 = k.cap(kIo).object, .ttbr1 = 0, .tcr = arch::translation_control().epd0(0)};
  arm64::Translation tr = arm64::translate(regime, arch::phys_window(), kIova + 0x40);
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ(tr.pa, k.cap(kIoFrame).object + 0x40);
  EXPECT_EQ(tr.leaf.attr_index(), static_cast<uint64_t>(arm64::AttrIndex::kNormalWB)) << "always write-back";
  EXPECT_EQ(tr.leaf.uxn(), 1u);
  // Unbound (no IOMMU on the host): no events.
  ASSERT_EQ(k.invoke(kIo, abi::IoSpaceFaults{}), Error::kOk);
  EXPECT_EQ(k.caller()->regs().result<abi::IoSpaceFaultsResult>().count, 0u);
  // Neither the IoSpace nor anything else takes Bind but IoControl.
  EXPECT_EQ(k.invoke(kIo, abi::IoControlBind{.io_space = kIo, .stream = 8}), Error::kInvalidArgument);
  EXPECT_EQ(k.invoke(kSpace, abi::IoControlBind{.io_space = kIo, .stream = 8}), Error::kInvalidCapability);
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kIoFrame}), Error::kOk);
  EXPECT_FALSE(arm64::translate(regime, arch::phys_window(), kIova).ok()) << "the record unmapped it";
  // An address space's frame cannot stand in for an IoSpace, nor the reverse.
  EXPECT_EQ(k.invoke(kIo, abi::ThreadConfigure{}), Error::kInvalidArgument);
  EXPECT_EQ(k.invoke(kThread, abi::ThreadConfigure{.cnode = 1, .address_space = kIo, .priority = 10}),
            Error::kInvalidCapability);
}

// ---- IPC objects destroyed under blocked threads ------------------------------------

// A second thread with the caller's CNode, blocked in Recv on kEp.
Thread* BlockedReceiver(HostKernel& k) {
  EXPECT_EQ(k.invoke(kThread, abi::ThreadConfigure{.cnode = 1, .address_space = kSpace, .priority = 10}), Error::kOk);
  Thread* t = object_at<Thread>(k.cap(kThread));
  set_state(t, ThreadState::kRunnable);
  (void)k.syscall(t, abi::Syscall::kRecv, abi::syscall_registers(abi::IpcArgs{.cap = kEp}));  // (x0: until woken)
  EXPECT_EQ(t->state, ThreadState::kBlockedRecv);
  return t;
}

TEST_F(Objects, DestroyingAnEndpointWakesItsReceivers) {
  Thread* t = BlockedReceiver(k);
  t->regs().set_error(Error::kOk);
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kEp}), Error::kOk);
  EXPECT_EQ(t->state, ThreadState::kRunnable);
  EXPECT_EQ(t->regs().error(), Error::kObjectDestroyed);
  EXPECT_EQ(t->blocked_on, nullptr);
}

TEST_F(Objects, DestroyingANotificationWakesItsWaiter) {
  EXPECT_EQ(k.invoke(kThread, abi::ThreadConfigure{.cnode = 1, .address_space = kSpace, .priority = 10}), Error::kOk);
  Thread* t = object_at<Thread>(k.cap(kThread));
  set_state(t, ThreadState::kRunnable);
  (void)k.syscall(t, abi::Syscall::kWait, abi::syscall_registers(abi::NotificationArgs{.cap = kNtfn}));
  ASSERT_EQ(t->state, ThreadState::kBlockedWait);
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kNtfn}), Error::kOk);
  EXPECT_EQ(t->state, ThreadState::kRunnable);
  EXPECT_EQ(t->regs().error(), Error::kObjectDestroyed);
}

TEST_F(Objects, ACallerWhoseReplyObjectGoesIsReleased) {
  // The receiver designates a Reply object; the caller's reply right goes there.
  EXPECT_EQ(k.invoke(kThread, abi::ThreadConfigure{.cnode = 1, .address_space = kSpace, .priority = 10}), Error::kOk);
  Thread* server = object_at<Thread>(k.cap(kThread));
  set_state(server, ThreadState::kRunnable);
  (void)k.syscall(server, abi::Syscall::kRecv, abi::syscall_registers(abi::IpcArgs{.cap = kEp, .reply = kReply}));
  ASSERT_EQ(server->state, ThreadState::kBlockedRecv);
  (void)k.syscall(k.caller(), abi::Syscall::kCall,
                  abi::syscall_registers(abi::IpcArgs{.cap = kEp, .info = abi::message_info(5, 1), .mr = {77}}));
  EXPECT_EQ(server->regs().error(), Error::kOk);
  EXPECT_EQ(k.caller()->state, ThreadState::kBlockedReply);
  EXPECT_EQ(server->regs().result<abi::IpcResult>().mr[0], 77u);
  EXPECT_EQ(object_at<Reply>(k.cap(kReply))->caller, k.caller());
  // The server deletes the Reply object instead of answering.
  ASSERT_EQ(k.syscall(server, abi::Syscall::kInvoke,
                      abi::invocation(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kReply})),
            Error::kOk);
  EXPECT_EQ(k.caller()->state, ThreadState::kRunnable);
  EXPECT_EQ(k.caller()->regs().error(), Error::kObjectDestroyed);
}

TEST_F(Objects, DestroyingABlockedThreadTakesItOffTheEndpoint) {
  Thread* t = BlockedReceiver(k);
  Endpoint* ep = object_at<Endpoint>(k.cap(kEp));
  ASSERT_EQ(ep->waiters.head, t);
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode, abi::CNodeDelete{.slot = kThread}), Error::kOk);
  EXPECT_TRUE(ep->waiters.empty());
  EXPECT_EQ(ep->state, EndpointState::kIdle);
  // And the endpoint still works: a send finds no receiver.
  EXPECT_EQ(k.syscall(k.caller(), abi::Syscall::kNBSend, abi::syscall_registers(abi::IpcArgs{.cap = kEp})),
            Error::kWouldBlock);
}

// ---- notifications, replies, the kernel log ---------------------------------------

TEST_F(Objects, SignalNeedsWriteAndWaitNeedsRead) {
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode,
                     abi::CNodeMint{.dest = 110, .source = kNtfn, .rights = abi::kRightRead, .badge = 4}),
            Error::kOk);
  ASSERT_EQ(k.invoke(HostKernel::kSlotCNode,
                     abi::CNodeMint{.dest = 111, .source = kNtfn, .rights = abi::kRightWrite, .badge = 8}),
            Error::kOk);
  auto ntfn = [&](abi::Syscall s, uint64_t slot) {
    return k.syscall(k.caller(), s, abi::syscall_registers(abi::NotificationArgs{.cap = slot}));
  };
  EXPECT_EQ(ntfn(abi::Syscall::kSignal, 110), Error::kInsufficientRights);
  EXPECT_EQ(ntfn(abi::Syscall::kPoll, 111), Error::kInsufficientRights);
  EXPECT_EQ(ntfn(abi::Syscall::kSignal, 111), Error::kOk);
  ASSERT_EQ(ntfn(abi::Syscall::kPoll, 110), Error::kOk);
  EXPECT_EQ(k.caller()->regs().result<abi::NotificationResult>().word, 8u);
  ASSERT_EQ(ntfn(abi::Syscall::kPoll, 110), Error::kOk);
  EXPECT_EQ(k.caller()->regs().result<abi::NotificationResult>().word, 0u) << "Poll clears the word";
}

TEST_F(Objects, ReplyWithAnEmptyReplyObjectIsRefused) {
  const auto before = k.snapshot();
  EXPECT_EQ(k.syscall(k.caller(), abi::Syscall::kReply, abi::syscall_registers(abi::IpcArgs{.cap = kReply})),
            Error::kInvalidArgument);
  EXPECT_EQ(k.syscall(k.caller(), abi::Syscall::kReply, abi::syscall_registers(abi::IpcArgs{.cap = kEp})),
            Error::kInvalidCapability);
  EXPECT_TRUE(k.same_as(before));
}

TEST_F(Objects, InterruptsNeedAnInterruptController) {
  // No GIC on the host: IrqControlGet is refused (after the slot checks), and nothing changes.
  const auto before = k.snapshot();
  EXPECT_EQ(k.invoke(kEp, abi::IrqControlGet{.intid = 40, .dest = 150}), Error::kInvalidCapability);
  EXPECT_TRUE(k.same_as(before));
}

}  // namespace
}  // namespace keel
