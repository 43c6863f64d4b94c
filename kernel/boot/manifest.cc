#include "kernel/boot/manifest.h"

namespace keel::boot {

const char* inject_name(Inject i) {
  switch (i) {
    case Inject::kNone: return "none";
    case Inject::kNoTrampolineMap: return "no_trampoline_map";
    case Inject::kConsoleNormal: return "console_normal";
    case Inject::kWrongMairIndex: return "wrong_mair_index";
    case Inject::kNoKernelStack: return "no_kernel_stack";
    case Inject::kBadTcrGranule: return "bad_tcr_granule";
    case Inject::kPhysFault: return "phys_fault";
    case Inject::kUnmappedEntryNoPreflight: return "unmapped_entry_no_preflight";
  }
  return "unknown";
}

const char* selftest_name(Selftest s) {
  switch (s) {
    case Selftest::kNone: return "none";
    case Selftest::kDataAbort: return "data_abort";
    case Selftest::kPowerOff: return "poweroff";
    case Selftest::kPanicSmp: return "panic_smp";
    case Selftest::kSecondaryAbort: return "secondary_abort";
    case Selftest::kForgetRecord: return "forget_record";
  }
  return "unknown";
}

}  // namespace keel::boot
