// memory — the memory-policy server (user space). Protocol: keel/proto/memory.h.
//
// It owns the untyped RAM init gives it and hands it out as 4 KiB pages:
//   - Frames are retyped lazily from the untyped blocks, each mapped once
//     into this server's own window (kWindow + 4 KiB * index) so it can zero
//     it; freed frames are zeroed and kept on a free list (untyped memory
//     cannot be returned piecemeal). Invariant: a free frame is all zero.
//   - A client mapping is a *copy* of the frame capability mapped into the
//     client's address space; deleting the copy unmaps it (the kernel does
//     the TLB maintenance). Page tables the client's space needs are made
//     the same way (original kept here, copy mapped), so reclaiming a client
//     returns its tables too: frames first, then tables from level 3 up,
//     which leaves every returned table empty (invariant: only this server
//     maps into tables it made).
//   - Every client is registered by init with its address space, thread and
//     exit notification; this server is every client's pager, so faults and
//     exits arrive here (badge = id | kPagerBadge).
// Costs: lookups are linear scans of fixed tables (a few thousand entries);
// every request maps or unmaps at most kMaxPages pages.
#include "keel/proto/memory.h"

#include <stddef.h>
#include <stdint.h>

#include "keel/loader.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;
namespace mem = keel::memory;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kWindow = 0x10'0000'0000ull;  // this server's view of frame i: kWindow + i * kPage
constexpr uint64_t kOwnTables = 224, kOwnTablesEnd = slot::kFirstFree;  // its own window's tables
constexpr uint64_t kFrameSlots = 1024;  // frame i's original capability: kFrameSlots + i
constexpr uint64_t kMaxFrames = 4096;
constexpr uint64_t kDynamic = kFrameSlots + kMaxFrames;  // copies and table capabilities from here
constexpr uint64_t kSlots = 1ull << abi::kMemoryServerCNodeBits;
constexpr uint64_t kMaxMappings = 3072, kMaxTables = 512, kMaxShares = 16, kMaxRegions = 8;
constexpr uint64_t kClients = abi::kMaxTaskId + 1;

const sys::CNode cnode(slot::kCNode);

// ---- capability slots --------------------------------------------------------
uint8_t g_slot_used[kSlots - kDynamic];

uint64_t slot_alloc() {
  for (uint64_t i = 0; i < kSlots - kDynamic; ++i) {
    if (g_slot_used[i] == 0) {
      g_slot_used[i] = 1;
      return kDynamic + i;
    }
  }
  return 0;
}
void slot_free(uint64_t s) {
  (void)cnode.remove(s);
  g_slot_used[s - kDynamic] = 0;
}

// ---- frames ------------------------------------------------------------------
uint64_t g_untyped_count = 0, g_untyped_next = 0;  // blocks at slot::kMemoryUntyped..
uint64_t g_frames = 0;                             // made so far
uint32_t g_free[kMaxFrames];
uint64_t g_free_count = 0;
uint64_t g_managed = 0;    // pages this server can ever hand out
sys::LoadContext g_own{};  // page tables of its own window

Error frame_alloc(uint32_t* out) {
  if (g_free_count > 0) {
    *out = g_free[--g_free_count];
    return Error::kOk;
  }
  if (g_frames == kMaxFrames) return Error::kNotEnoughMemory;
  uint64_t s = kFrameSlots + g_frames;
  Error e = Error::kNotEnoughMemory;
  while (g_untyped_next < g_untyped_count) {
    e = sys::Untyped(slot::kMemoryUntyped + g_untyped_next).retype(ObjectType::kFrame4K, 0, s);
    if (e != Error::kNotEnoughMemory) break;
    ++g_untyped_next;  // that block is used up
  }
  if (e != Error::kOk) return e;
  g_own.untyped = slot::kMemoryUntyped + g_untyped_next;
  e = sys::map_with_tables(g_own, s, slot::kAddressSpace, kWindow + g_frames * kPage, abi::kMapWrite);
  if (e != Error::kOk) {
    (void)cnode.remove(s);
    return e;
  }
  *out = static_cast<uint32_t>(g_frames++);
  return Error::kOk;
}

