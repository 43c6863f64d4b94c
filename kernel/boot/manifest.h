// manifest.h — the boot image format shared by tools/mkimage (writer), the
// physical boot stage (reader) and tests.
//
//   image offset 0                     +---------------------------------+
//     Linux arm64 Image header (64 B)  | physical stage (PIE, linked at 0)|
//     text, trampoline page, data      |   ... its bss, stacks, table pool|
//   align_up(phys end, 4 KiB)          +---------------------------------+
//                                      | ImageManifest (one page)        |
//   kernel_offset                      +---------------------------------+
//                                      | kernel segments, laid out as    |
//                                      | in VA from kernel_vbase; bss is |
//                                      | not stored (zeroed at boot)     |
//   align_up(kernel end, 4 KiB)        +---------------------------------+
//                                      | boot modules (init, ...), each  |
//                                      | page aligned                    |
//   image_size                         +---------------------------------+
//
// The physical stage finds the manifest at its own end (linker symbol
// __phys_end, page aligned), so no address is patched into code.
#pragma once

#include <stdint.h>

namespace keel::boot {

constexpr uint64_t kManifestMagic = 0x54534e4d4c45454bull;  // "KEELMNST" little-endian
constexpr uint32_t kManifestVersion = 1;
constexpr uint32_t kMaxKernelSegments = 8;
constexpr uint32_t kMaxModules = 16;
constexpr uint32_t kModuleNameSize = 24;

// Segment flags, as ELF p_flags.
constexpr uint32_t kSegX = 1, kSegW = 2, kSegR = 4;

struct ManifestSegment {
  uint64_t vaddr;      // page aligned
  uint64_t offset;     // from the image start, page aligned
  uint64_t file_size;  // bytes present in the image
  uint64_t mem_size;   // bytes mapped; [file_size, mem_size) is zeroed at boot
  uint32_t flags;      // kSegR | kSegW | kSegX
  uint32_t reserved;
};

// Faults the physical stage injects on purpose (fault-injection images), so
// that tests prove preflight reports each one by name instead of hanging.
enum class Inject : uint32_t {
  kNone = 0,
  kNoTrampolineMap = 1,           // TTBR0 lacks the trampoline's identity map
  kConsoleNormal = 2,             // console UART mapped as Normal memory
  kWrongMairIndex = 3,            // kernel text descriptors use an AttrIndx MAIR marks Device
  kNoKernelStack = 4,             // kernel stack left unmapped in TTBR1
  kBadTcrGranule = 5,             // TCR.TG1 written with TG0's 4 KiB encoding
  kPhysFault = 6,                 // the physical stage takes a data abort before the switch
  kUnmappedEntryNoPreflight = 7,  // kernel entry page unmapped and preflight skipped: the
                                  // switch then faults, and the trampoline-page vectors report it
};

// What the kernel does after its banner (self-test images).
enum class Selftest : uint32_t {
  kNone = 0,
  kDataAbort = 1,       // dereference an unmapped address: a decoded panic
  kPowerOff = 2,        // PSCI SYSTEM_OFF after the banner
  kPanicSmp = 3,        // panic once every CPU is online: one report, the other CPUs stop
  kSecondaryAbort = 4,  // CPU 1 dereferences an unmapped address: a panic report from a secondary
  kForgetRecord = 5,    // init's first frame loses its mapping record: the invariant checker must see it
};

// A boot module (a user program's ELF file, e.g. init), stored page aligned
// after the kernel's memory image.
struct ManifestModule {
  char name[kModuleNameSize];  // NUL-terminated
  uint64_t offset;             // from the image start, page aligned
  uint64_t size;               // bytes
};

struct ImageManifest {
  uint64_t magic;
  uint32_t version;
  uint32_t segment_count;
  uint64_t image_size;      // bytes from image start that boot needs, bss included
  uint64_t kernel_offset;   // image offset of kernel_vbase
  uint64_t kernel_vbase;    // lowest kernel VA (page aligned)
  uint64_t kernel_span;     // bytes from kernel_vbase to the end of the last segment (page aligned)
  uint64_t kernel_entry;    // VA of kernel_entry
  uint64_t kernel_vectors;  // VA of the kernel's exception vectors (2 KiB aligned)
  uint64_t kernel_stack_bottom;
  uint64_t kernel_stack_top;
  Inject inject;
  Selftest selftest;
  ManifestSegment segments[kMaxKernelSegments];
  uint32_t module_count;
  uint32_t flags;  // kImageFlag*
  ManifestModule modules[kMaxModules];
};

// ImageManifest::flags / BootInfo::flags.
constexpr uint32_t kImageFlagInvariants = 1;  // the kernel checks its invariants after every syscall

static_assert(sizeof(ImageManifest) <= 4096, "the manifest occupies one page");

// Linux arm64 Image header (Documentation/arch/arm64/booting.rst).
constexpr uint64_t kImageHeaderSize = 64;
constexpr uint64_t kImageHeaderImageSizeOffset = 0x10;
constexpr uint64_t kImageHeaderMagicOffset = 0x38;
constexpr uint32_t kImageHeaderMagic = 0x644d5241;  // "ARM\x64"

const char* inject_name(Inject i);
const char* selftest_name(Selftest s);

}  // namespace keel::boot
