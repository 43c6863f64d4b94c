// rtc — the PL031 real-time clock driver (Arm DDI 0224): the smallest
// driver on keel's device model, and the worked example of docs/drivers.md.
//
// It is given its device by the system description (`role = driver`,
// `device = arm,pl031`, `serves = clock`): init maps the PL031's register
// page at start_info()->devices[0].ranges[0].va and hands it the
// interrupt's IrqHandler (unused: the clock needs no alarm, so the alarm
// interrupt stays masked). It serves keel/proto/clock.h on its endpoint.
//
// The device is untrusted input: the driver checks the PrimeCell
// identification registers before it believes anything else the page says,
// and refuses to serve a device that is not a PL031.
#include <stddef.h>
#include <stdint.h>

#include "keel/proto/clock.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace {

using keel::abi::Error;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;

// PL031 registers: data (seconds), match, load, control, interrupt mask,
// raw/masked status, clear; PrimeCell IDs at 0xfe0..0xffc.
constexpr uint64_t kDr = 0x000, kCr = 0x00c, kImsc = 0x010, kPeriphId0 = 0xfe0, kCellId0 = 0xff0;
constexpr uint32_t kPeriphId[4] = {0x31, 0x10, 0x14, 0x00};  // part 0x031, designer 0x41 (Arm), revision 1
constexpr uint32_t kCellId[4] = {0x0d, 0xf0, 0x05, 0xb1};    // PrimeCell

uint64_t g_base = 0;
uint32_t reg(uint64_t off) { return *reinterpret_cast<volatile uint32_t*>(g_base + off); }
void set_reg(uint64_t off, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(g_base + off) = v; }

// What the start info says, checked: one device, its registers a whole page.
const char* take_device(const abi::StartInfo* info) {
  if (info->magic != abi::kStartInfoMagic) return "no start info";
  if (info->device_count != 1) return "expected exactly one device";
  const abi::DeviceInfo& d = info->devices[0];
  if (d.range_count < 1 || d.ranges[0].size < 0x1000 || (d.ranges[0].va & 0xfff) != 0) {
    return "the device's registers are not one whole page";
  }
  g_base = d.ranges[0].va;
  for (unsigned i = 0; i < 4; ++i) {
    if ((reg(kPeriphId0 + uint64_t{4} * i) & 0xff) != kPeriphId[i] ||
        (reg(kCellId0 + uint64_t{4} * i) & 0xff) != kCellId[i]) {
      return "the device does not identify as a PL031";
    }
  }
  return nullptr;
}

}  // namespace

int main() {
  const abi::StartInfo* info = abi::start_info();
  sys::set_console(slot::kConsole);  // its reports (the description gives it `caps = console`)
  if (const char* why = take_device(info)) {
    sys::print("rtc: %s; not serving\n", why);
    return 1;
  }
  set_reg(kImsc, 0);  // no alarm interrupt
  set_reg(kCr, 1);    // the counter runs (it does from reset; a driver says what it wants)
  sys::serve(sys::Endpoint(slot::kServerEndpoint), [](const sys::Message& m, sys::Message* out) {
    *out = sys::Message{};
    if (m.label == keel::clock::kRead) {
      out->label = static_cast<uint64_t>(Error::kOk);
      out->mr[0] = reg(kDr);
      out->length = 1;
    } else {
      out->label = static_cast<uint64_t>(Error::kInvalidArgument);
    }
  });
}
