// proto/socket.h — the network stack (servers/netstack) and its clients,
// over the connection memory init shares between them (`connect =
// netstack` in the client's description). libsys's keel/socket.h wraps it
// in calls a C programmer knows (socket, bind, listen, accept, connect,
// send, recv, sendto, recvfrom, close).
//
//   connection memory (abi::kConnBytes = 64 KiB):
//   +------------------------------+ 0
//   | requests: Ring<Request, 64>  |  client -> stack
//   | done:     Ring<Completion,128>| stack -> client
//   +------------------------------+ kDataOffset (8 KiB)
//   | data: the client's buffers   |  56 KiB, addressed by Request::offset
//   +------------------------------+
//
// Rules (the stack trusts nothing in this memory):
//  - Sockets are small numbers per client (< kMaxSockets): a client names
//    only its own, and holds at most kMaxSockets (connections waiting in a
//    listener's backlog count). That, the backlog bound and TCP's window
//    are what one client can make the stack hold: it cannot exhaust the
//    stack for the others beyond them.
//  - A request's buffer [offset, offset + len) lies in the data area, or
//    the request is answered kBadBuffer. Send/SendTo: the stack copies the
//    bytes out before it completes; Recv/RecvFrom: it copies in, then
//    completes. The buffer is the stack's in between.
//  - Every request gets exactly one completion, carrying its id. Accept,
//    Connect, Send, Recv and RecvFrom may wait (for a peer, for window,
//    for data); one of each kind per socket at a time (a second: kBusy).
//  - A client keeps at most 128 requests in flight (the completion ring's
//    size), so the stack never has to drop a completion.
//  - Wake-ups: keel/ring.h's protocol; the client signals task_slot::kDiskWake,
//    the stack its kDiskWait.
//  - Generations (a stack that restarts): each stack instance adds one to
//    `generation` as it starts and wakes the client. Every socket and
//    connection of the dead instance is gone: a request made for another
//    generation is answered kReset (generation 0, before any instance
//    started, counts as the first's), and the client's library answers kReset
//    itself for what the dead instance never answered and for any later use
//    of a socket from before (keel/socket.h). Nothing waits forever.
// Addresses are IPv4 in host order (10.0.2.15 = 0x0a00020f), ports too.
#pragma once

#include <stdint.h>

#include "keel/ring.h"

