#include "kernel/core/invariants.h"

#include "keel/abi.h"
#include "kernel/arch/arm64/page_table.h"
#include "kernel/arch/arm64/pte.h"
#include "kernel/boot/layout.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/fpu.h"
#include "kernel/core/iommu.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"
#include "kernel/object/thread.h"

namespace keel {
namespace {

using abi::ObjectType;
using object::PageInfo;
using object::PageKind;
using object::Slot;

uint64_t g_image_lo = 0, g_image_hi = 0, g_dtb_lo = 0, g_dtb_hi = 0;
constexpr uint64_t kMaxSlots = 1ull << 24;  // more capabilities than RAM could hold: a cycle
constexpr uint64_t kMaxThreads = 1ull << 20;

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

[[noreturn]] void violated(const char* rule, uint64_t a = 0, uint64_t b = 0) {
  panic("invariant violated: %s (0x%llx, 0x%llx)", rule, ull(a), ull(b));
}

uint64_t pa_of(const void* p) { return layout::linear_to_phys(reinterpret_cast<uint64_t>(p)); }

bool same_obj(const Slot* a, const Slot* b) {
  return a != nullptr && b != nullptr && !a->empty() && a->cap.type == b->cap.type && a->cap.object == b->cap.object;
}

using object::is_frame;

// ---- scratch in the per-page records ------------------------------------------
// While a check runs: a page that is not an address space or table (kind
// kNone) holding kernel objects has a mask of the 64-byte objects alive in
// it (asid | asid_gen << 32); a frame's or table's first page counts the
// mapping records that matched the tables (id). Both are zero again when a
// check ends.
uint64_t mask_of(const PageInfo& p) { return p.asid | (uint64_t{p.asid_gen} << 32); }
void set_mask(PageInfo* p, uint64_t m) {
  p->asid = static_cast<uint32_t>(m);
  p->asid_gen = static_cast<uint32_t>(m >> 32);
}

void mark_live(uint64_t pa) KEEL_REQUIRES(g_kernel_lock) {
  PageInfo* p = page_info(pa);
  if (p == nullptr || p->kind != PageKind::kNone) violated("a kernel object outside RAM or in a table page", pa);
  set_mask(p, mask_of(*p) | (1ull << ((pa >> 6) & 63)));
}

bool is_live(const void* object) KEEL_REQUIRES(g_kernel_lock) {
  const uint64_t pa = pa_of(object);
  const PageInfo* p = page_info(pa);
  return p != nullptr && p->kind == PageKind::kNone && ((mask_of(*p) >> ((pa >> 6) & 63)) & 1) != 0;
}

uint64_t g_device_records = 0;  // records of device frames that matched (no page record to count in)

// The entry a mapping record names, if its space is alive and the path exists.
const uint64_t* recorded_entry(const object::Capability& c, unsigned* entry_level) KEEL_REQUIRES(g_kernel_lock) {
  const object::MappingRecord m = object::MappingRecord::of(c);
  PageInfo* space = page_info(m.root);
  if (space == nullptr || (space->kind != PageKind::kAddressSpace && space->kind != PageKind::kIoSpace) ||
      space->id != m.space_id) {
    return nullptr;
  }
  const uint64_t va = m.va;
  const unsigned level = m.level;
  const unsigned at = is_frame(c.type) ? level : level - 1;
  uint64_t table = m.root;
  for (unsigned l = 0; l < at; ++l) {
    arm64::Pte e{layout::linear<uint64_t>(table)[arm64::level_index(va, l)]};
    if (!e.valid() || !e.table_or_page()) return nullptr;
    table = e.address();
  }
  *entry_level = at;
  return layout::linear<uint64_t>(table) + arm64::level_index(va, at);
}

bool record_matches(const object::Capability& c) KEEL_REQUIRES(g_kernel_lock) {
  unsigned at = 0;
  const uint64_t* e = recorded_entry(c, &at);
  if (e == nullptr) return false;
  arm64::Pte pte{*e};
  if (!pte.valid()) return false;
  if (!is_frame(c.type)) return at < 3 && pte.table_or_page() && pte.address() == c.object;
  return at == 3 ? pte.table_or_page() && pte.address() == c.object
                 : !pte.table_or_page() && at > 0 && pte.block_address(at) == c.object;
}

// ---- pass 1: the derivation tree, live objects, records -----------------------------
void check_tree() KEEL_REQUIRES(g_kernel_lock) {
  const Slot* anchor = mdb_anchor();
  if (!anchor->empty() || (anchor->sibling.next != nullptr && anchor->sibling.next != &anchor->sibling))
    violated("derivation tree: the anchor");
  uint64_t n = 0, table_records = 0;
  const Slot* run_start = nullptr;
  const Slot* prev = anchor;
  for (const Slot* x = object::preorder_next(anchor, anchor); x != nullptr;
       prev = x, x = object::preorder_next(x, anchor)) {
    if (++n > kMaxSlots) violated("derivation tree: a cycle");
    const object::MdbLink* const links[2] = {&x->sibling, &x->children};
    for (const object::MdbLink* l : links) {
      if (l->next == nullptr || l->prev == nullptr || l->next->prev != l || l->prev->next != l)
        violated("derivation tree: links not symmetric", pa_of(x));
    }
    if (x->empty()) violated("derivation tree: an empty slot in the tree", pa_of(x));
    const ObjectType t = x->cap.type;
    if (static_cast<unsigned>(t) >= static_cast<unsigned>(ObjectType::kCount))
      violated("a capability of no type", pa_of(x));
    if (!same_obj(prev, x)) {  // the first capability of its object (they are contiguous in preorder)
      run_start = x;
      table_records = 0;
      if (t == ObjectType::kThread || t == ObjectType::kEndpoint || t == ObjectType::kNotification ||
          t == ObjectType::kReply || t == ObjectType::kCNode) {
        mark_live(x->cap.object);
      }
      if (t == ObjectType::kAddressSpace) {
        const PageInfo* p = page_info(x->cap.object);
        if (p == nullptr || p->kind != PageKind::kAddressSpace)
          violated("an address space without its live record", x->cap.object);
      }
      if (t == ObjectType::kIoSpace) {
        const PageInfo* p = page_info(x->cap.object);
        if (p == nullptr || p->kind != PageKind::kIoSpace)
          violated("an IoSpace without its live record", x->cap.object);
      }
    }
    if ((is_frame(t) || t == ObjectType::kPageTable) && object::MappingRecord::in(x->cap)) {
      if (t == ObjectType::kPageTable) ++table_records;
      if (record_matches(x->cap)) {
        if (PageInfo* p = page_info(x->cap.object)) {
          ++p->id;
        } else {
          ++g_device_records;
        }
      }
    }
    if (const Slot* next = object::preorder_next(x, anchor);
        t == ObjectType::kPageTable && (next == nullptr || !same_obj(x, next))) {  // the last capability of a table
      const PageInfo* p = page_info(run_start->cap.object);
      const bool installed = p != nullptr && p->kind == PageKind::kInstalledTable;
      if (table_records > 1) violated("a page table with more than one mapping record", x->cap.object);
      if (installed != (table_records == 1))
        violated("a table is installed iff one capability records it", x->cap.object);
    }
  }
}

// ---- pass 2: objects -----------------------------------------------------------------
bool current_somewhere(const Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  for (size_t i = 0; i < kMaxCpus; ++i) {
    if (cpu_online(i) && cpu_current(i) == t) return true;
  }
  return false;
}

void check_thread(const Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  const uint64_t at = pa_of(t);
  if (static_cast<uint32_t>(t->state) > static_cast<uint32_t>(ThreadState::kStopped))
    violated("a thread state out of range", at);
  if (t->cpu >= kMaxCpus) violated("a thread on no CPU", at);
  if (t->fast_key != fast_key_of(t->ttbr0_gen, t->cpu, t->recv_reply != nullptr, t->fault_pending != 0)) {
    violated("a thread's fastpath-eligible word disagrees with its fields", at, t->fast_key);
  }
  if (!t->vspace_slot.empty()) {
    const PageInfo* p = page_info(t->as_root);
    if (t->vspace_slot.cap.object != t->as_root || p == nullptr || p->kind != PageKind::kAddressSpace) {
      violated("a thread's address space is not the live space it holds", at, t->as_root);
    }
    if ((t->vspace_slot.cap.flags & object::kFlagHeld) == 0)
      violated("a thread's own space reference is not marked held", at);
  } else if (t->state != ThreadState::kInactive && t->state != ThreadState::kStopped) {
    violated("a thread without an address space runs or waits", at, static_cast<uint64_t>(t->state));
  }
  const bool current = current_somewhere(t), queued = scheduler().contains(t);
  if (queued != (t->run_queued != 0)) violated("a thread's run_queued disagrees with the run queue", at);
  if (t->state == ThreadState::kRunnable ? current == queued : current || queued) {
    violated("a runnable thread is current or queued (exactly one), others neither", at,
             static_cast<uint64_t>(t->state));
  }
  const bool in_endpoint = t->state == ThreadState::kBlockedSend || t->state == ThreadState::kBlockedRecv;
  if (in_endpoint != (t->blocked_on != nullptr) || (t->blocked_on != nullptr && !is_live(t->blocked_on))) {
    violated("a thread's endpoint queue disagrees with its state", at);
  }
  if ((t->state == ThreadState::kBlockedWait) != (t->waiting_on != nullptr) ||
      (t->waiting_on != nullptr && !is_live(t->waiting_on))) {
    violated("a thread's notification queue disagrees with its state", at);
  }
  if (t->state == ThreadState::kBlockedReply) {
    if ((t->replier != nullptr) == (t->reply_object != nullptr)) violated("a caller waits on no reply, or on two", at);
    if (t->replier != nullptr && (!is_live(t->replier) || t->replier->reply_to != t)) {
      violated("a caller's replier does not hold it", at);
    }
    if (t->reply_object != nullptr && (!is_live(t->reply_object) || t->reply_object->caller != t)) {
      violated("a caller's Reply object does not hold it", at);
    }
  } else if (t->replier != nullptr || t->reply_object != nullptr) {
    violated("a thread that is not waiting for a reply has a replier", at);
  }
  if (t->reply_to != nullptr &&
      (!is_live(t->reply_to) || t->reply_to->replier != t || t->reply_to->state != ThreadState::kBlockedReply)) {
    violated("a receiver holds a caller that does not wait for it", at);
  }
  if (t->recv_reply != nullptr &&
      (!is_live(t->recv_reply) || t->recv_reply->receiver != t || t->state != ThreadState::kBlockedRecv)) {
    violated("a receiver's Reply object disagrees", at);
  }
  if (t->fault_pending != 0 && t->state != ThreadState::kBlockedSend && t->state != ThreadState::kBlockedReply) {
    violated("a fault message outstanding for a thread that does not send it", at);
  }
}

template <typename Check>
void check_queue(const ThreadQueue& q, const void* owner, Check fits) KEEL_REQUIRES(g_kernel_lock) {
  const Thread* prev = nullptr;
  uint64_t n = 0;
  for (const Thread* w = q.head; w != nullptr; prev = w, w = w->q_next) {
    if (++n > kMaxThreads) violated("a wait queue with a cycle", pa_of(owner));
    if (w->q_prev != prev) violated("a wait queue's links are not symmetric", pa_of(owner));
    if (!is_live(w)) violated("a wait queue holds a destroyed thread", pa_of(owner), pa_of(w));
    if (!fits(w)) violated("a thread in a wait queue disagrees with it", pa_of(owner), pa_of(w));
  }
  if (q.tail != prev) violated("a wait queue's tail is not its last thread", pa_of(owner));
}

void check_endpoint(const Endpoint* ep) KEEL_REQUIRES(g_kernel_lock) {
  if ((ep->state == EndpointState::kIdle) != ep->waiters.empty())
    violated("an endpoint's state disagrees with its queue", pa_of(ep));
  const ThreadState want = ep->state == EndpointState::kSenders ? ThreadState::kBlockedSend : ThreadState::kBlockedRecv;
  check_queue(ep->waiters, ep, [&](const Thread* w) { return w->blocked_on == ep && w->state == want; });
}

void check_notification(const Notification* n) KEEL_REQUIRES(g_kernel_lock) {
  check_queue(n->waiters, n,
              [&](const Thread* w) { return w->waiting_on == n && w->state == ThreadState::kBlockedWait; });
}

void check_reply(const Reply* r) KEEL_REQUIRES(g_kernel_lock) {
  if (r->caller != nullptr &&
      (!is_live(r->caller) || r->caller->reply_object != r || r->caller->state != ThreadState::kBlockedReply)) {
    violated("a Reply object holds a caller that does not wait on it", pa_of(r));
  }
  if (r->receiver != nullptr && (!is_live(r->receiver) || r->receiver->recv_reply != r)) {
    violated("a Reply object names a receiver that does not use it", pa_of(r));
  }
}

uint64_t g_asids_seen[4];

// Every entry reachable from a live space: tables are installed and counted
// once against their record, leaves against theirs.
void walk_table(uint64_t table, unsigned level, uint64_t va, bool io = false) KEEL_REQUIRES(g_kernel_lock) {
  const uint64_t* e = layout::linear<uint64_t>(table);
  for (uint64_t i = 0; i < arm64::kPageSize / 8; ++i) {
    arm64::Pte pte{e[i]};
    if (!pte.valid()) continue;
    const uint64_t at = va | (i << (39 - 9 * level));
    if (level == 0 && i >= 256) violated("a root entry above the user half", table, i);
    if (level < 3 && pte.table_or_page()) {
      PageInfo* p = page_info(pte.address());
      if (p == nullptr || p->kind != PageKind::kInstalledTable) violated("a table entry names no installed table", at);
      if (p->id == 0) violated("a reachable table without its one mapping record", at, pte.address());
      --p->id;
      walk_table(pte.address(), level + 1, at, io);
      continue;
    }
    if (level == 0) violated("a block at level 0", table, i);
    const uint64_t pa = level == 3 ? pte.address() : pte.block_address(level);
    if (pa >= g_image_lo && pa < g_image_hi) continue;  // init's boot modules: mapped from the image, no capability
    if (pa >= g_dtb_lo && pa < g_dtb_hi) {              // the DTB init reads: no capability, and never writable
      if (pte.ap() != arm64::Ap::kRoRo) violated("the DTB mapped writable", at, pa);
      continue;
    }
    PageInfo* p = page_info(pa);
    if (io && (p == nullptr || pte.uxn() == 0)) violated("an IoSpace maps device memory or executable memory", at, pa);
    if (p == nullptr) {
      if (g_device_records == 0) violated("a mapped device page without a mapping record", at, pa);
      --g_device_records;
      continue;
    }
    if (p->kind != PageKind::kNone || mask_of(*p) != 0) violated("a leaf maps kernel memory", at, pa);
    if (p->id == 0) violated("a mapped page without its mapping record", at, pa);
    --p->id;
  }
}

// An IoSpace: its entries as an address space's (each counted against its
// record), only RAM pages; bound, the SMMU's stream names this very root.
void check_io_space(uint64_t root) KEEL_REQUIRES(g_kernel_lock) {
  const PageInfo* p = page_info(root);
  if (p->asid != 0 && (p->asid - 1 >= kIommuStreams || iommu_stream_root(p->asid - 1) != root)) {
    violated("an IoSpace's stream is bound elsewhere", root, p->asid - 1);
  }
  walk_table(root, 0, 0, true);
}

void check_space(uint64_t root) KEEL_REQUIRES(g_kernel_lock) {
  const PageInfo* p = page_info(root);
  const object::AsidPool& pool = g_asids;
  if (pool.live(*p)) {
    if (((g_asids_seen[p->asid / 64] >> (p->asid % 64)) & 1) != 0)
      violated("two live spaces share an ASID", root, p->asid);
    g_asids_seen[p->asid / 64] |= 1ull << (p->asid % 64);
    if (!pool.in_use(p->asid)) violated("a live ASID the pool does not own", root, p->asid);
  }
  walk_table(root, 0, 0);
}

// Endpoints and notifications destroyed with waiters still being released
// (objects.h: the dying list) are alive until done: marked in pass 1,
// checked with the others.
template <class F>
void for_each_dying(F f) KEEL_REQUIRES(g_kernel_lock) {
  uint64_t n = 0;
  for (uint64_t x = g_dying_objects; x != 0;) {
    if (++n > kMaxSlots) violated("the dying list: a cycle");
    const uint64_t pa = x & ~uint64_t{1};
    f(pa, (x & 1) != 0);
    x = (x & 1) != 0 ? layout::linear<Notification>(pa)->dying_next : layout::linear<Endpoint>(pa)->dying_next;
  }
}

void check_objects() KEEL_REQUIRES(g_kernel_lock) {
  for (auto& w : g_asids_seen) w = 0;
  for_each_dying([](uint64_t pa, bool ntfn) KEEL_NO_THREAD_SAFETY_ANALYSIS {
    if (ntfn) {
      check_notification(layout::linear<Notification>(pa));
    } else {
      check_endpoint(layout::linear<Endpoint>(pa));
    }
  });
  const Slot* anchor = mdb_anchor();
  const Slot* prev = anchor;
  for (const Slot* x = object::preorder_next(anchor, anchor); x != nullptr;
       prev = x, x = object::preorder_next(x, anchor)) {
    if (same_obj(prev, x)) continue;
    switch (x->cap.type) {
      case ObjectType::kThread: check_thread(layout::linear<Thread>(x->cap.object)); break;
      case ObjectType::kEndpoint: check_endpoint(layout::linear<Endpoint>(x->cap.object)); break;
      case ObjectType::kNotification: check_notification(layout::linear<Notification>(x->cap.object)); break;
      case ObjectType::kReply: check_reply(layout::linear<Reply>(x->cap.object)); break;
      case ObjectType::kAddressSpace: check_space(x->cap.object); break;
      case ObjectType::kIoSpace: check_io_space(x->cap.object); break;
      default: break;
    }
  }
}

void check_cpus() KEEL_REQUIRES(g_kernel_lock) {
  const char* why = scheduler().check(kMaxThreads);
  if (why != nullptr) violated(why);
  scheduler().visit(
      [](const Thread* t, void*) KEEL_NO_THREAD_SAFETY_ANALYSIS {
        if (!is_live(t)) violated("a run queue holds a destroyed thread", pa_of(t));
      },
      nullptr);
  for (size_t i = 0; i < kMaxCpus; ++i) {
    if (!cpu_online(i)) continue;
    if (const Thread* t = cpu_current(i); t != nullptr && (!is_live(t) || t->state != ThreadState::kRunnable)) {
      violated("a CPU runs a thread that is destroyed or not runnable", i, pa_of(t));
    }
    if (cpu_record(i).alone != 0 && (i != 0 || cpus_online() != 1)) {
      violated("a CPU skips the lockless paths' exclusion while another CPU is online", i, cpus_online());
    }
    if (cpu_current(i) != nullptr &&
        cpu_record(i).fast_key != cpu_fast_key(g_asids.generation(), static_cast<uint32_t>(i))) {
      violated("a CPU's fastpath key is not of the current ASID generation", i, cpu_record(i).fast_key);
    }
    // This CPU is about to return to its thread: the state the fastpath's
    // switch assumes of a thread that ran at EL0 (el0_switch.h kFastpath).
    if (const Thread* t = cpu_current(i); t != nullptr && i == this_cpu().index) {
      const Cpu& c = cpu_record(i);
      if (c.cpacr != fp_access_value(t == c.fp_owner)) {
        violated("this CPU's EL0 FP access disagrees with who owns its FP registers", i, c.cpacr);
      }
      if (c.ttbr0 != t->ttbr0) violated("this CPU returns to a thread without its tables", i, c.ttbr0);
    }
    const uint64_t ttbr0 = cpu_record(i).ttbr0;
    if (ttbr0 == 0) continue;
    const PageInfo* p = page_info(ttbr0 & arm64::kOaMask);
    if (p == nullptr || p->kind != PageKind::kAddressSpace || !g_asids.live(*p) || p->asid != (ttbr0 >> 48)) {
      violated("a CPU walks a space that is not live, or under a stale ASID", i, ttbr0);
    }
  }
}

// ---- pass 4: every matched record was reached; scratch back to zero --------------------
void finish() KEEL_REQUIRES(g_kernel_lock) {
  if (g_device_records != 0) violated("a device mapping record matches no reachable entry");
  const Slot* anchor = mdb_anchor();
  const Slot* prev = anchor;
  for (const Slot* x = object::preorder_next(anchor, anchor); x != nullptr;
       prev = x, x = object::preorder_next(x, anchor)) {
    if (same_obj(prev, x)) continue;
    PageInfo* p = page_info(x->cap.object);
    if (p == nullptr) continue;
    if ((is_frame(x->cap.type) || x->cap.type == ObjectType::kPageTable) && p->id != 0) {
      violated("a mapping record matches an entry no walk reaches", x->cap.object);
    }
    if (p->kind == PageKind::kNone) set_mask(p, 0);
  }
}

}  // namespace

bool g_invariants_on = false;
uint64_t g_invariants_every = 1;
uint64_t g_invariants_count = 0;

void invariants_configure(const char* s) {
  static const char kKey[] = "keel.check_every=";
  for (; *s != '\0'; ++s) {
    size_t i = 0;
    while (kKey[i] != '\0' && s[i] == kKey[i]) ++i;
    if (kKey[i] != '\0') continue;
    uint64_t v = 0;
    for (const char* p = s + i; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (v >= 1) g_invariants_every = v;
    return;
  }
}

// The kernel's text and rodata (from its link address to __kernel_ro_end):
// nothing may change them — not a store (they are mapped read-only), not a
// device's DMA (the SMMU, docs/security.md). Hashed at boot and again every
// kImageCheckEvery checks.
extern "C" const char __kernel_ro_end[];
constexpr uint64_t kImageCheckEvery = 64;
uint64_t g_image_hash = 0, g_image_checks = 0;

uint64_t kernel_image_hash() {
  const auto* p = reinterpret_cast<const uint64_t*>(layout::kKernelVirtBase);
  const auto* end = reinterpret_cast<const uint64_t*>(__kernel_ro_end);
  uint64_t h = 0xcbf29ce484222325ull;
  for (; p < end; ++p) h = (h ^ *p) * 0x100000001b3ull;
  return h;
}

void invariants_enable(uint64_t image_pa, uint64_t image_size, uint64_t dtb_pa, uint64_t dtb_size) {
  g_invariants_on = true;
  g_image_hash = kernel_image_hash();
  kprintf(
      "keel: invariant checker: kernel text and rodata (%llu KiB) hash 0x%llx, checked again every %llu checks\n",
      static_cast<unsigned long long>((reinterpret_cast<uint64_t>(__kernel_ro_end) - layout::kKernelVirtBase) >> 10),
      static_cast<unsigned long long>(g_image_hash), static_cast<unsigned long long>(kImageCheckEvery));
  g_image_lo = image_pa;
  g_image_hi = image_pa + image_size;
  g_dtb_lo = dtb_pa & ~(arm64::kPageSize - 1);
  g_dtb_hi = (dtb_pa + dtb_size + arm64::kPageSize - 1) & ~(arm64::kPageSize - 1);
}

void check_invariants_now() {
  if (++g_image_checks % kImageCheckEvery == 0 && kernel_image_hash() != g_image_hash) {
    violated("the kernel image changed", g_image_hash, kernel_image_hash());
  }
  g_device_records = 0;
  check_tree();
  for_each_dying([](uint64_t pa, bool) KEEL_NO_THREAD_SAFETY_ANALYSIS { mark_live(pa); });
  check_objects();
  check_cpus();
  finish();
}

}  // namespace keel