void frame_free(uint32_t f) {
  auto* p = reinterpret_cast<volatile uint64_t*>(kWindow + uint64_t{f} * kPage);
  for (uint64_t i = 0; i < kPage / 8; ++i) p[i] = 0;
  g_free[g_free_count++] = f;
}

// ---- clients, mappings, tables, shares --------------------------------------------
struct Region {
  uint64_t va, end, flags;
};

struct Client {
  bool registered, alive, killed;
  char name[16];
  uint64_t quota, pages, faults, exit_code;
  Region regions[kMaxRegions];
  uint64_t region_count;
  uint64_t stop_kind, stop_addr, stop_pc;  // why it was stopped (abi::FaultKind, or 0), where
  uint64_t stop_esr;                       // the fault's syndrome
};
Client g_clients[kClients];
uint64_t g_faults = 0;

uint64_t as_slot(uint64_t id) { return slot::kMemoryClients + 4 * id; }
uint64_t thread_slot(uint64_t id) { return slot::kMemoryClients + 4 * id + 1; }
uint64_t exit_slot(uint64_t id) { return slot::kMemoryClients + 4 * id + 2; }

struct Mapping {
  bool used;
  uint8_t client;
  int8_t share;  // -1: the client's own page
  uint32_t frame;
  uint16_t copy;
  uint64_t va;
};
Mapping g_maps[kMaxMappings];

struct Table {
  bool used, mapped;
  uint8_t client, level;
  uint16_t original, copy;
};
Table g_tables[kMaxTables];

struct Share {
  bool used;
  uint8_t owner;
  uint64_t token, pages, refs;
  uint32_t frames[mem::kMaxPages];
  uint8_t granted[mem::kMaxGrants];  // client ids allowed to attach (0: none)
  uint64_t granted_flags[mem::kMaxGrants];
};
Share g_shares[kMaxShares];
uint64_t g_token_seed = 0x9e3779b97f4a7c15ull;  // tokens only name shares: Grant is the authority

static_assert(mem::kMaxTablesPerClient * kClients <= kMaxTables, "per-client table limits fit the pool");
static_assert(mem::kMaxMappingsPerClient * kClients <= kMaxMappings, "per-client mapping limits fit the pool");

uint64_t tables_of(uint64_t id) {
  uint64_t n = 0;
  for (const Table& t : g_tables) n += t.used && t.mapped && t.client == id ? 1 : 0;
  return n;
}
uint64_t mappings_of(uint64_t id) {
  uint64_t n = 0;
  for (const Mapping& m : g_maps) n += m.used && m.client == id ? 1 : 0;
  return n;
}

Mapping* find_mapping(uint64_t id, uint64_t va) {
  for (Mapping& m : g_maps) {
    if (m.used && m.client == id && m.va == va) return &m;
  }
  return nullptr;
}

// A page table for client `id`'s space: an unmapped original from the pool,
// or a fresh one.
Table* table_take(uint64_t id) {
  if (tables_of(id) >= mem::kMaxTablesPerClient) return nullptr;  // its own limit, not everyone's pool
  Table* free = nullptr;
  for (Table& t : g_tables) {
    if (t.used && !t.mapped) return &t;
    if (!t.used && free == nullptr) free = &t;
  }
  if (free == nullptr) return nullptr;
  uint64_t s = slot_alloc();
  if (s == 0) return nullptr;
  Error e = Error::kNotEnoughMemory;
  for (uint64_t u = g_untyped_next; u < g_untyped_count && e == Error::kNotEnoughMemory; ++u) {
    e = sys::Untyped(slot::kMemoryUntyped + u).retype(ObjectType::kPageTable, 0, s);
  }
  if (e != Error::kOk) {
    g_slot_used[s - kDynamic] = 0;
    return nullptr;
  }
  *free = Table{.used = true,
                .mapped = false,
                .client = static_cast<uint8_t>(id),
                .level = 0,
                .original = static_cast<uint16_t>(s),
                .copy = 0};
  return free;
}