namespace keel::sock {

constexpr uint64_t kDataOffset = 8192;
constexpr uint32_t kDataBytes = 64 * 1024 - kDataOffset;
constexpr uint32_t kMaxSockets = 64;  // per client
constexpr uint32_t kMaxBacklog = 8;   // connections a listener holds before they are accepted
constexpr uint32_t kMaxDatagram = 8192;

enum Op : uint32_t {
  kSocket = 1,  // arg: kTcp or kUdp -> value: the socket
  kBind,        // sock, port (0: any), addr (0: any)
  kListen,      // sock, arg: backlog (1..kMaxBacklog)
  kAccept,      // sock (listening) -> value: the new socket, addr/port: the peer
  kConnect,     // sock, addr, port
  kSend,        // sock, offset, len -> value: bytes sent (all of len)
  kRecv,        // sock, offset, len -> value: bytes received, 0 at the end of the stream
  kSendTo,      // sock (UDP), offset, len, addr, port
  kRecvFrom,    // sock (UDP), offset, len -> value: datagram bytes (truncated to len), addr/port
  kClose,       // sock
  kStats,       // offset, len (>= sizeof(Stats)): the stack's and the link's counters -> value: bytes
  kOpEnd,
};
enum Type : uint32_t { kTcp = 1, kUdp = 2 };

// Completion::status (0 = done); errno-like, documented in docs/drivers.md.
enum Status : int32_t {
  kOk = 0,
  kBadOp = -1,         // unknown op, or an op the socket's type or state does not allow
  kBadSocket = -2,     // not one of the client's open sockets
  kBadBuffer = -3,     // offset + len outside the data area (or len 0 / too large)
  kNoSockets = -4,     // the client holds kMaxSockets already
  kAddressInUse = -5,  // bind: the port is taken
  kNotConnected = -6,  // send/recv on a TCP socket that is not connected
  kRefused = -7,       // connect: the peer refused (RST)
  kReset = -8,         // the connection was reset or aborted
  kBusy = -9,          // an op of that kind is already waiting on this socket
  kNoMemory = -10,     // the stack is out of memory for it (try again)
  kInvalid = -11,      // a bad argument (backlog, port 0 for a destination, ...)
  kClosed = -12,       // the socket was closed while the op waited
  kUnreachable = -13,  // no route, or the stack has no link
};

struct Request {
  uint32_t op;
  uint32_t id;  // the client's, returned in the completion
  uint32_t sock;
  uint32_t arg;
  uint32_t offset, len;
  uint32_t addr;
  uint32_t port;
  uint32_t gen;  // the stack generation the client had seen (see above)
  uint32_t reserved;
};
struct Completion {
  uint32_t id;
  int32_t status;
  uint32_t value;
  uint32_t addr;
  uint32_t port;
  uint32_t reserved;
};

// Completions: room for a receive and a send waiting on every socket.
using RequestRing = ring::Ring<Request, 64>;
using CompletionRing = ring::Ring<Completion, 2 * kMaxSockets>;
struct Shared {
  RequestRing requests;
  CompletionRing done;
  alignas(64) uint32_t generation;  // the stack's: one more per instance (see above)
};
static_assert(sizeof(Shared) <= kDataOffset, "the rings fit before the data area");

// The stack's first check of a request, before it looks at any socket:
// the op is known, the socket number in range where one is named, the
// buffer inside the data area where one is used. kOk or why not.
constexpr int32_t check(const Request& r) {
  if (r.op == 0 || r.op >= kOpEnd) return kBadOp;
  if (r.op != kSocket && r.op != kStats && r.sock >= kMaxSockets) return kBadSocket;
  if (r.op == kSocket && r.arg != kTcp && r.arg != kUdp) return kInvalid;
  const bool buffer = r.op == kSend || r.op == kRecv || r.op == kSendTo || r.op == kRecvFrom || r.op == kStats;
  if (buffer && (r.len == 0 || r.offset > kDataBytes || r.len > kDataBytes - r.offset)) return kBadBuffer;
  if ((r.op == kSendTo) && (r.len > kMaxDatagram || r.port == 0 || r.port > 0xffff)) return kInvalid;
  if ((r.op == kConnect) && (r.port == 0 || r.port > 0xffff || r.addr == 0)) return kInvalid;
  if (r.op == kBind && r.port > 0xffff) return kInvalid;
  if (r.op == kListen && (r.arg == 0 || r.arg > kMaxBacklog)) return kInvalid;
  return kOk;
}

// kStats's answer, written into the client's buffer.
struct Stats {
  uint64_t link[16];                       // the driver's counters (keel/proto/link.h Counter order; kCounters used)
  uint64_t rx_frames, tx_frames;           // frames the stack took from and gave to the link
  uint64_t rx_no_pbuf;                     // received frames dropped for want of a pbuf
  uint64_t tx_waits, tx_dropped;           // sends that waited for a link buffer / gave up after 50 ms
  uint64_t bad_from_driver;                // frames or buffers the driver handed over wrongly
  uint64_t clients;                        // connected clients
  uint64_t sockets;                        // open sockets, all clients
  uint64_t requests, errors, udp_dropped;  // the asking client's
};
static_assert(sizeof(Stats) <= kDataBytes);

constexpr const char* status_name(int32_t s) {
  switch (s) {
    case kOk: return "ok";
    case kBadOp: return "bad op";
    case kBadSocket: return "bad socket";
    case kBadBuffer: return "bad buffer";
    case kNoSockets: return "no sockets left";
    case kAddressInUse: return "address in use";
    case kNotConnected: return "not connected";
    case kRefused: return "connection refused";
    case kReset: return "connection reset";
    case kBusy: return "busy";
    case kNoMemory: return "out of memory";
    case kInvalid: return "invalid argument";
    case kClosed: return "closed";
    case kUnreachable: return "unreachable";
  }
  return "unknown status";
}

}  // namespace keel::sock
