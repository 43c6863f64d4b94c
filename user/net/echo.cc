// echo — TCP and UDP echo on port 7 (RFC 862), through the network stack's
// sockets (keel/socket.h, asynchronous: every connection's receive, the
// listener's accept and the UDP receive wait at once; nothing blocks the
// others). Up to kConns connections at a time; more wait in the
// listener's backlog (and the host's SYN retries) until one closes.
#include <stdint.h>

#include "keel/socket.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace {

namespace sys = keel::sys;
namespace sock = keel::sock;

constexpr uint16_t kPort = 7;
constexpr uint32_t kUdpOffset = 0, kUdpBytes = 4096;  // one datagram at a time
constexpr uint32_t kConns = 52, kConnBytes = 1024;   // after the UDP buffer
static_assert(kUdpBytes + kConns * kConnBytes <= sock::kDataBytes);

struct Conn {
  int sock = -1;
  uint32_t op = 0;  // the id of the request waiting for it (recv, then send, then recv ...)
  uint32_t offset = 0;
  bool sending = false;  // the request waiting is a send (else a receive)
};

sys::Sockets g_net;
Conn g_conns[kConns];
uint32_t g_accept = 0, g_udp_op = 0;
int g_listener = -1, g_udp = -1;
uint64_t g_connections = 0, g_datagrams = 0;

void recv_on(Conn& c) {
  c.op = g_net.submit({.op = sock::kRecv, .sock = uint32_t(c.sock), .offset = c.offset, .len = kConnBytes});
}
void accept_next() {
  g_accept = 0;
  for (Conn& c : g_conns) {
    if (c.sock < 0) {
      g_accept = g_net.submit({.op = sock::kAccept, .sock = uint32_t(g_listener)});
      return;
    }
  }
}
void udp_next() {
  g_udp_op = g_net.submit({.op = sock::kRecvFrom, .sock = uint32_t(g_udp), .offset = kUdpOffset, .len = kUdpBytes});
}
void drop(Conn& c) {
  (void)g_net.submit({.op = sock::kClose, .sock = uint32_t(c.sock)});  // (its completion is ignored)
  c.sock = -1;
  c.op = 0;
  if (g_accept == 0) accept_next();
}

}  // namespace

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  if (!g_net.ok()) {
    sys::print("echo: no network (connect = netstack)\n");
    return 1;
  }
  g_listener = g_net.socket(sock::kTcp);
  int r = g_listener < 0 ? g_listener : g_net.bind(g_listener, 0, kPort);
  if (r >= 0) r = g_net.listen(g_listener, sock::kMaxBacklog);
  g_udp = r < 0 ? r : g_net.socket(sock::kUdp);
  if (g_udp >= 0) r = g_net.bind(g_udp, 0, kPort);
  if (r < 0 || g_udp < 0) {
    sys::print("echo: cannot listen on port 7: %s\n", sock::status_name(r < 0 ? r : g_udp));
    return 1;
  }
  for (uint32_t i = 0; i < kConns; ++i) g_conns[i].offset = kUdpBytes + i * kConnBytes;
  sys::print("echo: TCP and UDP port %u\n", kPort);
  accept_next();
  udp_next();
  for (;;) {
    sock::Completion c{};
    g_net.wait(&c);
    if (c.id == g_udp_op) {
      if (c.status == sock::kOk && c.value > 0) {
        ++g_datagrams;
        (void)g_net.submit({.op = sock::kSendTo, .sock = uint32_t(g_udp), .offset = kUdpOffset, .len = c.value,
                            .addr = c.addr, .port = c.port});
        // (the send is copied out before it completes: the buffer is free
        // again once its completion is seen, which comes before the next
        // receive's, in order)
      }
      udp_next();
      continue;
    }
    if (c.id == g_accept) {
      g_accept = 0;
      if (c.status == sock::kOk) {
        for (Conn& k : g_conns) {
          if (k.sock >= 0) continue;
          k.sock = static_cast<int>(c.value);
          k.sending = false;
          ++g_connections;
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