// Maps frame f at va in client id's space (copy capability `copy`), making
// the page tables it needs: copies of pool tables, installed by map_frame.
struct PoolTables {
  uint64_t id;
  Table* pending;  // the pool table whose copy map_frame is installing
};

Error map_copy(uint64_t id, uint64_t copy, uint64_t va, uint64_t flags) {
  PoolTables pool{id, nullptr};
  const sys::TableSource tables{.take =
                                    [](void* c, uint64_t* slot) {
                                      auto& p = *static_cast<PoolTables*>(c);
                                      p.pending = table_take(p.id);
                                      *slot = p.pending == nullptr ? 0 : slot_alloc();
                                      if (*slot == 0) return Error::kNotEnoughMemory;
                                      Error e = cnode.copy(*slot, p.pending->original, abi::kRightsAll);
                                      if (e != Error::kOk) g_slot_used[*slot - kDynamic] = 0;
                                      return e;
                                    },
                                .placed =
                                    [](void* c, uint64_t slot, unsigned level) {
                                      auto& p = *static_cast<PoolTables*>(c);
                                      *p.pending = Table{.used = true,
                                                         .mapped = true,
                                                         .client = static_cast<uint8_t>(p.id),
                                                         .level = static_cast<uint8_t>(level),
                                                         .original = p.pending->original,
                                                         .copy = static_cast<uint16_t>(slot)};
                                    },
                                .unused = [](void*, uint64_t slot) { slot_free(slot); },  // the table stays in the pool
                                .ctx = &pool};
  return sys::map_frame(copy, as_slot(id), va, flags, tables);
}

Error map_page(uint64_t id, uint64_t va, uint32_t frame, uint64_t flags, int share) {
  if (mappings_of(id) >= mem::kMaxMappingsPerClient) return Error::kNotEnoughMemory;
  Mapping* m = nullptr;
  for (Mapping& x : g_maps) {
    if (!x.used) {
      m = &x;
      break;
    }
  }
  uint64_t copy = m == nullptr ? 0 : slot_alloc();
  if (copy == 0) return Error::kNotEnoughMemory;
  uint8_t rights = abi::kRightRead | ((flags & abi::kMapWrite) != 0 ? abi::kRightWrite : 0);
  Error e = cnode.copy(copy, kFrameSlots + frame, rights);
  if (e == Error::kOk) e = map_copy(id, copy, va, flags);
  if (e != Error::kOk) {
    slot_free(copy);
    return e == Error::kSlotOccupied ? Error::kInvalidAddress : e;  // something is mapped there already
  }
  *m = Mapping{.used = true,
               .client = static_cast<uint8_t>(id),
               .share = static_cast<int8_t>(share),
               .frame = frame,
               .copy = static_cast<uint16_t>(copy),
               .va = va};
  return Error::kOk;
}

void share_release(Share& s) {
  if (--s.refs > 0) return;
  for (uint64_t i = 0; i < s.pages; ++i) frame_free(s.frames[i]);
  if (s.owner < kClients && g_clients[s.owner].pages >= s.pages) g_clients[s.owner].pages -= s.pages;
  s.used = false;
}

void unmap_mapping(Mapping& m) {
  slot_free(m.copy);  // deleting the copy unmaps the page
  if (m.share >= 0) {
    share_release(g_shares[m.share]);
  } else {
    frame_free(m.frame);
    --g_clients[m.client].pages;
  }
  m.used = false;
}

