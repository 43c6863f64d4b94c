// pl011.h — polled output on an Arm PL011 UART (PrimeCell UART, DDI 0183).
//
// Used by the physical stage (MMU off: `base` is the PA) and by the kernel
// for its own lines and panics (`base` is the device-window VA). Nothing is
// configured: the firmware/QEMU set the line up; keel only waits for FIFO
// space (FR.TXFF) and writes DR. After the hand-over to the user-space UART
// server (KernelLogBind, kernel/core/console.h) the kernel uses this only to
// report a panic.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace keel::dev {

class Pl011 {
 public:
  static constexpr uint64_t kDr = 0x00;
  static constexpr uint64_t kFr = 0x18;
  static constexpr uint32_t kFrTxff = 1u << 5;

  constexpr Pl011() = default;
  explicit constexpr Pl011(uint64_t base) : base_(base) {}

  uint64_t base() const { return base_; }
  bool present() const { return base_ != 0; }

  void putc(char c) const {
    if (base_ == 0) return;
    while ((reg(kFr) & kFrTxff) != 0) {
    }
    reg(kDr) = static_cast<uint8_t>(c);
  }

  // Writes n bytes, turning "\n" into "\r\n".
  void write(const char* s, size_t n) const {
    for (size_t i = 0; i < n; ++i) {
      if (s[i] == '\n') putc('\r');
      putc(s[i]);
    }
  }

 private:
  volatile uint32_t& reg(uint64_t off) const { return *reinterpret_cast<volatile uint32_t*>(base_ + off); }
  uint64_t base_ = 0;
};

}  // namespace keel::dev
