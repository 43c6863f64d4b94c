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
  uint64_t h = 0xcbf29ce484222325ull;
  int bad = 0;
  for (uint32_t b = 0; b < blocks; ++b) {
    const uint8_t* p = img.data() + off + uint64_t{b} * 4096;
    auto u32 = [&](int i) {
      return uint32_t{p[i]} | uint32_t{p[i + 1]} << 8 | uint32_t{p[i + 2]} << 16 | uint32_t{p[i + 3]} << 24;
    };
    uint32_t version = 0;
    if (u32(0) == 0x5254534b) {
      version = u32(8);
      bool ok = u32(4) == b && u32(12) == ~(b ^ version);
      for (uint32_t i = 16; ok && i < 4096; ++i)
        ok = p[i] == static_cast<uint8_t>((b * 131u + version * 31u + i * 7u + (i >> 8)) & 0xff);
      if (!ok) {
        std::fprintf(stderr, "stress_check: block %u is not a whole pattern (version %u)\n", b, version);
        ++bad;
      }
    } else {
      for (int i = 0; i < 4096; ++i) {
        if (p[i] != 0) {
          std::fprintf(stderr, "stress_check: block %u is neither a pattern nor untouched\n", b);
          ++bad;
          break;
        }
      }
    }
    for (int i = 0; i < 4; ++i) h = (h ^ ((version >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  }
  if (bad != 0 || h != want) {
    std::fprintf(stderr, "stress_check: FAIL: %d bad blocks; versions hash %016llx, the guest said %016llx\n", bad,
                 static_cast<unsigned long long>(h), static_cast<unsigned long long>(want));
    return 1;
  }
  std::printf("stress_check: PASS: %llu blocks, each exactly its last written pattern (hash %016llx)\n",
              static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(h));
  return 0;
}
