// esr.h — decoding ESR_ELx into words a person can act on.
//
// Portable (host-tested in esr_test.cc). Arm ARM (DDI 0487J.a) D19.2
// "ESR_EL1": EC [31:26], IL [25], ISS [24:0]; for aborts ISS holds the
// fault status code (DFSC/IFSC [5:0]) and, for data aborts, WnR [6] and CM [8].
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace keel::arm64 {

constexpr uint32_t esr_ec(uint64_t esr) { return static_cast<uint32_t>((esr >> 26) & 0x3f); }

namespace ec {
constexpr uint32_t kUnknown = 0x00;
constexpr uint32_t kFpAccess = 0x07;  // trapped FP/SIMD access (CPACR_EL1.FPEN)
constexpr uint32_t kSvc64 = 0x15;
constexpr uint32_t kInstAbortLower = 0x20;
constexpr uint32_t kInstAbortSame = 0x21;
constexpr uint32_t kPcAlign = 0x22;
constexpr uint32_t kDataAbortLower = 0x24;
constexpr uint32_t kDataAbortSame = 0x25;
constexpr uint32_t kSpAlign = 0x26;
constexpr uint32_t kSError = 0x2f;
constexpr uint32_t kBrk = 0x3c;
}  // namespace ec

// Name of an exception class, e.g. "data abort, same EL".
const char* exception_class_name(uint32_t ec);

// Name of an abort fault status code without level, e.g. "translation fault".
const char* fault_status_name(uint32_t fsc);
// The level a fault status code refers to, or -1 if none.
int fault_status_level(uint32_t fsc);

// The vector table slot (0..15, VBAR offset / 0x80) an exception came
// through: where from ("current EL with SP_ELx", ...) and what kind
// ("synchronous", "IRQ", "FIQ", "SError"). Arm ARM D1.10.2 "Exception vectors".
const char* vector_origin(uint64_t slot);
const char* vector_kind(uint64_t slot);

// Writes a one-line meaning of the exception into buf, e.g.
// "translation fault, level 2, on instruction fetch". Returns its length.
size_t describe_esr(uint64_t esr, char* buf, size_t size);

}  // namespace keel::arm64
