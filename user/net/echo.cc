// echo — TCP and UDP echo on port 7 (RFC 862) and TCP discard on port 9
// (RFC 863, the receive benchmark's sink), through the network stack's
// sockets (keel/socket.h, asynchronous: every connection's receive, the
// listeners' accepts and the UDP receive wait at once; nothing blocks the
// others). Up to kConns connections at a time; more wait in the
// listener's backlog (and the host's SYN retries) until one closes.
//
// Started as `echo_bench` (net_bench.system), it also measures: a datagram
// "keel-bench-begin" starts a count of the instructions the CPU retires
// (the PMU, exact under -icount; every task and the kernel on CPU 0), and
// "keel-bench-end" prints them per datagram echoed in between — the bench
// row net_udp_echo.
#include <stdint.h>

#include "keel/pmu.h"
#include "keel/socket.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace {

namespace sys = keel::sys;
namespace sock = keel::sock;

constexpr uint16_t kPort = 7, kDiscardPort = 9;
constexpr uint32_t kUdpOffset = 0, kUdpBytes = 4096;  // one datagram at a time
constexpr uint32_t kConns = 52, kConnBytes = 1024;    // after the UDP buffer
static_assert(kUdpBytes + kConns * kConnBytes <= sock::kDataBytes);

struct Conn {
  int sock = -1;
  uint32_t op = 0;  // the id of the request waiting for it (recv, then send, then recv ...)
  uint32_t offset = 0;
  bool sending = false;  // the request waiting is a send (else a receive)
  bool discard = false;  // port 9: what arrives is dropped
};

sys::Sockets g_net;
Conn g_conns[kConns];
uint32_t g_accept = 0, g_discard_accept = 0, g_udp_op = 0;
int g_listener = -1, g_discard = -1, g_udp = -1;
bool g_bench = false;
uint64_t g_bench_start = 0, g_bench_datagrams = 0, g_bench_cycles = 0;
bool g_benching = false;

void recv_on(Conn& c) {
  c.op = g_net.submit({.op = sock::kRecv, .sock = uint32_t(c.sock), .offset = c.offset, .len = kConnBytes});
}
// A waiting accept on each listener while a connection slot is free.
void accept_next() {
  uint32_t free = 0;
  for (const Conn& c : g_conns) free += c.sock < 0 ? 1 : 0;
  if (g_accept == 0 && free > 0) {
    g_accept = g_net.submit({.op = sock::kAccept, .sock = uint32_t(g_listener)});
    --free;
  }
  if (g_discard_accept == 0 && free > 0) {
    g_discard_accept = g_net.submit({.op = sock::kAccept, .sock = uint32_t(g_discard)});
  }
}
bool starts(const uint8_t* p, uint32_t n, const char* s) {
  for (uint32_t i = 0; s[i] != '\0'; ++i) {
    if (i >= n || p[i] != static_cast<uint8_t>(s[i])) return false;
  }
  return true;
}
}  // namespace

// The profiler's window (bazel run //:profile -- ...image_net_bench.bin
// --from echo_window_begin --to echo_window_end, docs/performance.md). The
// profiler matches a PC whatever address space runs it, and every task's
// code starts at the same address, so the markers (at the end of this
// file) sit 128 KiB into this program's text, past the end of the driver's
// and the stack's.
extern "C" void echo_window_begin();
extern "C" void echo_window_end();

namespace {

// echo_bench: the markers (see the top).
void bench_marker(const uint8_t* p, uint32_t n) {
  if (starts(p, n, "keel-bench-begin")) {
    echo_window_begin();
    g_benching = true;
    g_bench_datagrams = 0;
    g_bench_start = sys::pmu_instructions();
    g_bench_cycles = sys::pmu_cycles();
  } else if (starts(p, n, "keel-bench-end") && g_benching && g_bench_datagrams > 0) {
    g_benching = false;
    const uint64_t ins = sys::pmu_instructions() - g_bench_start, cyc = sys::pmu_cycles() - g_bench_cycles;
    echo_window_end();
    sys::print("net_udp_echo %llu instructions %llu cycles\n", static_cast<unsigned long long>(ins / g_bench_datagrams),
               static_cast<unsigned long long>(cyc / g_bench_datagrams));
    sys::print("echo: bench: %llu datagrams echoed between the markers\n",
               static_cast<unsigned long long>(g_bench_datagrams));
  } else if (g_benching) {
    ++g_bench_datagrams;
  }
}
void udp_next() {
  g_udp_op = g_net.submit({.op = sock::kRecvFrom, .sock = uint32_t(g_udp), .offset = kUdpOffset, .len = kUdpBytes});
}
void drop(Conn& c) {
  (void)g_net.submit({.op = sock::kClose, .sock = uint32_t(c.sock)});  // (its completion is ignored)
  c.sock = -1;
  c.op = 0;
  accept_next();
}

}  // namespace

