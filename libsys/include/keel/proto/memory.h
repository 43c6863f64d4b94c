// proto/memory.h — the memory server's protocol, for both sides.
//
// Requests are Calls on a badged endpoint (badge = the client's task id;
// init is kInitTaskId). Every reply's label is an abi::Error. Addresses are
// in the caller's own address space, page aligned, below abi::kUserLimit.
// Pages are 4 KiB, always zero when first mapped.
//
//   Map       MR0 va, MR1 pages, MR2 flags      -> ok        map fresh pages now
//   Unmap     MR0 va, MR1 pages                 -> ok        unmap and free them
//   Region    MR0 va, MR1 bytes, MR2 flags      -> ok        declare an on-demand
//             region: a fault inside it maps a zero page; a fault outside
//             every region stops the client (reported on the console) and
//             reclaims what it held
//   Share     MR0 va, MR1 pages, MR2 flags      -> MR0 token map fresh pages
//             and make them shareable. The token names the share; it is
//             no authority: only clients the creator grants may attach
//   Grant     MR0 token, MR1 client id, MR2 flags -> ok      (the creator) let
//             that client attach, with at most these flags (write or not)
//   Attach    MR0 token, MR1 va, MR2 flags      -> ok        map a share's pages
//             (the creator, or a client it granted, within the grant)
//   Stats                                       -> MR0 pages managed, MR1 pages
//             free, MR2 clients, MR3 faults served
//   Client    MR0 index                         -> MR0 id, MR1 pages held,
//             MR2 quota pages, MR3 faults served, MR4..5 name, MR6 1 = alive,
//             MR7 exit code (once it has exited), MR8 1 = stopped by a fault
// init only:
//   Register  MR0 id, MR1 quota pages, MR2..3 name -> ok     (its address space,
//             thread and exit notification are already at kMemoryClients + 4 id);
//             every client is registered: the memory server is every
//             client's pager (fault endpoint), so it sees faults and exits
//   Release   MR0 id                            -> ok        reclaim everything
// flags: abi::kMapWrite (pages are never executable). At most kMaxPages per
// request. Pages a client holds (mapped, its shares included) count against
// its quota; a request beyond it gets kNotEnoughMemory and changes nothing.
// The server's own bookkeeping is split per client too, so that one client
// can exhaust only itself: at most kMaxTablesPerClient page tables and
// kMaxMappingsPerClient mappings (attached shares included) each.
// Errors: kInvalidArgument (bad label, length, flags, count), kInvalidAddress
// (unaligned, kernel or overlapping range), kNotEnoughMemory (quota, or the
// server ran out), kInsufficientRights (init-only request from a client).
// When a client exits (abi::kFaultExit on its pager endpoint) the server
// reclaims everything it held.
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"

namespace keel::memory {

enum Label : uint64_t {
  kMap = 1,
  kUnmap = 2,
  kRegion = 3,
  kShare = 4,
  kAttach = 5,
  kStats = 6,
  kClient = 7,
  kGrant = 8,
  kRegister = 16,
  kRelease = 17,
};

constexpr uint64_t kMaxPages = 64;
constexpr uint64_t kMaxTablesPerClient = 16;    // the server's 512 tables / 32 clients
constexpr uint64_t kMaxMappingsPerClient = 96;  // its 3072 mappings / 32 clients
constexpr uint64_t kMaxGrants = 4;              // clients a share may be granted to

struct ClientInfo {
  uint64_t id, pages, quota, faults;
  char name[16];
  bool alive;
  uint64_t exit_code;
  bool killed;
  uint64_t stop_kind, stop_addr, stop_pc;  // killed: abi::FaultKind (memory or exception), the address, the PC
  uint64_t stop_esr;                       // and the syndrome (ESR_EL1: its EC names the exception)
};

// Client side: one Call, the reply's label as the result.
inline abi::Error request(const sys::Endpoint& ep, sys::Message& m) {
  abi::Error e = ep.call(m);
  return e == abi::Error::kOk ? static_cast<abi::Error>(m.label) : e;
}

inline sys::Message message(Label l, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  sys::Message m;
  m.label = l;
  m.mr[0] = a;
  m.mr[1] = b;
  m.mr[2] = c;
  m.length = 3;
  return m;
}

inline abi::Error map(const sys::Endpoint& ep, uint64_t va, uint64_t pages, uint64_t flags) {
  sys::Message m = message(kMap, va, pages, flags);
  return request(ep, m);
}
inline abi::Error unmap(const sys::Endpoint& ep, uint64_t va, uint64_t pages) {
  sys::Message m = message(kUnmap, va, pages);
  return request(ep, m);
}
inline abi::Error region(const sys::Endpoint& ep, uint64_t va, uint64_t bytes, uint64_t flags) {
  sys::Message m = message(kRegion, va, bytes, flags);
  return request(ep, m);
}
inline abi::Error share(const sys::Endpoint& ep, uint64_t va, uint64_t pages, uint64_t flags, uint64_t* token) {
  sys::Message m = message(kShare, va, pages, flags);
  abi::Error e = request(ep, m);
  if (e == abi::Error::kOk) *token = m.mr[0];
  return e;
}
inline abi::Error grant(const sys::Endpoint& ep, uint64_t token, uint64_t client_id, uint64_t flags) {
  sys::Message m = message(kGrant, token, client_id, flags);
  return request(ep, m);
}
inline abi::Error attach(const sys::Endpoint& ep, uint64_t token, uint64_t va, uint64_t flags) {
  sys::Message m = message(kAttach, token, va, flags);
  return request(ep, m);
}

struct Stats {
  uint64_t managed, free, clients, faults;
};
inline abi::Error stats(const sys::Endpoint& ep, Stats* out) {
  sys::Message m = message(kStats);
  abi::Error e = request(ep, m);
  if (e == abi::Error::kOk) *out = Stats{m.mr[0], m.mr[1], m.mr[2], m.mr[3]};
  return e;
}
inline abi::Error client(const sys::Endpoint& ep, uint64_t index, ClientInfo* out) {
  sys::Message m = message(kClient, index);
  abi::Error e = request(ep, m);
  if (e != abi::Error::kOk) return e;
  *out = ClientInfo{m.mr[0], m.mr[1],      m.mr[2], m.mr[3],  {},       m.mr[6] != 0,
                    m.mr[7], m.mr[8] != 0, m.mr[9], m.mr[10], m.mr[11], m.mr[12]};
  for (int i = 0; i < 15; ++i) out->name[i] = static_cast<char>(m.mr[4 + i / 8] >> (8 * (i % 8)));
  out->name[15] = '\0';
  return e;
}

}  // namespace keel::memory
