// invariants.h — the kernel's invariant checker (images built with
// `invariants = True`: the security suite and the syscall fuzzer).
//
// After every syscall it checks, under the big lock, what docs/security.md
// promises whatever user space does; a violation is a KERNEL PANIC naming
// the rule ("invariant violated: <rule>"). Off in the normal image, where
// it costs one load per syscall.
//
//   derivation tree  one list from mdb_anchor(), links both ways, no
//                    empty slot in it, depth steps down by at most one (a
//                    removed capability's subtree moves up with it);
//   mappings         every table entry and leaf reachable in a live address
//                    space has exactly one capability recording it, and
//                    every record of a live space that matches the tables
//                    is reachable (counted per page: PageInfo scratch);
//                    installed tables are exactly those with a record;
//   threads          a thread with a space holds it (as_root, a live space);
//                    without one it never runs or waits; its state agrees
//                    with the queue it is in and with its reply partners;
//                    every pointer to a thread, endpoint, notification or
//                    reply names a live object;
//   queues           run queues (scheduler.h check), endpoint and
//                    notification queues: links, states, no cycles;
//   ASIDs            live ASIDs distinct, owned in the pool, and what each
//                    CPU runs in TTBR0 is a live space with its current ASID;
//   IO mappings      IoSpaces as address spaces, RAM only, never executable, each bound
//                    one's root in the SMMU's stream table;
//   kernel image     its text and rodata hash as at boot (every 64 checks:
//                    no store and no device's DMA changed them).
#pragma once

#include <stdint.h>

#include "kernel/core/lock.h"

namespace keel {

// Turns the checker on (boot: the image's kImageFlagInvariants). Pages of
// [image_pa, image_pa + image_size) may be mapped without capabilities
// (init's boot modules).
// [image_pa, +image_size) and [dtb_pa, +dtb_size): what init sees mapped
// with no capability (its boot modules, the DTB), read-only.
void invariants_enable(uint64_t image_pa, uint64_t image_size, uint64_t dtb_pa, uint64_t dtb_size);

// Runs the checks; panics naming the first broken rule.
void check_invariants_now() KEEL_REQUIRES(g_kernel_lock);

extern bool g_invariants_on;         // set once at boot
extern uint64_t g_invariants_every;  // check after every Nth call (boot argument keel.check_every=N; default 1)
extern uint64_t g_invariants_count;
// After every syscall: one load when the checker is off.
inline void check_invariants() KEEL_REQUIRES(g_kernel_lock) {
  if (__builtin_expect(g_invariants_on, false) && ++g_invariants_count % g_invariants_every == 0) {
    check_invariants_now();
  }
}

// Reads keel.check_every=N from the boot arguments (long fuzz runs trade
// checks for calls).
void invariants_configure(const char* bootargs);

}  // namespace keel
