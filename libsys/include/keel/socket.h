// socket.h — a client's sockets (`connect = netstack` in its description),
// through the connection the network stack serves (keel/proto/socket.h).
//
// Two ways to use it:
//  - The calls a C programmer knows — socket, bind, listen, accept,
//    connect, send, recv, sendto, recvfrom, close — each one request,
//    waited for. They return a socket number or byte count (>= 0), or a
//    negative sock::Status (sock::status_name says what it means). send and
//    recv copy through a staging area in the connection memory, so any
//    buffer of the caller's works. They expect nothing else in flight.
//  - Asynchronous: submit(request) with buffers the caller places in the
//    data area itself (data(), sock::kDataBytes; no copy), then poll() or
//    wait() for completions, matched by id. At most kMaxInFlight at once.
//
// One thread uses a Sockets.
#pragma once

#include <stdint.h>

#include "keel/proto/socket.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace keel::sys {

class Sockets {
 public:
  static constexpr uint32_t kMaxInFlight = sock::CompletionRing::kCapacity;
  // The synchronous calls stage data in the top of the data area.
  static constexpr uint32_t kStagingOffset = sock::kDataBytes - 16384, kStagingBytes = 16384;

  // (No constructor work: a Sockets may be a global, and user programs
  // have no static constructors. The connection is the start info's.)
  bool ok() const { return abi::start_info()->disk_va != 0; }
  uint8_t* data() const { return reinterpret_cast<uint8_t*>(abi::start_info()->disk_va + sock::kDataOffset); }

  // ---- the familiar calls ----
  int socket(sock::Type type) { return run({.op = sock::kSocket, .arg = type}); }
  int bind(int s, uint32_t addr, uint16_t port) {
    return run({.op = sock::kBind, .sock = u(s), .addr = addr, .port = port});
  }
  int listen(int s, uint32_t backlog) { return run({.op = sock::kListen, .sock = u(s), .arg = backlog}); }
  int accept(int s, uint32_t* addr = nullptr, uint16_t* port = nullptr) {
    sock::Completion c{};
    const int r = run({.op = sock::kAccept, .sock = u(s)}, &c);
    if (addr != nullptr) *addr = c.addr;
    if (port != nullptr) *port = static_cast<uint16_t>(c.port);
    return r;
  }
  int connect(int s, uint32_t addr, uint16_t port) {
    return run({.op = sock::kConnect, .sock = u(s), .addr = addr, .port = port});
  }
  // Sends all of [buf, buf + len) (in staging-sized pieces); the bytes sent or an error.
  int send(int s, const void* buf, uint32_t len) {
    const auto* p = static_cast<const uint8_t*>(buf);
    uint32_t sent = 0;
    while (sent < len) {
      const uint32_t n = len - sent < kStagingBytes ? len - sent : kStagingBytes;
      copy(data() + kStagingOffset, p + sent, n);
      const int r = run({.op = sock::kSend, .sock = u(s), .offset = kStagingOffset, .len = n});
      if (r < 0) return r;
      sent += n;
    }
    return static_cast<int>(sent);
  }
  // Up to len bytes (at least 1 unless the stream ended: 0).
  int recv(int s, void* buf, uint32_t len) {
    const uint32_t n = len < kStagingBytes ? len : kStagingBytes;
    const int r = run({.op = sock::kRecv, .sock = u(s), .offset = kStagingOffset, .len = n});
    if (r > 0) copy(static_cast<uint8_t*>(buf), data() + kStagingOffset, static_cast<uint32_t>(r));
    return r;
  }
  int sendto(int s, const void* buf, uint32_t len, uint32_t addr, uint16_t port) {
    if (len > kStagingBytes) return sock::kInvalid;
    copy(data() + kStagingOffset, static_cast<const uint8_t*>(buf), len);
    return run({.op = sock::kSendTo, .sock = u(s), .offset = kStagingOffset, .len = len, .addr = addr, .port = port});
  }
  int recvfrom(int s, void* buf, uint32_t len, uint32_t* addr = nullptr, uint16_t* port = nullptr) {
    const uint32_t n = len < kStagingBytes ? len : kStagingBytes;
    sock::Completion c{};
    const int r = run({.op = sock::kRecvFrom, .sock = u(s), .offset = kStagingOffset, .len = n}, &c);
    if (r > 0) copy(static_cast<uint8_t*>(buf), data() + kStagingOffset, static_cast<uint32_t>(r));
    if (addr != nullptr) *addr = c.addr;
    if (port != nullptr) *port = static_cast<uint16_t>(c.port);
    return r;
  }
  int close(int s) { return run({.op = sock::kClose, .sock = u(s)}); }
  // The stack's and the link's counters (for this client: its requests).
  int stats(sock::Stats* out) {
    const int r = run({.op = sock::kStats, .offset = kStagingOffset, .len = sizeof(sock::Stats)});
    if (r >= 0) copy(reinterpret_cast<uint8_t*>(out), data() + kStagingOffset, sizeof(sock::Stats));
    return r;
  }

  // ---- asynchronous ----
  // Queues r (its id is set and returned, never 0); 0 when kMaxInFlight are
  // in flight. Waits only while the request ring is full.
  uint32_t submit(sock::Request r) {
    if (in_flight_ >= kMaxInFlight) return 0;
    if (++next_id_ == 0) ++next_id_;
    r.id = next_id_;
    bool signal = false;
    while (!shared()->requests.push(r, &signal)) {
      if (shared()->requests.producer_prepare_wait()) wait_signal();
    }
    if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
    ++in_flight_;
    return r.id;
  }
  bool poll(sock::Completion* c) {
    bool signal = false;
    if (!shared()->done.pop(c, &signal)) return false;
    if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
    if (in_flight_ > 0) --in_flight_;
    return true;
  }
  void wait(sock::Completion* c) {
    while (!poll(c)) {
      if (shared()->done.prepare_wait()) wait_signal();
    }
  }
  uint32_t in_flight() const { return in_flight_; }

 private:
  static uint32_t u(int s) { return static_cast<uint32_t>(s); }
  static void copy(uint8_t* d, const uint8_t* s, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) d[i] = s[i];
  }
  void wait_signal() {
    uint64_t word = 0;
    (void)Notification(abi::task_slot::kDiskWait).wait(&word);
  }
  int run(sock::Request r, sock::Completion* out = nullptr) {
    const uint32_t id = submit(r);
    if (id == 0) return sock::kBusy;
    sock::Completion c{};
    do {
      wait(&c);
    } while (c.id != id);
    if (out != nullptr) *out = c;
    return c.status < 0 ? c.status : static_cast<int>(c.value);
  }

  static sock::Shared* shared() { return reinterpret_cast<sock::Shared*>(abi::start_info()->disk_va); }
  uint32_t next_id_ = 0, in_flight_ = 0;
};

// 10.0.2.2 -> 0x0a000202 (no checks: a constant's spelling).
constexpr uint32_t ipv4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a << 24 | b << 16 | c << 8 | d; }

}  // namespace keel::sys
