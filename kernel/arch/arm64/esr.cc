#include "kernel/arch/arm64/esr.h"

#include "kernel/lib/fmt.h"

namespace keel::arm64 {

const char* exception_class_name(uint32_t ec) {
  switch (ec) {
    case 0x00: return "unknown reason (undefined instruction)";
    case 0x01: return "trapped WFI/WFE";
    case 0x07: return "trapped FP/SIMD access";
    case 0x0e: return "illegal execution state";
    case 0x15: return "SVC from AArch64";
    case 0x16: return "HVC from AArch64";
    case 0x17: return "SMC from AArch64";
    case 0x18: return "trapped MSR/MRS/system instruction";
    case 0x20: return "instruction abort from a lower EL";
    case 0x21: return "instruction abort, same EL";
    case 0x22: return "PC alignment fault";
    case 0x24: return "data abort from a lower EL";
    case 0x25: return "data abort, same EL";
    case 0x26: return "SP alignment fault";
    case 0x2c: return "trapped FP exception";
    case 0x2f: return "SError interrupt";
    case 0x30: return "breakpoint from a lower EL";
    case 0x31: return "breakpoint, same EL";
    case 0x32: return "software step from a lower EL";
    case 0x33: return "software step, same EL";
    case 0x34: return "watchpoint from a lower EL";
    case 0x35: return "watchpoint, same EL";
    case 0x3c: return "BRK instruction";
    default: return "reserved exception class";
  }
}

const char* fault_status_name(uint32_t fsc) {
  switch (fsc & 0x3c) {
    case 0x00: return "address size fault";
    case 0x04: return "translation fault";
    case 0x08: return (fsc & 3) == 0 ? "reserved fault status" : "access flag fault";
    case 0x0c: return (fsc & 3) == 0 ? "reserved fault status" : "permission fault";
    default: break;
  }
  switch (fsc) {
    case 0x10: return "synchronous external abort";
    case 0x11: return "synchronous tag check fault";
    case 0x14:
    case 0x15:
    case 0x16:
    case 0x17: return "synchronous external abort on table walk";
    case 0x18: return "synchronous parity/ECC error";
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x1f: return "parity/ECC error on table walk";
    case 0x21: return "alignment fault";
    case 0x30: return "TLB conflict abort";
    case 0x31: return "unsupported atomic hardware update";
    default: return "reserved fault status";
  }
}

int fault_status_level(uint32_t fsc) {
  if (fsc <= 0x0f) return static_cast<int>(fsc & 3);
  if ((fsc >= 0x14 && fsc <= 0x17) || (fsc >= 0x1c && fsc <= 0x1f)) return static_cast<int>(fsc & 3);
  return -1;
}

const char* vector_origin(uint64_t slot) {
  switch ((slot / 4) & 3) {
    case 0: return "current EL with SP_EL0";
    case 1: return "current EL with SP_ELx";
    case 2: return "lower EL, AArch64";
    default: return "lower EL, AArch32";
  }
}

const char* vector_kind(uint64_t slot) {
  switch (slot % 4) {
    case 0: return "synchronous";
    case 1: return "IRQ";
    case 2: return "FIQ";
    default: return "SError";
  }
}

size_t describe_esr(uint64_t esr, char* buf, size_t size) {
  uint32_t ec = esr_ec(esr);
  uint32_t iss = static_cast<uint32_t>(esr & 0x1ffffff);
  bool inst = ec == ec::kInstAbortLower || ec == ec::kInstAbortSame;
  bool data = ec == ec::kDataAbortLower || ec == ec::kDataAbortSame;
  if (inst || data) {
    uint32_t fsc = iss & 0x3f;
    const char* what =
        inst ? "instruction fetch"
             : ((iss & (1u << 8)) ? "cache maintenance" : ((iss & (1u << 6)) ? "data write" : "data read"));
    int level = fault_status_level(fsc);
    if (level >= 0) return snformat(buf, size, "%s, level %d, on %s", fault_status_name(fsc), level, what);
    return snformat(buf, size, "%s, on %s", fault_status_name(fsc), what);
  }
  switch (ec) {
    case ec::kSvc64: return snformat(buf, size, "SVC #%u", iss & 0xffff);
    case ec::kBrk: return snformat(buf, size, "BRK #%u", iss & 0xffff);
    case ec::kPcAlign: return snformat(buf, size, "PC not 4-byte aligned (FAR holds the PC)");
    case ec::kSpAlign: return snformat(buf, size, "SP not 16-byte aligned at a memory access");
    case ec::kUnknown: return snformat(buf, size, "undefined or unallocated instruction");
    case ec::kSError: return snformat(buf, size, "asynchronous SError, ISS 0x%x", iss);
    default: return snformat(buf, size, "%s, ISS 0x%x", exception_class_name(ec), iss);
  }
}

}  // namespace keel::arm64
