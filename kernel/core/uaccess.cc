#include "kernel/core/uaccess.h"

#include "keel/abi.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/layout.h"

namespace keel {

Status copy_from_user(const Thread& t, uint64_t uva, size_t len, void* dst) {
  if (uva >= abi::kUserLimit || len > abi::kUserLimit - uva) return Status::kOutOfRange;
  arm64::TranslationRegime regime{
      .ttbr0 = t.as_root, .ttbr1 = 0, .tcr = arm64::TcrEl1{KEEL_READ_SYSREG(tcr_el1)}.epd0(0)};
  arm64::PhysWindow linear{layout::kLinearMapBase};
  auto* out = static_cast<uint8_t*>(dst);
  while (len > 0) {
    arm64::Translation tr = arm64::translate(regime, linear, uva);
    if (!tr.ok() || !tr.el0_readable) return Status::kNotFound;
    size_t chunk = arm64::kPageSize - (uva & (arm64::kPageSize - 1));
    if (chunk > len) chunk = len;
    const auto* src = reinterpret_cast<const uint8_t*>(layout::phys_to_linear(tr.pa));
    for (size_t i = 0; i < chunk; ++i) out[i] = src[i];
    out += chunk;
    uva += chunk;
    len -= chunk;
  }
  return Status::kOk;
}

}  // namespace keel
