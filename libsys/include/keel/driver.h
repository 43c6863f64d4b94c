// driver.h — what every driver's event loop shares: waiting on its
// notification (task_slot::kDeviceNotification) and answering init there.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace keel::sys {

// Waits on the driver's notification; returns the bits that woke it, less
// init's watchdog ping (kWatchdogBit), which it answers on the way: a
// driver that waits here is alive to init's watchdog (`watchdog = 2s`).
// One that loops, or blocks anywhere else for longer than its watchdog
// time, is restarted. Returns with *word == 0 only if the wait failed.
// kInjectDmaBit stays in *word: a virtio driver passes it to its queue
// (virtio::Queue::inject_wild); no other bit init sends is left.
inline abi::Error driver_wait(uint64_t* word) {
  for (;;) {
    const abi::Error e = Notification(abi::task_slot::kDeviceNotification).wait(word);
    if (e != abi::Error::kOk) {
      *word = 0;
      return e;
    }
    if ((*word & abi::kWatchdogBit) != 0) {
      (void)Notification(abi::task_slot::kWatchdog).signal();  // (no watchdog: an empty slot, no harm)
      *word &= ~abi::kWatchdogBit;
    }
    if (*word != 0) return abi::Error::kOk;
  }
}

}  // namespace keel::sys
