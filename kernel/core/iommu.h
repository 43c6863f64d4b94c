// iommu.h — the kernel drives the SMMUv3 (its registers and interrupts are
// withheld from user space like the GIC's): DMA of PCIe devices is
// confined to what an IoSpace maps (objects.md: IoControl, IoSpace).
//
// At boot every stream ID aborts: its Stream Table Entry is invalid, so
// the SMMU refuses the device's every request and records C_BAD_STE — a
// device nobody was given cannot DMA at all, and its attempts are
// reported. IoControl::Bind points one stream's STE at a Context
// Descriptor whose TTB0 is the IoSpace's root table (stage 1, the same
// descriptor format the CPU walks). Unmapping a page, removing a table or
// destroying the IoSpace returns only after the SMMU's TLB entries for it
// were invalidated and a CMD_SYNC completed: memory leaves an IoSpace
// synchronously. Each event is decoded and reported with the stream's
// owner (the label given at Bind) and counted per stream (IoSpace::Faults).
//
// All of it runs under the kernel lock: commands are issued and completed
// by one CPU at a time.
#pragma once

#include <stdint.h>

#include "kernel/boot/boot_info.h"
#include "kernel/core/lock.h"
#include "kernel/dtb/dtb.h"
#include "kernel/lib/status.h"

namespace keel {

// Stream IDs the stream table covers (a stream beyond it: C_BAD_STREAMID,
// aborted). 256: every requester ID of PCI bus 0.
constexpr uint32_t kIommuStreams = 256;

// At boot, after the GIC (its event interrupt is the kernel's): maps and
// resets the SMMU the DTB names, every stream aborting, and enables it.
// False (DMA stays unconfined, and the boot log says so) without one, or
// with one keel cannot use (no stage 1, no AArch64 4 KiB tables, not
// coherent).
bool iommu_init(const boot::BootInfo& bi, const dtb::DtbInfo& dt);
bool iommu_present();
uint32_t iommu_event_intid();  // 0: none (then events are read at each Faults call)

// Points stream's STE at the IoSpace rooted at root_pa. kInvalidArgument:
// no IOMMU, a stream beyond the table; kSlotOccupied: bound already.
Status iommu_bind(uint32_t stream, uint64_t root_pa, uint64_t label) KEEL_REQUIRES(g_kernel_lock);
// The stream aborts again (its IoSpace is being destroyed): STE invalid,
// its cached configuration and translations invalidated, synchronized.
void iommu_unbind(uint32_t stream) KEEL_REQUIRES(g_kernel_lock);
// One IO virtual page (a leaf went), or every translation of the stream (a
// table went): invalidated, synchronized.
void iommu_flush_page(uint32_t stream, uint64_t iova) KEEL_REQUIRES(g_kernel_lock);
void iommu_flush_stream(uint32_t stream) KEEL_REQUIRES(g_kernel_lock);
// Reads and reports the event queue (its interrupt, or a Faults call).
void iommu_drain_events() KEEL_REQUIRES(g_kernel_lock);
// Events recorded for the stream since it was bound, the last faulting IOVA.
void iommu_faults(uint32_t stream, uint64_t* count, uint64_t* last_iova) KEEL_REQUIRES(g_kernel_lock);
// For the invariant checker: the root the stream is bound to (0: none).
uint64_t iommu_stream_root(uint32_t stream) KEEL_REQUIRES(g_kernel_lock);

}  // namespace keel
