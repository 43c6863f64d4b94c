// mkimage — packs the physical stage and the kernel ELF into one bootable
// Linux-arm64-format image (layout: kernel/boot/manifest.h).
//
//   mkimage --boot=boot.elf --kernel=kernel.elf --out=image.bin
//           [--inject=NAME] [--selftest=NAME]
//
// Refuses (exit 1, with the reason) any input the boot path could not run:
// a boot ELF that is not a PIE at 0 or lacks the header/manifest symbols, a
// kernel not linked at layout::kKernelVirtBase, unaligned or W+X segments,
// misaligned vectors.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kernel/boot/layout.h"
#include "kernel/boot/manifest.h"
#include "kernel/lib/elf/elf.h"

ABSL_FLAG(std::string, boot, "", "physical-stage ELF (PIE linked at 0)");
ABSL_FLAG(std::string, kernel, "", "kernel ELF (linked in the high half)");
ABSL_FLAG(std::string, out, "", "image file to write");
ABSL_FLAG(std::string, inject, "none", "boot fault to inject (fault-injection test images)");
ABSL_FLAG(std::string, selftest, "none", "kernel self-test to run after the banner");

namespace keel::tools {
namespace {

using boot::ImageManifest;
using boot::Inject;
using boot::Selftest;

constexpr uint64_t kPage = 4096;
uint64_t page_up(uint64_t x) { return (x + kPage - 1) & ~(kPage - 1); }

absl::StatusOr<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

absl::StatusOr<elf::File> open_elf(const std::vector<uint8_t>& bytes, const std::string& what) {
  Result<elf::File> f = elf::File::open(bytes.data(), bytes.size());
  if (!f.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", elf::last_error()));
  return f.value();
}

absl::StatusOr<uint64_t> symbol(const elf::File& f, const char* name, const std::string& what) {
  Result<uint64_t> r = f.symbol(name);
  if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat(what, " has no symbol ", name));
  return r.value();
}

template <typename E>
absl::StatusOr<E> parse_enum(const std::string& s, const char* (*name)(E), int count, const char* flag) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    E e = static_cast<E>(i);
    if (s == name(e)) return e;
    names.push_back(name(e));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("--%s=%s is not one of: %s", flag, s, absl::StrJoin(names, ", ")));
}

