// device_attacks — hole 4: user buffers on a device frame. Runs as init
// (the holder of device memory; a driver such as the UART server holds a
// device frame the same way). Every kernel copy to or from user memory must
// refuse a buffer that is not Normal RAM with 'invalid address', and the
// kernel must stay up: before the fix, each of these halted the machine.
#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/devices.h"
#include "keel/loader.h"
#include "keel/sys.h"
#include "keel/testing.h"
#include "keel/thread.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::init_slot;

constexpr uint64_t kUt = 300, kFrame = 301, kEp = 302, kHelper = 303, kFaulter = 304, kSendMe = 305, kFirstFree = 310,
                   kLimit = 400;
constexpr uint64_t kDeviceVa = 0x3000'0000;  // the device frame, mapped read-write
constexpr uint64_t kRamVa = 0x3000'1000;     // a RAM page for the helper's IPC buffer

sys::Checks g_checks("security");
void check(bool ok, const char* what, Error e = Error::kOk) { g_checks.check(ok, what, e); }

alignas(16) uint8_t g_stack[2][4096];

// Sends a 10-word message with a capability; its IPC buffer (x0) decides
// where the kernel reads the words and the capability's slot from.
void sender(uint64_t ipc_buffer) {
  auto* b = reinterpret_cast<abi::IpcBuffer*>(ipc_buffer);
  if (ipc_buffer == kRamVa) b->send_cap = kSendMe;
  sys::set_ipc_buffer_pointer(b);
  for (;;) {
    sys::Message m;
    m.length = 10;
    m.caps = 1;
    for (uint64_t i = 0; i < 10; ++i) m.mr[i] = 100 + i;
    if (ipc_buffer == kDeviceVa) {  // (the words beyond four would be read from the device)
      (void)sys::syscall(sys::sysno(abi::Syscall::kCall),
                         abi::syscall_registers(abi::IpcArgs{
                             .cap = kEp, .info = abi::message_info(0, 10, 1), .mr = {100, 101, 102, 103}}));
    } else {
      (void)sys::Endpoint(kEp).call(m);
    }
  }
}

// A fault whose frame pointer names the device page: the kernel's report
// walks it as a backtrace with checked copies.
void faulter(uint64_t) { asm volatile("mov x29, %0\n mov x1, #0\n ldr x1, [x1]" ::"r"(kDeviceVa) : "x1", "memory"); }

}  // namespace

