// timer_test — runs as init: the user timer (IrqControl's kTimerIntid, the
// EL1 virtual timer) end to end. Claimed once; a deadline signals its
// notification once, never before the deadline; a past deadline signals at
// once; a new deadline replaces the old; SetDeadline is refused on any
// other handler and before the handler exists; after the handler is
// deleted the timer may be claimed again.
#include "keel/sys.h"
#include "keel/testing.h"
#include "keel/time.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

namespace {

// (Slots the kernel never fills: init's boot frames from 32 on grow with the image.)
constexpr uint64_t kTimer = slot::kFirstFree, kNtfn = kTimer + 1, kUt = kTimer + 2, kOther = kTimer + 3,
                   kAgain = kTimer + 4, kSpi = kTimer + 5;

// Waits for the notification; the counter value when it came.
uint64_t wait_signal(uint64_t* word) {
  (void)sys::Notification(kNtfn).wait(word);
  return sys::counter();
}

}  // namespace

sys::Checks g_checks;

int main() {
  Error e = sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 16, kUt);
  if (e == Error::kOk) e = sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kNtfn);
  if (e == Error::kOk) e = sys::IrqControl(slot::kIrqControl).get(keel::abi::kTimerIntid, kTimer);
  g_checks.check(e == Error::kOk, "the timer is claimed", e);
  const Error twice = sys::IrqControl(slot::kIrqControl).get(keel::abi::kTimerIntid, kAgain);
  g_checks.report(twice == Error::kSlotOccupied, "only once", "a second claim: %s", keel::abi::error_name(twice));
  const Error bad = sys::IrqControl(slot::kIrqControl).get(keel::abi::kTimerIntid + keel::abi::kTimerChannels, kAgain);
  g_checks.report(bad == Error::kInvalidArgument, "no intid past the channels", "%s", keel::abi::error_name(bad));
  // An SPI's handler has no deadline (virtio-mmio #0's interrupt: 48 on virt).
  Error spi = sys::IrqControl(slot::kIrqControl).get(48, kSpi);
  if (spi == Error::kOk) spi = sys::IrqHandler(kSpi).set_deadline(1);
  g_checks.report(spi == Error::kInvalidArgument, "an SPI handler has no deadline", "%s", keel::abi::error_name(spi));
  if (e != Error::kOk) return g_checks.summary("timer_test");

  // Bound with a badge: the word says it was the timer.
  e = sys::CNode(slot::kCNode).mint(kOther, kNtfn, keel::abi::kRightWrite, 0x40);
  if (e == Error::kOk) e = sys::IrqHandler(kTimer).set_notification(kOther);
  g_checks.check(e == Error::kOk, "bound to a notification", e);

  const uint64_t per_ms = sys::counter_frequency() / 1000;
  uint64_t word = 0;
  // 1. A deadline 20 ms ahead: signalled once, not before it.
  uint64_t deadline = sys::counter() + 20 * per_ms;
  e = sys::IrqHandler(kTimer).set_deadline(deadline);
  uint64_t at = wait_signal(&word);
  g_checks.report(e == Error::kOk && at >= deadline && word == 0x40, "a deadline signals at or after it",
                  "%llu ticks after it, word 0x%llx", static_cast<unsigned long long>(at - deadline),
                  static_cast<unsigned long long>(word));
  // Once: nothing more is pending afterwards (a level that stayed asserted
  // would signal again at once).
  for (int i = 0; i < 1000; ++i) (void)sys::yield();
  (void)sys::Notification(kNtfn).poll(&word);
  g_checks.report(word == 0, "once per deadline", "after 1000 yields the word is 0x%llx",
                  static_cast<unsigned long long>(word));
  // 2. A deadline in the past: at once.
  e = sys::IrqHandler(kTimer).set_deadline(1);
  at = wait_signal(&word);
  g_checks.report(e == Error::kOk && word == 0x40, "a past deadline signals at once", "word 0x%llx",
                  static_cast<unsigned long long>(word));
  // 3. A deadline replaced by a later one fires at the later one only.
  const uint64_t early = sys::counter() + 5 * per_ms, late = early + 30 * per_ms;
  (void)sys::IrqHandler(kTimer).set_deadline(early);
  (void)sys::IrqHandler(kTimer).set_deadline(late);
  at = wait_signal(&word);
  g_checks.report(at >= late, "a new deadline replaces the old", "woke %lld ticks after the later one",
                  static_cast<long long>(at - late));
  // 4. Two channels on one CPU: each signals once, at its own deadline, in order.
  constexpr uint64_t kSecond = kTimer + 6, kSecondBadge = kTimer + 7;
  e = sys::IrqControl(slot::kIrqControl).get(keel::abi::kTimerIntid + 1, kSecond);
  if (e == Error::kOk) e = sys::CNode(slot::kCNode).mint(kSecondBadge, kNtfn, keel::abi::kRightWrite, 0x80);
  if (e == Error::kOk) e = sys::IrqHandler(kSecond).set_notification(kSecondBadge);
  const uint64_t first = sys::counter() + 10 * per_ms, second = first + 20 * per_ms;
  if (e == Error::kOk) e = sys::IrqHandler(kSecond).set_deadline(second);
  if (e == Error::kOk) e = sys::IrqHandler(kTimer).set_deadline(first);
  uint64_t w1 = 0, w2 = 0;
  const uint64_t at1 = wait_signal(&w1);
  const uint64_t at2 = wait_signal(&w2);
  g_checks.report(e == Error::kOk && w1 == 0x40 && at1 >= first && at1 < second && w2 == 0x80 && at2 >= second,
                  "two channels, each at its deadline", "words 0x%llx then 0x%llx", static_cast<unsigned long long>(w1),
                  static_cast<unsigned long long>(w2));
  // 5. Deleted, then claimed afresh (a restarted driver gets it again).
  e = sys::CNode(slot::kCNode).remove(kTimer);
  if (e == Error::kOk) e = sys::IrqControl(slot::kIrqControl).get(keel::abi::kTimerIntid, kAgain);
  g_checks.check(e == Error::kOk, "released with its last capability, claimed again", e);
  return g_checks.summary("timer_test");
}
