// bitfield.h — helpers for register and descriptor types declared as fields.
//
// KEEL_FIELD(name, hi, lo) declares, inside a struct with a `uint64_t raw`,
// a getter `name()` and a copy-returning setter `name(v)` for bits [hi:lo].
// Setters mask the value to the field width, so an out-of-range value can
// never corrupt a neighbouring field.
#pragma once

#include <stdint.h>

namespace keel::arm64 {

constexpr uint64_t field_mask(unsigned hi, unsigned lo) {
  return (hi - lo == 63) ? ~0ull : ((1ull << (hi - lo + 1)) - 1);
}
constexpr uint64_t bits(uint64_t v, unsigned hi, unsigned lo) { return (v >> lo) & field_mask(hi, lo); }
constexpr uint64_t set_bits(uint64_t v, unsigned hi, unsigned lo, uint64_t field) {
  uint64_t mask = field_mask(hi, lo) << lo;
  return (v & ~mask) | ((field << lo) & mask);
}

}  // namespace keel::arm64

#define KEEL_FIELD(name, hi, lo)                                               \
  constexpr uint64_t name() const { return ::keel::arm64::bits(raw, hi, lo); } \
  constexpr auto name(uint64_t v) const {                                      \
    auto c = *this;                                                            \
    c.raw = ::keel::arm64::set_bits(raw, hi, lo, v);                           \
    return c;                                                                  \
  }
#define KEEL_FIELD_T(name, T, hi, lo)                                                   \
  constexpr T name() const { return static_cast<T>(::keel::arm64::bits(raw, hi, lo)); } \
  constexpr auto name(T v) const {                                                      \
    auto c = *this;                                                                     \
    c.raw = ::keel::arm64::set_bits(raw, hi, lo, static_cast<uint64_t>(v));             \
    return c;                                                                           \
  }