// Everything client id holds goes back: pages (its shares' pages when no
// one maps them any more), then its page tables, deepest first.
uint64_t reclaim(uint64_t id) {
  uint64_t before = g_clients[id].pages;
  for (Mapping& m : g_maps) {
    if (m.used && m.client == id) unmap_mapping(m);
  }
  for (unsigned level = 3; level >= 1; --level) {
    for (Table& t : g_tables) {
      if (t.used && t.mapped && t.client == id && t.level == level) {
        slot_free(t.copy);
        t.mapped = false;
      }
    }
  }
  g_clients[id].region_count = 0;
  // The id may be given to a task started later: it inherits no share
  // (grants to it end; shares it made have no owner from now on).
  for (Share& sh : g_shares) {
    if (!sh.used) continue;
    for (uint8_t& g : sh.granted) g = g == id ? 0 : g;
    if (sh.owner == id) {
      g_clients[id].pages -= g_clients[id].pages >= sh.pages ? sh.pages : g_clients[id].pages;
      sh.owner = kClients;
    }
  }
  return before;
}

bool valid_range(uint64_t va, uint64_t pages) {
  return (va & (kPage - 1)) == 0 && pages >= 1 && pages <= mem::kMaxPages && va < abi::kUserLimit &&
         pages * kPage <= abi::kUserLimit - va;
}

bool range_free(uint64_t id, uint64_t va, uint64_t pages) {
  for (uint64_t i = 0; i < pages; ++i) {
    if (find_mapping(id, va + i * kPage) != nullptr) return false;
  }
  return true;
}

// Maps `pages` pages at va: fresh ones, or a share's (`frames`, share >= 0;
// each mapped page holds one reference to the share). All or nothing.
Error map_range(uint64_t id, uint64_t va, uint64_t pages, uint64_t flags, int share, const uint32_t* frames) {
  for (uint64_t i = 0; i < pages; ++i) {
    uint32_t f = 0;
    Error e = frames != nullptr ? Error::kOk : frame_alloc(&f);
    bool fresh = frames == nullptr && e == Error::kOk;
    if (frames != nullptr) f = frames[i];
    if (e == Error::kOk) e = map_page(id, va + i * kPage, f, flags, share);
    if (e != Error::kOk) {
      if (fresh) frame_free(f);
      for (uint64_t j = 0; j < i; ++j) unmap_mapping(*find_mapping(id, va + j * kPage));
      return e;
    }
    if (share >= 0) {
      ++g_shares[share].refs;
    } else {
      ++g_clients[id].pages;
    }
  }
  return Error::kOk;
}

void say_stopped(uint64_t id, const char* why, uint64_t addr, uint64_t pc, uint64_t kind, uint64_t esr) {
  g_clients[id].stop_kind = kind;
  g_clients[id].stop_esr = esr;
  g_clients[id].stop_addr = addr;
  g_clients[id].stop_pc = pc;
  sys::print("memory: client %s (id %llu) %s at 0x%llx (PC 0x%llx): stopped, %llu pages reclaimed\n",
             g_clients[id].name, static_cast<unsigned long long>(id), why, static_cast<unsigned long long>(addr),
             static_cast<unsigned long long>(pc), static_cast<unsigned long long>(reclaim(id)));
}

void client_gone(uint64_t id) {
  g_clients[id].alive = false;
  (void)sys::Notification(exit_slot(id)).signal();  // tell init
}

// A fault (or an exit) from client id's thread. Returns true to resume it.
bool handle_fault(uint64_t id, const sys::Message& m) {
  Client& c = g_clients[id];
  if (!c.registered || !c.alive) return false;
  if (m.label == abi::kFaultExit) {
    c.exit_code = m.mr[0];
    reclaim(id);
    client_gone(id);
    return false;
  }
  uint64_t far = m.mr[1], page = far & ~(kPage - 1);
  if (m.label == abi::kFaultMemory && find_mapping(id, page) == nullptr) {
    for (uint64_t i = 0; i < c.region_count; ++i) {
      const Region& r = c.regions[i];
      if (far < r.va || far >= r.end) continue;
      if (c.pages + 1 > c.quota) {
        c.killed = true;
        say_stopped(id, "needs a page beyond its quota", far, m.mr[2], abi::kFaultMemory, m.mr[0]);
        (void)sys::ThreadCap(thread_slot(id)).suspend();
        client_gone(id);
        return false;
      }
      if (map_range(id, page, 1, r.flags, -1, nullptr) != Error::kOk) break;
      ++c.faults;
      ++g_faults;
      return true;
    }
  }
  c.killed = true;
  say_stopped(id, m.label == abi::kFaultMemory ? "faulted outside its regions" : "took an exception it cannot handle",
              far, m.mr[2], m.label == abi::kFaultMemory ? abi::kFaultMemory : abi::kFaultException, m.mr[0]);
  (void)sys::ThreadCap(thread_slot(id)).suspend();
  client_gone(id);
  return false;
}

