#include "kernel/core/fpu.h"

#include "kernel/arch/arch.h"
#include "kernel/core/cpu.h"

namespace keel {

void fp_claim(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  Cpu& c = this_cpu();
  fp_set_access(true);
  arch::sync_context();  // before the kernel itself touches the registers
  if (t->fp_live_on != 0 && t->fp_live_on != c.index + 1) cpu_fetch_fp(t->fp_live_on - 1);
  if (auto* owner = static_cast<Thread*>(c.fp_owner)) {
    arch::fp_save(&owner->fp);
    owner->fp_live_on = 0;
  }
  arch::fp_restore(&t->fp);
  c.fp_owner = t;
  t->fp_live_on = static_cast<uint32_t>(c.index + 1);
}

void fp_forget(const Thread* t) {
  for (size_t i = 0; i < kMaxCpus; ++i) {
    if (cpu_record(i).fp_owner == t) cpu_record(i).fp_owner = nullptr;  // (its registers' contents are dead)
  }
}

void fp_init() {
  this_cpu().fp_owner = nullptr;
  this_cpu().cpacr = ~0ull;
  fp_set_access(false);
  arch::sync_context();
}

}  // namespace keel
