// proto/clock.h — the wall clock, served by a driver whose description says
// `serves = clock` (servers/rtc: the PL031).
//
// Requests are Calls on the driver's endpoint (init holds it; the reply's
// label is an abi::Error):
//   Read   -> MR0 = seconds since 1970-01-01 00:00:00 UTC (the RTC's count)
// Unknown labels get kInvalidArgument.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"

namespace keel::clock {

constexpr uint64_t kRead = 1;

inline abi::Error read(const sys::Endpoint& ep, uint64_t* seconds) {
  sys::Message m;
  m.label = kRead;
  abi::Error e = ep.call(m);
  if (e == abi::Error::kOk) e = static_cast<abi::Error>(m.label);
  if (e == abi::Error::kOk) *seconds = m.mr[0];
  return e;
}

// Civil date of a day count since 1970-01-01 (proleptic Gregorian; the
// days-from-civil inverse of H. Hinnant's public-domain algorithm).
struct Date {
  int64_t year;
  unsigned month, day, hour, minute, second;
};
constexpr Date date_of(uint64_t seconds) {
  const int64_t days = static_cast<int64_t>(seconds / 86400);
  const uint64_t rest = seconds % 86400;
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const unsigned d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const unsigned m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return Date{yoe + era * 400 + (m <= 2 ? 1 : 0),
              m,
              d,
              static_cast<unsigned>(rest / 3600),
              static_cast<unsigned>(rest / 60 % 60),
              static_cast<unsigned>(rest % 60)};
}
static_assert(date_of(0).year == 1970 && date_of(0).month == 1 && date_of(0).day == 1);
static_assert(date_of(951782400).month == 2 && date_of(951782400).day == 29);  // 2000-02-29
static_assert(date_of(1796515199).year == 2026 && date_of(1796515199).month == 12 && date_of(1796515199).day == 5 &&
              date_of(1796515199).hour == 23 && date_of(1796515199).second == 59);

}  // namespace keel::clock