// ---- requests ------------------------------------------------------------------
Error handle(uint64_t id, const sys::Message& m, sys::Message& out) {
  const uint64_t* a = m.mr;
  bool is_init = id == abi::kInitTaskId;
  Client& c = g_clients[id];
  switch (m.label) {
    case mem::kRegister: {
      if (!is_init) return Error::kInsufficientRights;
      if (m.length < 4 || a[0] == 0 || a[0] >= kClients || a[0] == abi::kInitTaskId) return Error::kInvalidArgument;
      Client& n = g_clients[a[0]];
      if (n.registered) reclaim(a[0]);
      n = Client{.registered = true,
                 .alive = true,
                 .killed = false,
                 .name = {},
                 .quota = a[1],
                 .pages = 0,
                 .faults = 0,
                 .exit_code = 0,
                 .regions = {},
                 .region_count = 0,
                 .stop_kind = 0,
                 .stop_addr = 0,
                 .stop_pc = 0,
                 .stop_esr = 0};
      for (int i = 0; i < 15; ++i) n.name[i] = static_cast<char>(a[2 + i / 8] >> (8 * (i % 8)));
      return Error::kOk;
    }
    case mem::kRelease:
      if (!is_init) return Error::kInsufficientRights;
      if (m.length < 1 || a[0] >= kClients || !g_clients[a[0]].registered) return Error::kInvalidArgument;
      reclaim(a[0]);
      g_clients[a[0]].alive = false;
      return Error::kOk;
    case mem::kStats:
      out.mr[0] = g_managed;
      out.mr[1] = g_free_count + (g_managed - g_frames);
      out.mr[2] = 0;
      for (const Client& x : g_clients) out.mr[2] += x.registered ? 1 : 0;
      out.mr[3] = g_faults;
      out.length = 4;
      return Error::kOk;
    case mem::kClient: {
      if (m.length < 1) return Error::kInvalidArgument;
      uint64_t k = 0;
      for (uint64_t i = 0; i < kClients; ++i) {
        if (!g_clients[i].registered || k++ != a[0]) continue;
        const Client& x = g_clients[i];
        out.mr[0] = i;
        out.mr[1] = x.pages;
        out.mr[2] = x.quota;
        out.mr[3] = x.faults;
        out.mr[4] = out.mr[5] = 0;
        for (int j = 0; j < 15 && x.name[j] != '\0'; ++j) {
          out.mr[4 + j / 8] |= uint64_t{static_cast<uint8_t>(x.name[j])} << (8 * (j % 8));
        }
        out.mr[6] = x.alive ? 1 : 0;
        out.mr[7] = x.exit_code;
        out.mr[8] = x.killed ? 1 : 0;
        out.mr[9] = x.stop_kind;
        out.mr[10] = x.stop_addr;
        out.mr[11] = x.stop_pc;
        out.mr[12] = x.stop_esr;
        out.length = 13;
        return Error::kOk;
      }
      return Error::kInvalidArgument;  // past the last client
    }
    default: break;
  }
  // The rest are requests of a live, registered client about its own space.
  if (!c.registered || !c.alive || is_init) return Error::kInvalidCapability;
  switch (m.label) {
    case mem::kMap:
    case mem::kShare: {
      if (m.length < 3 || (a[2] & ~uint64_t{abi::kMapWrite}) != 0) return Error::kInvalidArgument;
      if (a[1] == 0 || a[1] > mem::kMaxPages) return Error::kInvalidArgument;
      if (!valid_range(a[0], a[1]) || !range_free(id, a[0], a[1])) return Error::kInvalidAddress;
      if (c.pages + a[1] > c.quota) return Error::kNotEnoughMemory;
      if (m.label == mem::kMap) return map_range(id, a[0], a[1], a[2], -1, nullptr);
      int s = -1;
      for (uint64_t i = 0; i < kMaxShares && s < 0; ++i) s = g_shares[i].used ? -1 : static_cast<int>(i);
      if (s < 0) return Error::kNotEnoughMemory;
      Share& sh = g_shares[s];
      sh = Share{.used = true,
                 .owner = static_cast<uint8_t>(id),
                 .token = 0,
                 .pages = 0,
                 .refs = 1,
                 .frames = {},
                 .granted = {},
                 .granted_flags = {}};
      Error e = Error::kOk;
      for (; sh.pages < a[1] && e == Error::kOk; ++sh.pages) e = frame_alloc(&sh.frames[sh.pages]);
      if (e != Error::kOk) --sh.pages;  // (the last one failed)
      if (e == Error::kOk) e = map_range(id, a[0], a[1], a[2], s, sh.frames);
      if (e != Error::kOk) {
        for (uint64_t i = 0; i < sh.pages; ++i) frame_free(sh.frames[i]);
        sh.used = false;
        return e;
      }
      c.pages += sh.pages;
      --sh.refs;  // the creation reference; each mapped page holds one
      g_token_seed = g_token_seed * 6364136223846793005ull + 1442695040888963407ull;
      sh.token = (g_token_seed & ~uint64_t{0xff}) | static_cast<uint64_t>(s);
      out.mr[0] = sh.token;
      out.length = 1;
      return Error::kOk;
    }
    case mem::kGrant: {
      if (m.length < 3 || (a[2] & ~uint64_t{abi::kMapWrite}) != 0) return Error::kInvalidArgument;
      uint64_t s = a[0] & 0xff;
      if (s >= kMaxShares || !g_shares[s].used || g_shares[s].token != a[0]) return Error::kInvalidArgument;
      Share& sh = g_shares[s];
      if (sh.owner != id) return Error::kInsufficientRights;  // only its creator hands a share out
      if (a[1] == 0 || a[1] >= kClients || a[1] == id) return Error::kInvalidArgument;
      // Only to a task that exists: an id nobody holds now may be given to a
      // task started later, which must inherit nothing.
      if (!g_clients[a[1]].registered || !g_clients[a[1]].alive) return Error::kInvalidArgument;
      int slot = -1;
      for (uint64_t i = 0; i < mem::kMaxGrants; ++i) {
        if (sh.granted[i] == a[1]) slot = static_cast<int>(i);  // changing an earlier grant
      }
      for (uint64_t i = 0; i < mem::kMaxGrants && slot < 0; ++i) {
        if (sh.granted[i] == 0) slot = static_cast<int>(i);
      }
      if (slot < 0) return Error::kNotEnoughMemory;
      sh.granted[slot] = static_cast<uint8_t>(a[1]);
      sh.granted_flags[slot] = a[2];
      return Error::kOk;
    }
    case mem::kAttach: {
      if (m.length < 3 || (a[2] & ~uint64_t{abi::kMapWrite}) != 0) return Error::kInvalidArgument;
      uint64_t s = a[0] & 0xff;
      if (s >= kMaxShares || !g_shares[s].used || g_shares[s].token != a[0]) return Error::kInvalidArgument;
      Share& sh = g_shares[s];
      if (sh.owner != id) {
        bool allowed = false;
        for (uint64_t i = 0; i < mem::kMaxGrants; ++i) {
          if (sh.granted[i] == id && (a[2] & ~sh.granted_flags[i]) == 0) allowed = true;
        }
        if (!allowed) return Error::kInsufficientRights;  // the token alone is not enough
      }
      if (!valid_range(a[1], sh.pages) || !range_free(id, a[1], sh.pages)) return Error::kInvalidAddress;
      return map_range(id, a[1], sh.pages, a[2], static_cast<int>(s), sh.frames);
    }
    case mem::kUnmap: {
      if (m.length < 2) return Error::kInvalidArgument;
      if (!valid_range(a[0], a[1])) return Error::kInvalidAddress;
      for (uint64_t i = 0; i < a[1]; ++i) {
        if (find_mapping(id, a[0] + i * kPage) == nullptr)
          return Error::kInvalidAddress;  // all mapped, or nothing changes
      }
      for (uint64_t i = 0; i < a[1]; ++i) unmap_mapping(*find_mapping(id, a[0] + i * kPage));
      return Error::kOk;
    }
    case mem::kRegion: {
      if (m.length < 3 || (a[2] & ~uint64_t{abi::kMapWrite}) != 0) return Error::kInvalidArgument;
      uint64_t end = a[0] + a[1];
      if ((a[0] & (kPage - 1)) != 0 || (a[1] & (kPage - 1)) != 0 || a[1] == 0 || end < a[0] || end > abi::kUserLimit) {
        return Error::kInvalidAddress;
      }
      for (uint64_t i = 0; i < c.region_count; ++i) {
        if (a[0] < c.regions[i].end && c.regions[i].va < end) return Error::kInvalidAddress;
      }
      if (c.region_count == kMaxRegions) return Error::kNotEnoughMemory;
      c.regions[c.region_count++] = Region{a[0], end, a[2]};
      return Error::kOk;
    }
    default: return Error::kInvalidArgument;
  }
}

}  // namespace

