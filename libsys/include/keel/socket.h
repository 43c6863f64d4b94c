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
  // in flight. Waits only while the request ring is full. A request on a
  // socket from before a restart of the stack is answered kReset here.
  uint32_t submit(sock::Request r) {
    if (in_flight_ >= kMaxInFlight) return 0;
    if (++next_id_ == 0) ++next_id_;
    r.id = next_id_;
    uint32_t k = 0;
    while (pending_[k].id != 0) ++k;  // (a free entry: fewer than kMaxInFlight in flight)
    pending_[k] = Pending{r.id, r.op};
    ++in_flight_;
    catch_up();
    const bool names_socket = r.op != sock::kSocket && r.op != sock::kStats && r.sock < sock::kMaxSockets;
    if (names_socket && sock_gen_[r.sock] != gen_) {  // a socket of a dead stack instance
      reset_[reset_count_++] = r.id;
      return r.id;
    }
    r.gen = gen_;
    bool signal = false;
    while (!shared()->requests.push(r, &signal)) {
      if (shared()->requests.producer_prepare_wait()) wait_signal();
    }
    if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
    return r.id;
  }
  bool poll(sock::Completion* c) {
    catch_up();
    if (reset_count_ > 0) {
      *c = sock::Completion{reset_[--reset_count_], sock::kReset, 0, 0, 0, 0};
      finish(*c);
      return true;
    }
    return take(c);
  }
  void wait(sock::Completion* c) {
    while (!poll(c)) {
      if (shared()->done.prepare_wait() && __atomic_load_n(&shared()->generation, __ATOMIC_ACQUIRE) == gen_) {
        wait_signal();
      }
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
  struct Pending {
    uint32_t id, op;
  };
  // A new stack instance (proto/socket.h "Generations"): what the dead one
  // answered is taken first, then everything still waiting is answered
  // kReset here, and its sockets are gone.
  void catch_up() {
    const uint32_t gen = __atomic_load_n(&shared()->generation, __ATOMIC_ACQUIRE);
    if (gen == gen_) return;
    if (gen_ == 0) {  // the first instance, not a restart: what was asked before it started is its
      for (uint32_t& g : sock_gen_) g = g == 0 ? gen : g;
      gen_ = gen;
      return;
    }
    sock::Completion c{};
    while (take_ring(&c)) held_[held_count_ < kMaxInFlight ? held_count_++ : held_count_ - 1] = c;
    for (const Pending& p : pending_) {
      if (p.id != 0 && reset_count_ < kMaxInFlight) reset_[reset_count_++] = p.id;
    }
    gen_ = gen;
  }
  bool take(sock::Completion* c) {
    if (held_count_ > 0) {
      *c = held_[--held_count_];
      return true;
    }
    return take_ring(c);
  }
  // The next completion of a request in flight (others dropped).
  bool take_ring(sock::Completion* c) {
    bool signal = false;
    while (shared()->done.pop(c, &signal)) {
      if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
      if (finish(*c)) return true;
    }
    return false;
  }
  // Retires the request c answers; a new socket belongs to the generation
  // it was made in. False if c answers nothing in flight.
  bool finish(const sock::Completion& c) {
    for (Pending& p : pending_) {
      if (p.id == 0 || p.id != c.id) continue;
      if ((p.op == sock::kSocket || p.op == sock::kAccept) && c.status == sock::kOk && c.value < sock::kMaxSockets) {
        sock_gen_[c.value] = gen_;
      }
      p.id = 0;
      --in_flight_;
      return true;
    }
    return false;
  }

  uint32_t next_id_ = 0, in_flight_ = 0;
  uint32_t gen_ = 0;  // the stack's generation as last seen (0: before its first start)
  Pending pending_[kMaxInFlight] = {};
  uint32_t sock_gen_[sock::kMaxSockets] = {};
  sock::Completion held_[kMaxInFlight] = {};
  uint32_t held_count_ = 0;
  uint32_t reset_[kMaxInFlight] = {};  // ids to answer kReset here
  uint32_t reset_count_ = 0;
};

// 10.0.2.2 -> 0x0a000202 (no checks: a constant's spelling).
constexpr uint32_t ipv4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a << 24 | b << 16 | c << 8 | d; }

}  // namespace keel::sys