bool open_all();
[[noreturn]] void serve();

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  if (!g_net.ok()) {
    sys::print("echo: no network (connect = netstack)\n");
    return 1;
  }
  const char* name = keel::abi::start_info()->name;
  g_bench = starts(reinterpret_cast<const uint8_t*>(name), 16, "echo_bench");
  for (uint32_t i = 0; i < kConns; ++i) g_conns[i].offset = kUdpBytes + i * kConnBytes;
  if (!open_all()) return 1;
  serve();
}

// The listeners and the UDP socket (again after the stack restarted).
bool open_all() {
  g_accept = g_discard_accept = g_udp_op = 0;
  for (Conn& k : g_conns) k.sock = -1, k.op = 0;
  g_listener = g_net.socket(sock::kTcp);
  int r = g_listener < 0 ? g_listener : g_net.bind(g_listener, 0, kPort);
  if (r >= 0) r = g_net.listen(g_listener, sock::kMaxBacklog);
  g_udp = r < 0 ? r : g_net.socket(sock::kUdp);
  if (g_udp >= 0) r = g_net.bind(g_udp, 0, kPort);
  g_discard = r < 0 || g_udp < 0 ? -1 : g_net.socket(sock::kTcp);
  if (g_discard >= 0) r = g_net.bind(g_discard, 0, kDiscardPort);
  if (g_discard >= 0 && r >= 0) r = g_net.listen(g_discard, sock::kMaxBacklog);
  if (r < 0 || g_udp < 0 || g_discard < 0) {
    sys::print("echo: cannot listen on ports 7 and 9: %s\n", sock::status_name(r < 0       ? r
                                                                               : g_udp < 0 ? g_udp
                                                                                           : g_discard));
    return false;
  }
  sys::print("echo: TCP and UDP port %u, TCP discard port %u\n", kPort, kDiscardPort);
  accept_next();
  udp_next();
  return true;
}

[[noreturn]] void serve() {
  for (;;) {
    sock::Completion c{};
    g_net.wait(&c);
    // The stack restarted: every socket is gone; open them again.
    if (c.status == sock::kReset && (c.id == g_udp_op || c.id == g_accept || c.id == g_discard_accept)) {
      sys::print("echo: the network stack restarted; opening the ports again\n");
      while (!open_all()) {
      }
      continue;
    }
    if (c.id == g_udp_op) {
      if (c.status == sock::kOk && c.value > 0) {
        if (g_bench) bench_marker(g_net.data() + kUdpOffset, c.value);
        (void)g_net.submit({.op = sock::kSendTo,
                            .sock = uint32_t(g_udp),
                            .offset = kUdpOffset,
                            .len = c.value,
                            .addr = c.addr,
                            .port = c.port});
        // (the send is copied out before it completes: the buffer is free
        // again once its completion is seen, which comes before the next
        // receive's, in order)
      }
      udp_next();
      continue;
    }
    if (c.id == g_accept || c.id == g_discard_accept) {
      const bool discard = c.id == g_discard_accept;
      (discard ? g_discard_accept : g_accept) = 0;
      if (c.status == sock::kOk) {
        for (Conn& k : g_conns) {
          if (k.sock >= 0) continue;
          k.sock = static_cast<int>(c.value);
          k.sending = false;
          k.discard = discard;
          recv_on(k);
          break;
        }
      }
      accept_next();
      continue;
    }
    for (Conn& k : g_conns) {
      if (k.sock < 0 || k.op != c.id) continue;
      if (c.status != sock::kOk || (!k.sending && c.value == 0)) {  // an error, or the end of the stream
        drop(k);
      } else if (k.discard) {  // received: dropped, receive again
        recv_on(k);
      } else if (!k.sending) {  // received: send it back
        k.sending = true;
        k.op = g_net.submit({.op = sock::kSend, .sock = uint32_t(k.sock), .offset = k.offset, .len = c.value});
      } else {  // sent: receive again
        k.sending = false;
        recv_on(k);
      }
      break;
    }
  }
}

extern "C" [[gnu::noinline, gnu::aligned(0x20000)]] void echo_window_begin() { asm volatile(""); }
extern "C" [[gnu::noinline]] void echo_window_end() { asm volatile(""); }