absl::Status run() {
  const std::string boot_path = absl::GetFlag(FLAGS_boot), kernel_path = absl::GetFlag(FLAGS_kernel),
                    out_path = absl::GetFlag(FLAGS_out);
  if (boot_path.empty() || kernel_path.empty() || out_path.empty()) {
    return absl::InvalidArgumentError("--boot, --kernel and --out are required");
  }
  auto inject = parse_enum<Inject>(absl::GetFlag(FLAGS_inject), boot::inject_name, 8, "inject");
  if (!inject.ok()) return inject.status();
  auto selftest = parse_enum<Selftest>(absl::GetFlag(FLAGS_selftest), boot::selftest_name, 3, "selftest");
  if (!selftest.ok()) return selftest.status();

  auto boot_bytes = read_file(boot_path);
  if (!boot_bytes.ok()) return boot_bytes.status();
  auto kernel_bytes = read_file(kernel_path);
  if (!kernel_bytes.ok()) return kernel_bytes.status();
  auto bootf = open_elf(*boot_bytes, boot_path);
  if (!bootf.ok()) return bootf.status();
  auto kern = open_elf(*kernel_bytes, kernel_path);
  if (!kern.ok()) return kern.status();

  // Physical stage: a PIE whose segments are laid out flat from offset 0.
  if (bootf->type() != elf::kTypeDyn) return absl::InvalidArgumentError("the boot ELF must be a PIE");
  auto phys_end = symbol(*bootf, "__phys_end", boot_path);
  if (!phys_end.ok()) return phys_end.status();
  if (*phys_end % kPage != 0) return absl::InvalidArgumentError("__phys_end is not page aligned");
  std::vector<uint8_t> image(*phys_end + kPage, 0);
  for (size_t i = 0; i < bootf->segment_count(); ++i) {
    elf::Segment s = bootf->segment(i);
    if (s.type != elf::kPtLoad) continue;
    if (s.vaddr + s.mem_size > *phys_end) return absl::InvalidArgumentError("a boot segment lies past __phys_end");
    std::memcpy(image.data() + s.vaddr, bootf->segment_data(s), s.file_size);
  }
  uint32_t magic;
  std::memcpy(&magic, image.data() + boot::kImageHeaderMagicOffset, 4);
  if (magic != boot::kImageHeaderMagic) return absl::InvalidArgumentError("the boot ELF does not start with an arm64 Image header");

  // Kernel: segments at their VA offsets after the manifest page.
  ImageManifest m{};
  m.magic = boot::kManifestMagic;
  m.version = boot::kManifestVersion;
  m.inject = *inject;
  m.selftest = *selftest;
  m.kernel_offset = *phys_end + kPage;
  m.kernel_vbase = UINT64_MAX;
  uint64_t vend = 0;
  std::vector<elf::Segment> segs;
  for (size_t i = 0; i < kern->segment_count(); ++i) {
    elf::Segment s = kern->segment(i);
    if (s.type != elf::kPtLoad || s.mem_size == 0) continue;
    if (s.vaddr % kPage != 0) return absl::InvalidArgumentError(absl::StrFormat("kernel segment at 0x%x is not page aligned", s.vaddr));
    if ((s.flags & elf::kPfW) && (s.flags & elf::kPfX)) {
      return absl::InvalidArgumentError(absl::StrFormat("kernel segment at 0x%x is writable and executable", s.vaddr));
    }
    if (s.vaddr < layout::kKernelVirtBase || s.vaddr + s.mem_size > layout::kKernelVirtLimit) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "kernel segment at 0x%x lies outside the kernel image window [0x%x, 0x%x) (layout.h)", s.vaddr,
          layout::kKernelVirtBase, layout::kKernelVirtLimit));
    }
    segs.push_back(s);
    m.kernel_vbase = std::min(m.kernel_vbase, s.vaddr);
    vend = std::max(vend, page_up(s.vaddr + s.mem_size));
  }
  if (segs.empty() || segs.size() > boot::kMaxKernelSegments) {
    return absl::InvalidArgumentError(absl::StrFormat("the kernel has %d loadable segments (1..%d allowed)", segs.size(), boot::kMaxKernelSegments));
  }
  if (m.kernel_vbase != layout::kKernelVirtBase) {
    return absl::InvalidArgumentError(absl::StrFormat("the kernel is linked at 0x%x, layout::kKernelVirtBase is 0x%x",
                                                      m.kernel_vbase, layout::kKernelVirtBase));
  }
  m.kernel_span = vend - m.kernel_vbase;
  m.segment_count = static_cast<uint32_t>(segs.size());
  uint64_t file_end = m.kernel_offset;
  for (size_t i = 0; i < segs.size(); ++i) {
    const elf::Segment& s = segs[i];
    uint64_t off = m.kernel_offset + (s.vaddr - m.kernel_vbase);
    m.segments[i] = boot::ManifestSegment{s.vaddr, off, s.file_size, s.mem_size, s.flags, 0};
    if (image.size() < off + s.file_size) image.resize(off + s.file_size, 0);
    std::memcpy(image.data() + off, kern->segment_data(s), s.file_size);
    file_end = std::max(file_end, off + s.file_size);
  }
  m.image_size = m.kernel_offset + m.kernel_span;
  m.kernel_entry = kern->entry();
  for (auto [field, name] : {std::pair{&m.kernel_vectors, "kernel_vectors"},
                             std::pair{&m.kernel_stack_bottom, "__kernel_stack_bottom"},
                             std::pair{&m.kernel_stack_top, "__kernel_stack_top"}}) {
    auto v = symbol(*kern, name, kernel_path);
    if (!v.ok()) return v.status();
    *field = *v;
  }
  if (m.kernel_vectors % 2048 != 0) return absl::InvalidArgumentError("kernel_vectors is not 2 KiB aligned");
  if (m.kernel_entry < m.kernel_vbase || m.kernel_entry >= vend) return absl::InvalidArgumentError("the kernel entry point is outside its image");

  std::memcpy(image.data() + *phys_end, &m, sizeof m);
  std::memcpy(image.data() + boot::kImageHeaderImageSizeOffset, &m.image_size, 8);
  image.resize(file_end);

  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", out_path));
  return absl::OkStatus();
}

}  // namespace
}  // namespace keel::tools

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("packs the keel physical stage and kernel into a bootable arm64 Image");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = keel::tools::run();
  if (!s.ok()) {
    std::fprintf(stderr, "mkimage: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