int main() {
  const abi::StartInfo* info = abi::start_info();
  if (info->magic != abi::kStartInfoMagic || info->untyped_count > slot::kMemoryUntypedMax) {
    sys::print("memory: bad start info\n");
    return 1;
  }
  sys::set_console(slot::kConsole);
  g_untyped_count = info->untyped_count;
  g_managed = info->untyped_bytes_total / kPage;
  if (g_managed > kMaxFrames) g_managed = kMaxFrames;
  g_own = sys::LoadContext{.cnode = slot::kCNode,
                           .untyped = slot::kMemoryUntyped,
                           .caller_as = slot::kAddressSpace,
                           .scratch_va = 0,
                           .next_slot = kOwnTables,
                           .slot_limit = kOwnTablesEnd};
  sys::print("memory: %llu MiB in %llu blocks, up to %llu pages for clients\n",
             static_cast<unsigned long long>(info->untyped_bytes_total >> 20),
             static_cast<unsigned long long>(g_untyped_count), static_cast<unsigned long long>(g_managed));
  const sys::Endpoint ep(slot::kServerEndpoint);
  sys::Message m, out;
  Error e = ep.recv(m);
  for (;;) {
    if (e != Error::kOk) {
      e = ep.recv(m);
      continue;
    }
    uint64_t id = m.badge & 0xff;
    if ((m.badge & abi::kPagerBadge) != 0 && (m.badge & abi::kFaultBadge) == 0) {
      // A client calling its own fault endpoint (it holds it in its CNode):
      // only the kernel's fault and exit messages carry kFaultBadge.
      out = sys::Message{};
      out.label = static_cast<uint64_t>(Error::kInvalidCapability);
      e = ep.reply_recv(out, m);
      continue;
    }
    if ((m.badge & abi::kPagerBadge) != 0) {
      if (id < kClients && handle_fault(id, m)) {
        e = ep.reply_recv(sys::Message{}, m);  // resume the thread
      } else {
        e = ep.recv(m);  // it stays stopped (the implicit reply is dropped)
      }
      continue;
    }
    out = sys::Message{};
    Error r = id < kClients ? handle(id, m, out) : Error::kInvalidCapability;
    out.label = static_cast<uint64_t>(r);
    if (r != Error::kOk) out.length = 0;
    e = ep.reply_recv(out, m);
  }
}
