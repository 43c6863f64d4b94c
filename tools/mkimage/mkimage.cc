// mkimage — packs the physical stage and the kernel ELF into one bootable
// Linux-arm64-format image (layout: kernel/boot/manifest.h).
//
//   mkimage --boot=boot.elf --kernel=kernel.elf --out=image.bin
//           [--inject=NAME] [--selftest=NAME] [--invariants]
//
// Refuses (exit 1, with the reason) any input the boot path could not run:
// a boot ELF that is not a PIE at 0 or lacks the header/manifest symbols, a
// kernel not linked at layout::kKernelVirtBase, unaligned or W+X segments,
// misaligned vectors.
#include <cstdint>
#include <cstdio>
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
#include "kernel/boot/manifest.h"
#include "tools/mkimage/pack.h"

ABSL_FLAG(std::string, boot, "", "physical-stage ELF (PIE linked at 0)");
ABSL_FLAG(std::string, kernel, "", "kernel ELF (linked in the high half)");
ABSL_FLAG(std::string, out, "", "image file to write");
ABSL_FLAG(std::string, inject, "none", "boot fault to inject (fault-injection test images)");
ABSL_FLAG(std::vector<std::string>, module, {}, "boot modules as NAME=ELF, comma-separated (init first)");
ABSL_FLAG(std::vector<std::string>, data_module, {}, "data boot modules (not ELF) as NAME=FILE, after the others");
ABSL_FLAG(std::string, selftest, "none", "kernel self-test to run after the banner");
ABSL_FLAG(bool, invariants, false, "the kernel checks its invariants after every syscall (test images)");

namespace keel::tools {
namespace {

using boot::Inject;
using boot::Selftest;

absl::StatusOr<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

template <typename E>
absl::StatusOr<E> parse_enum(const std::string& s, const char* (*name)(E), int count, const char* flag) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    E e = static_cast<E>(i);
    if (s == name(e)) return e;
    names.push_back(name(e));
  }
  return absl::InvalidArgumentError(absl::StrFormat("--%s=%s is not one of: %s", flag, s, absl::StrJoin(names, ", ")));
}

absl::Status run() {
  const std::string boot_path = absl::GetFlag(FLAGS_boot), kernel_path = absl::GetFlag(FLAGS_kernel),
                    out_path = absl::GetFlag(FLAGS_out);
  if (boot_path.empty() || kernel_path.empty() || out_path.empty()) {
    return absl::InvalidArgumentError("--boot, --kernel and --out are required");
  }
  auto inject = parse_enum<Inject>(absl::GetFlag(FLAGS_inject), boot::inject_name, 8, "inject");
  if (!inject.ok()) return inject.status();
  auto selftest = parse_enum<Selftest>(absl::GetFlag(FLAGS_selftest), boot::selftest_name, 6, "selftest");
  if (!selftest.ok()) return selftest.status();
  auto boot_bytes = read_file(boot_path);
  if (!boot_bytes.ok()) return boot_bytes.status();
  auto kernel_bytes = read_file(kernel_path);
  if (!kernel_bytes.ok()) return kernel_bytes.status();
  std::vector<Module> modules;
  for (bool elf : {true, false}) {
    for (const std::string& spec : absl::GetFlag(elf ? FLAGS_module : FLAGS_data_module)) {
      size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0)
        return absl::InvalidArgumentError("modules are given as NAME=FILE, got '" + spec + "'");
      auto bytes = read_file(spec.substr(eq + 1));
      if (!bytes.ok()) return bytes.status();
      modules.push_back(Module{spec.substr(0, eq), std::move(*bytes), elf});
    }
  }
  auto image = pack_image(*boot_bytes, *kernel_bytes, *inject, *selftest, modules,
                          absl::GetFlag(FLAGS_invariants) ? boot::kImageFlagInvariants : 0);
  if (!image.ok()) return image.status();
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(image->data()), static_cast<std::streamsize>(image->size()));
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
