// stress_check IMAGE OFFSET BLOCKS HASH — the host's side of
// //test/devices:blk_restarts: each 4 KiB block of the partition at OFFSET
// in the image must be exactly one of disk_stress's patterns (its block
// number and a version, every byte), and the FNV-1a hash of the versions
// must be the one the guest printed (each block holds its last write).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "test/devices/stress_pattern.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: stress_check IMAGE OFFSET BLOCKS HASH\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<uint8_t> img((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const uint64_t off = std::strtoull(argv[2], nullptr, 0), blocks = std::strtoull(argv[3], nullptr, 0);
  const uint64_t want = std::strtoull(argv[4], nullptr, 16);
  if (off + blocks * 4096 > img.size()) {
    std::fprintf(stderr, "stress_check: FAIL: the image is too small\n");
    return 1;
  }
  std::vector<uint32_t> versions(blocks);
  int bad = 0;
  for (uint32_t b = 0; b < blocks; ++b) {
    const uint8_t* p = img.data() + off + uint64_t{b} * keel::stress::kBlockBytes;
    versions[b] = keel::stress::version_of(p);
    bool ok = versions[b] != 0 ? keel::stress::holds(p, b, versions[b]) : true;
    for (uint32_t i = 0; ok && versions[b] == 0 && i < keel::stress::kBlockBytes; ++i) ok = p[i] == 0;
    if (!ok) {
      std::fprintf(stderr, "stress_check: block %u is neither exactly a pattern (version %u) nor untouched\n", b,
                   versions[b]);
      ++bad;
    }
  }
  const uint64_t h = keel::stress::versions_hash(versions.data(), static_cast<uint32_t>(blocks));
  if (bad != 0 || h != want) {
    std::fprintf(stderr, "stress_check: FAIL: %d bad blocks; versions hash %016llx, the guest said %016llx\n", bad,
                 static_cast<unsigned long long>(h), static_cast<unsigned long long>(want));
    return 1;
  }
  std::printf("stress_check: PASS: %llu blocks, each exactly its last written pattern (hash %016llx)\n",
              static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(h));
  return 0;
}
