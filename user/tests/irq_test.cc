// irq_test — runs as init: takes the console UART's device untyped and its
// interrupt, and receives typed characters by interrupt (the test runner
// types them): device memory, IrqControl/IrqHandler and notifications,
// end to end.
#include "keel/devices.h"
#include "keel/loader.h"
#include "keel/sys.h"
#include "keel/testing.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

namespace {

// (Slots the kernel never fills: init's boot frames from 32 on grow with the image.)
constexpr uint64_t kUartFrame = slot::kFirstFree, kHandler = kUartFrame + 1, kNtfn = kUartFrame + 2,
                   kUt = kUartFrame + 3, kFirstFree = kUartFrame + 4;
constexpr uint64_t kUartVa = 0x3000'0000;
// PL011 registers (DDI 0183): data, flags, interrupt mask, clear.
constexpr uint64_t kDr = 0x00, kFr = 0x18, kImsc = 0x38, kIcr = 0x44;
constexpr uint32_t kFrRxfe = 1u << 4, kRxim = 1u << 4, kRtim = 1u << 6;

volatile uint32_t& uart(uint64_t off) { return *reinterpret_cast<volatile uint32_t*>(kUartVa + off); }

}  // namespace

sys::Checks g_checks;

int main() {
  const keel::abi::InitBootInfo* info = sys::init_boot_info();
  keel::devices::Device console;
  (void)keel::devices::find(reinterpret_cast<const void*>(info->dtb_va), info->dtb_size, "stdout", &console);
  const uint64_t uart_base = console.ranges[0].base, uart_intid = console.irqs[0].intid;
  uint64_t device_ut = 0;
  for (uint64_t i = 0; i < info->untyped_count; ++i) {
    const keel::abi::BootUntyped& u = info->untyped[i];
    if (u.device != 0 && u.base <= uart_base && uart_base < u.base + (1ull << u.size_bits) && u.size_bits == 12) {
      device_ut = u.slot;  // the UART's own page
    }
  }
  sys::LoadContext ctx{.cnode = slot::kCNode,
                       .untyped = kUt,
                       .caller_as = slot::kAddressSpace,
                       .scratch_va = 0,
                       .next_slot = kFirstFree,
                       .slot_limit = kFirstFree + 64};
  Error e = device_ut == 0 ? Error::kInvalidCapability : Error::kOk;
  if (e == Error::kOk) e = sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 16, kUt);
  if (e == Error::kOk) e = sys::Untyped(device_ut).retype(ObjectType::kThread, 0, kUartFrame);
  bool device_refuses_kernel_objects = e == Error::kInvalidArgument;
  if (device_refuses_kernel_objects) e = sys::Untyped(device_ut).retype(ObjectType::kFrame4K, 0, kUartFrame);
  if (e == Error::kOk) e = sys::map_with_tables(ctx, kUartFrame, slot::kAddressSpace, kUartVa, keel::abi::kMapWrite);
  if (e == Error::kOk) e = sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kNtfn);
  if (e == Error::kOk) {
    e = sys::IrqControl(slot::kIrqControl).get(uart_intid, kHandler);
  }
  Error again = sys::IrqControl(slot::kIrqControl).get(uart_intid, kFirstFree + 20);
  if (e == Error::kOk) e = sys::IrqHandler(kHandler).set_notification(kNtfn);
  if (e != Error::kOk || !device_refuses_kernel_objects || again != Error::kSlotOccupied) {
    g_checks.report(false, "uart_rx_irq", "setup: %s", keel::abi::error_name(e));
    return g_checks.summary("irq_test");
  }
  uart(kIcr) = 0x7ff;
  uart(kImsc) = uart(kImsc) | kRxim | kRtim;
  sys::print("irq_test: waiting for input\n");
  char got[16] = {};
  int n = 0, interrupts = 0;
  bool line_done = false;
  while (!line_done) {  // one interrupt per character or per burst, until Enter
    uint64_t word = 0;
    if (sys::Notification(kNtfn).wait(&word) != Error::kOk) break;
    ++interrupts;
    // Clear the UART's interrupt before draining: a character that arrives
    // after the drain then raises a new one (clearing after would lose it).
    uart(kIcr) = kRxim | kRtim;
    while ((uart(kFr) & kFrRxfe) == 0) {
      char c = static_cast<char>(uart(kDr) & 0xff);
      if (c == '\r' || c == '\n') {
        line_done = true;
      } else if (n < 15) {
        got[n++] = c;
      }
    }
    (void)sys::IrqHandler(kHandler).ack();
  }
  bool ok = n == 4 && got[0] == 'k' && got[3] == 'l' && interrupts >= 1;
  g_checks.report(ok, "uart_rx_irq", "received '%s' by interrupt %llu", got,
                  static_cast<unsigned long long>(uart_intid));
  return g_checks.summary("irq_test");
}
