// testing.h — how user-space tests report: one "TEST <suite> <what>: PASS"
// or "... FAIL (<error>)" line per check (the QEMU tests fail on FAIL lines),
// then "<program>: N passed, M failed".
#pragma once

#include "keel/abi.h"
#include "keel/sys.h"

namespace keel::sys {

class Checks {
 public:
  explicit constexpr Checks(const char* suite) : suite_(suite) {}
  void check(bool ok, const char* what, abi::Error e = abi::Error::kOk) {
    (ok ? passed_ : failed_) += 1;
    if (ok) {
      print("TEST %s %s: PASS\n", suite_, what);
    } else {
      print("TEST %s %s: FAIL (%s)\n", suite_, what, abi::error_name(e));
    }
  }
  void summary(const char* program) const { print("%s: %d passed, %d failed\n", program, passed_, failed_); }
  int failed() const { return failed_; }

 private:
  const char* suite_;
  int passed_ = 0, failed_ = 0;
};

}  // namespace keel::sys
