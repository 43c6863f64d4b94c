// stress_pattern.h — what disk_stress writes into each 4 KiB block and
// stress_check looks for in the image (one definition for both sides): a
// 16-byte head (magic "KSTR", block, version, ~(block ^ version), little-
// endian) and then bytes that depend on block, version and position.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace keel::stress {

constexpr uint32_t kBlockBytes = 4096;
constexpr uint32_t kMagic = 0x5254534b;  // "KSTR"

constexpr uint8_t byte_at(uint32_t block, uint32_t version, uint32_t i) {
  if (i < 16) {
    const uint32_t head[4] = {kMagic, block, version, ~(block ^ version)};
    return static_cast<uint8_t>(head[i / 4] >> (8 * (i % 4)));
  }
  return static_cast<uint8_t>((block * 131u + version * 31u + i * 7u + (i >> 8)) & 0xff);
}
inline void fill(uint8_t* p, uint32_t block, uint32_t version) {
  for (uint32_t i = 0; i < kBlockBytes; ++i) p[i] = byte_at(block, version, i);
}
inline bool holds(const uint8_t* p, uint32_t block, uint32_t version) {
  for (uint32_t i = 0; i < kBlockBytes; ++i) {
    if (p[i] != byte_at(block, version, i)) return false;
  }
  return true;
}
// The version a block's head names (0 if it has none).
inline uint32_t version_of(const uint8_t* p) {
  auto u32 = [&](int i) {
    return uint32_t{p[i]} | uint32_t{p[i + 1]} << 8 | uint32_t{p[i + 2]} << 16 | uint32_t{p[i + 3]} << 24;
  };
  return u32(0) == kMagic ? u32(8) : 0;
}
// FNV-1a over every block's last version (the guest prints it; the host
// computes it from the image).
inline uint64_t versions_hash(const uint32_t* versions, uint32_t blocks) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint32_t b = 0; b < blocks; ++b) {
    for (int i = 0; i < 4; ++i) h = (h ^ ((versions[b] >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  }
  return h;
}

}  // namespace keel::stress
