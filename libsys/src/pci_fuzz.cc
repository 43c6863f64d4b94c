// pci_fuzz — libFuzzer target: the PCI library on hostile input. An input
// starting with 0xd0 (a DTB's magic) is a DTB for find_host; any other is
// a config space whose every read comes from the input (devices that
// answer nonsense: BAR masks of any shape, all functions present, bridges).
// Oracle: the sanitizers, and what assign promises: every placed BAR lies
// inside a memory window, aligned to its size, and no two overlap.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "keel/pci.h"

namespace {

struct FuzzConfig final : keel::pci::Config {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  uint32_t read32(uint32_t bdf, uint32_t offset) override {
    if (size == 0) return 0xffffffffu;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | data[(at++ + bdf + offset) % size];
    return v;
  }
  void write32(uint32_t, uint32_t, uint32_t) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keel::pci;
  if (size > 0 && data[0] == 0xd0) {
    std::vector<uint64_t> aligned((size + 7) / 8 + 1);
    memcpy(aligned.data(), data, size);
    Host h;
    if (find_host(aligned.data(), size, 0, &h) != keel::Status::kOk) return 0;
    if (h.window_count > kMaxWindows || h.route_count > kMaxRoutes || h.bus_last > 255) __builtin_trap();
    return 0;
  }
  Host h;
  h.bus_last = 0;
  h.windows[h.window_count++] = {.kind = Window::kMem32,
                                 .prefetchable = false,
                                 .pci_base = 0x1000'0000,
                                 .cpu_base = 0x1000'0000,
                                 .size = 0x1000'0000};
  h.windows[h.window_count++] = {.kind = Window::kMem64,
                                 .prefetchable = true,
                                 .pci_base = 0x80'0000'0000,
                                 .cpu_base = 0x80'0000'0000,
                                 .size = 0x80'0000'0000};
  FuzzConfig config;
  config.data = data;
  config.size = size;
  Function fs[64];
  const size_t n = enumerate(config, h, fs, 64);
  const size_t count = n < 64 ? n : 64;
  (void)assign(config, h, fs, count);
  struct Placed {
    uint64_t base, size;
  };
  std::vector<Placed> placed;
  for (size_t i = 0; i < count; ++i) {
    for (const Bar& b : fs[i].bars) {
      if (b.cpu_address == 0) continue;
      bool inside = false;
      for (size_t w = 0; w < h.window_count; ++w) {
        const Window& win = h.windows[w];
        inside |= win.kind != Window::kIo && b.pci_address >= win.pci_base &&
                  b.pci_address + b.size <= win.pci_base + win.size && b.pci_address + b.size > b.pci_address;
      }
      if (!inside || b.size == 0 || (b.size >= 4096 && b.pci_address % b.size != 0)) __builtin_trap();
      for (const Placed& p : placed) {
        if (b.pci_address < p.base + p.size && p.base < b.pci_address + b.size) __builtin_trap();
      }
      placed.push_back({b.pci_address, b.size});
    }
  }
  // The driver-write policy on a hostile capability list: it ends, and
  // never lets a write into the header (but Command) or extended space.
  if (size >= 3) {
    const uint32_t offset = (uint32_t{data[1]} << 4 | data[2]) & 0xfff, width = 1u << (data[0] % 3);
    const keel::Status s = check_config_access(config, 0, offset, width, true);
    const bool command = offset == kCommandStatus || offset == kCommandStatus + 1;
    if (s == keel::Status::kOk && ((offset < 0x40 && !command) || offset >= 0x100)) __builtin_trap();
    if (s == keel::Status::kOk && offset % width != 0) __builtin_trap();
  }
  return 0;
}
