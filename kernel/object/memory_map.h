// memory_map.h — turning the DTB's RAM into untyped memory regions.
//
// free = RAM - reserved (the loaded image with its tables and modules, the
// DTB, /memreserve/ and /reserved-memory entries), then cut into naturally
// aligned power-of-two blocks (the shape an Untyped capability describes),
// largest first within each free range. Portable and host-tested.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace keel::object {

struct Region {
  uint64_t base = 0;
  uint64_t size = 0;
};

struct UntypedBlock {
  uint64_t base = 0;
  unsigned size_bits = 0;
};

// Sorts regions by base and coalesces overlapping or touching ones in
// place; returns the new count. Empty regions are dropped.
size_t merge_regions(Region* regions, size_t count);

// Writes up to `cap` blocks into out (the ram regions must not overlap:
// merge_regions first if they may); returns how many blocks the memory
// needs in total (if more than cap, the rest is not described). Blocks are
// at least 2^min_bits bytes; smaller leftovers are dropped.
size_t carve_untyped(const Region* ram, size_t ram_count, const Region* reserved, size_t reserved_count,
                     unsigned min_bits, UntypedBlock* out, size_t cap);

// The highest page-aligned place for `size` bytes (rounded up to pages)
// inside one RAM region and clear of every reserved one; false if none.
// (The kernel's own boot-time allocations: the per-page records.)
bool place_at_top(const Region* ram, size_t ram_count, const Region* reserved, size_t reserved_count, uint64_t size,
                  uint64_t* out);

// Device memory for user space: the device ranges minus the withheld ones
// (hardware the kernel keeps), both widened to whole 4 KiB pages first, so
// no page holding any byte of a withheld range is ever described. Rounds,
// sorts and merges both arrays in place (*ndevices, *nwithheld updated);
// then carves like carve_untyped (4 KiB blocks at least).
size_t carve_device_untyped(Region* devices, size_t* ndevices, Region* withheld, size_t* nwithheld, UntypedBlock* out,
                            size_t cap);

}  // namespace keel::object
