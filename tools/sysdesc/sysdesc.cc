// sysdesc — checks a system description and writes its binary form (the
// boot module "system" that init reads).
//
//   sysdesc --in=keel.system --out=system.bin --modules=init,uart,memory,...
//
// Exit 1 with "FILE: line N: reason" for anything init could not start.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tools/sysdesc/parse.h"

ABSL_FLAG(std::string, in, "", "system description (text)");
ABSL_FLAG(std::string, out, "", "binary description to write");
ABSL_FLAG(std::vector<std::string>, modules, {}, "the image's boot modules, comma-separated");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string in = absl::GetFlag(FLAGS_in);
  std::ifstream f(in, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "sysdesc: cannot read %s\n", in.c_str());
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto sys = keel::tools::parse_system(text, absl::GetFlag(FLAGS_modules));
  if (!sys.ok()) {
    std::fprintf(stderr, "%s: %s\n", in.c_str(), std::string(sys.status().message()).c_str());
    return 1;
  }
  std::ofstream out(absl::GetFlag(FLAGS_out), std::ios::binary);
  out.write(reinterpret_cast<const char*>(&*sys), sizeof *sys);
  if (!out) {
    std::fprintf(stderr, "sysdesc: cannot write %s\n", absl::GetFlag(FLAGS_out).c_str());
    return 1;
  }
  return 0;
}