int main() {
  const abi::InitBootInfo* info = sys::init_boot_info();
  keel::devices::Device console;
  (void)keel::devices::find(reinterpret_cast<const void*>(info->dtb_va), info->dtb_size, "stdout", &console);
  const abi::BootUntyped* dev = nullptr;
  for (uint64_t i = 0; i < info->untyped_count; ++i) {
    // The console UART's page: the last check reports through it.
    if (info->untyped[i].device != 0 && info->untyped[i].base == (console.ranges[0].base & ~uint64_t{0xfff})) {
      dev = &info->untyped[i];
    }
  }
  sys::LoadContext ctx{.cnode = slot::kCNode,
                       .untyped = kUt,
                       .caller_as = slot::kAddressSpace,
                       .scratch_va = 0x2000'0000,
                       .next_slot = kFirstFree,
                       .slot_limit = kLimit};
  Error e = dev == nullptr ? Error::kInvalidCapability : Error::kOk;
  if (e == Error::kOk) e = sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 20, kUt);
  if (e == Error::kOk) e = sys::Untyped(dev->slot).retype(ObjectType::kFrame4K, 0, kFrame);
  if (e == Error::kOk) e = sys::map_with_tables(ctx, kFrame, slot::kAddressSpace, kDeviceVa, abi::kMapWrite);
  uint64_t ram = ctx.next_slot++;
  if (e == Error::kOk) e = sys::Untyped(kUt).retype(ObjectType::kFrame4K, 0, ram);
  if (e == Error::kOk) e = sys::map_with_tables(ctx, ram, slot::kAddressSpace, kRamVa, abi::kMapWrite);
  if (e == Error::kOk) e = sys::Untyped(kUt).retype(ObjectType::kEndpoint, 0, kEp);
  if (e == Error::kOk) e = sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kSendMe);
  check(e == Error::kOk, "hole 4: setup (a device frame mapped at 0x30000000)", e);

  // DebugWrite from the device page.
  Error w = sys::debug_write(reinterpret_cast<const char*>(kDeviceVa), 16);
  check(w == Error::kInvalidAddress, "hole 4: DebugWrite from a device frame is 'invalid address'", w);

  // A long message into an IPC buffer on the device page: the receiver gets
  // the register part only.
  uint64_t own_ipc = abi::kIpcBufferVa;
  e = sys::start_thread(sys::ThreadSpec{.untyped = kUt,
                                        .slot = kHelper,
                                        .priority = 200,
                                        .entry = sender,
                                        .stack_top = reinterpret_cast<uint64_t>(g_stack[0] + sizeof g_stack[0]),
                                        .arg = kRamVa,
                                        .ipc_buffer = kRamVa});
  e = e != Error::kOk ? e : sys::ThreadCap(slot::kThread).set_ipc_buffer(kDeviceVa);
  sys::set_ipc_buffer_pointer(reinterpret_cast<abi::IpcBuffer*>(kDeviceVa));
  sys::SyscallResult r =
      sys::syscall(sys::sysno(abi::Syscall::kRecv), abi::syscall_registers(abi::IpcArgs{.cap = kEp}));
  const abi::IpcResult got_regs = r.as<abi::IpcResult>();
  (void)sys::ThreadCap(slot::kThread).set_ipc_buffer(own_ipc);
  sys::set_ipc_buffer_pointer(reinterpret_cast<abi::IpcBuffer*>(own_ipc));
  check(e == Error::kOk && r.error == Error::kOk && abi::info_length(got_regs.info) == 4 &&
            abi::info_caps(got_regs.info) == 0 && got_regs.mr[0] == 100,
        "hole 4: a long message into a device-frame IPC buffer arrives as its register part", r.error);
  (void)sys::ThreadCap(kHelper).suspend();
  (void)sys::CNode(slot::kCNode).remove(kHelper);

  // A sender whose IPC buffer (send_cap, words) is the device page.
  e = sys::start_thread(sys::ThreadSpec{.untyped = kUt,
                                        .slot = kHelper,
                                        .priority = 200,
                                        .entry = sender,
                                        .stack_top = reinterpret_cast<uint64_t>(g_stack[1] + sizeof g_stack[1]),
                                        .arg = kDeviceVa,
                                        .ipc_buffer = kDeviceVa});
  sys::Message m;
  Error got = sys::Endpoint(kEp).recv(m);
  check(e == Error::kOk && got == Error::kOk && m.length == 4 && m.caps == 0 && m.mr[0] == 100,
        "hole 4: a sender's IPC buffer on a device frame sends neither words nor a capability", got);
  (void)sys::ThreadCap(kHelper).suspend();

  // A user fault whose backtrace walk would read the device page.
  e = sys::start_thread(sys::ThreadSpec{.untyped = kUt,
                                        .slot = kFaulter,
                                        .priority = 255,  // (beside init: its yields let it run)
                                        .entry = faulter,
                                        .stack_top = reinterpret_cast<uint64_t>(g_stack[0] + sizeof g_stack[0])});
  for (int i = 0; i < 10; ++i) (void)sys::yield();
  check(e == Error::kOk, "hole 4: a fault report that walks a device frame", e);

  // KernelLogRead into the device page (the log holds DebugWrite output once bound).
  uint64_t ntfn = ctx.next_slot++;
  e = sys::Untyped(kUt).retype(ObjectType::kNotification, 0, ntfn);
  g_checks.summary("device_attacks");  // (the last line the UART sees before the log takes the console)
  if (e == Error::kOk) e = sys::KernelLog(slot::kKernelLog).bind(ntfn);
  (void)sys::debug_write("into the log\n", 13);
  uint64_t bytes = 0;
  const Error read = sys::KernelLog(slot::kKernelLog).read(reinterpret_cast<void*>(kDeviceVa), 512, &bytes);
  // Report through the device frame itself (the UART's data register):
  // kernel output goes to the log now. The line also shows the kernel is up.
  char line[96];
  const char* verdict = read == Error::kInvalidAddress ? "PASS" : "FAIL";
  int n = 0;
  for (const char* p = "TEST security hole 4: KernelLogRead into a device frame is 'invalid address': "; *p;)
    line[n++] = *p++;
  for (const char* p = verdict; *p;) line[n++] = *p++;
  line[n++] = '\n';
  {
    auto* uart = reinterpret_cast<volatile uint32_t*>(kDeviceVa);
    for (int i = 0; i < n; ++i) {
      while ((uart[0x18 / 4] & (1u << 5)) != 0) {
      }
      uart[0] = static_cast<uint8_t>(line[i]);
    }
  }
  return 0;
}
