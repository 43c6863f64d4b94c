#include "tools/mkimage/pack.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernel/boot/layout.h"
#include "kernel/lib/elf/elf.h"

namespace keel::tools {
namespace {

using boot::ImageManifest;

constexpr uint64_t kPage = 4096;
uint64_t page_up(uint64_t x) { return (x + kPage - 1) & ~(kPage - 1); }

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

}  // namespace

absl::StatusOr<std::vector<uint8_t>> pack_image(const std::vector<uint8_t>& boot_bytes,
                                                const std::vector<uint8_t>& kernel_bytes, boot::Inject inject,
                                                boot::Selftest selftest, const std::vector<Module>& modules,
                                                uint32_t flags) {
  auto bootf = open_elf(boot_bytes, "the boot ELF");
  if (!bootf.ok()) return bootf.status();
  auto kern = open_elf(kernel_bytes, "the kernel ELF");
  if (!kern.ok()) return kern.status();

  // Physical stage: a PIE whose segments are laid out flat from offset 0.
  if (bootf->type() != elf::kTypeDyn) return absl::InvalidArgumentError("the boot ELF must be a PIE");
  auto phys_end = symbol(*bootf, "__phys_end", "the boot ELF");
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
  if (magic != boot::kImageHeaderMagic)
    return absl::InvalidArgumentError("the boot ELF does not start with an arm64 Image header");

  // Kernel: segments at their VA offsets after the manifest page.
  ImageManifest m{};
  m.magic = boot::kManifestMagic;
  m.version = boot::kManifestVersion;
  m.inject = inject;
  m.selftest = selftest;
  m.flags = flags;
  m.kernel_offset = *phys_end + kPage;
  m.kernel_vbase = UINT64_MAX;
  uint64_t vend = 0;
  std::vector<elf::Segment> segs;
  for (size_t i = 0; i < kern->segment_count(); ++i) {
    elf::Segment s = kern->segment(i);
    if (s.type != elf::kPtLoad || s.mem_size == 0) continue;
    if (s.vaddr % kPage != 0)
      return absl::InvalidArgumentError(absl::StrFormat("kernel segment at 0x%x is not page aligned", s.vaddr));
    if ((s.flags & elf::kPfW) && (s.flags & elf::kPfX)) {
      return absl::InvalidArgumentError(absl::StrFormat("kernel segment at 0x%x is writable and executable", s.vaddr));
    }
    if (s.vaddr < layout::kKernelVirtBase || s.vaddr + s.mem_size > layout::kKernelVirtLimit) {
      return absl::InvalidArgumentError(
          absl::StrFormat("kernel segment at 0x%x lies outside the kernel image window [0x%x, 0x%x) (layout.h)",
                          s.vaddr, layout::kKernelVirtBase, layout::kKernelVirtLimit));
    }
    segs.push_back(s);
    m.kernel_vbase = std::min(m.kernel_vbase, s.vaddr);
    vend = std::max(vend, page_up(s.vaddr + s.mem_size));
  }
  if (segs.empty() || segs.size() > boot::kMaxKernelSegments) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the kernel has %d loadable segments (1..%d allowed)", segs.size(), boot::kMaxKernelSegments));
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
  for (auto [field, name] :
       {std::pair{&m.kernel_vectors, "kernel_vectors"}, std::pair{&m.kernel_stack_bottom, "__kernel_stack_bottom"},
        std::pair{&m.kernel_stack_top, "__kernel_stack_top"}}) {
    auto v = symbol(*kern, name, "the kernel ELF");
    if (!v.ok()) return v.status();
    *field = *v;
  }
  if (m.kernel_vectors % 2048 != 0) return absl::InvalidArgumentError("kernel_vectors is not 2 KiB aligned");
  if (m.kernel_entry < m.kernel_vbase || m.kernel_entry >= vend)
    return absl::InvalidArgumentError("the kernel entry point is outside its image");

  // Boot modules: after the kernel's memory image (its bss included), page aligned.
  if (modules.size() > boot::kMaxModules) {
    return absl::InvalidArgumentError(absl::StrFormat("%d modules; at most %d", modules.size(), boot::kMaxModules));
  }
  uint64_t next = page_up(m.image_size);
  for (const Module& mod : modules) {
    if (mod.name.empty() || mod.name.size() >= boot::kModuleNameSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("module name '", mod.name, "' must be 1..", boot::kModuleNameSize - 1, " characters"));
    }
    Result<elf::File> f = elf::File::open(mod.bytes.data(), mod.bytes.size());
    if (mod.elf && !f.ok())
      return absl::InvalidArgumentError(absl::StrCat("module ", mod.name, ": ", elf::last_error()));
    boot::ManifestModule& mm = m.modules[m.module_count++];
    std::memcpy(mm.name, mod.name.data(), mod.name.size());
    mm.offset = next;
    mm.size = mod.bytes.size();
    image.resize(next + mod.bytes.size(), 0);
    std::memcpy(image.data() + next, mod.bytes.data(), mod.bytes.size());
    file_end = next + mod.bytes.size();
    next = page_up(file_end);
  }
  if (!modules.empty()) m.image_size = page_up(file_end);

  std::memcpy(image.data() + *phys_end, &m, sizeof m);
  std::memcpy(image.data() + boot::kImageHeaderImageSizeOffset, &m.image_size, 8);
  image.resize(file_end);

  return image;
}

}  // namespace keel::tools
