// netstack — keel's network stack: lwIP (Debian's source, @lwip; raw API,
// NO_SYS) over the Ethernet driver it is connected to (keel/proto/link.h,
// `connect = net`), serving sockets to its clients (keel/proto/socket.h,
// `connect = netstack` in theirs). One thread: every event — a frame, a
// client's request, a sent buffer back, the timer — wakes the same loop,
// which drains everything, runs lwIP's timers and sleeps until the next
// one is due (the user timer, `timer = yes`).
//
// Copies: one each way. A received frame is copied from the driver's
// buffer into a pbuf and the buffer given straight back (so the device
// always has buffers, whatever lwIP holds on to); a sent frame is copied
// from lwIP's pbufs into a free link buffer. Socket data is copied once
// between the client's connection memory and lwIP.
//
// Address: QEMU user networking's fixed 10.0.2.15/24, gateway 10.0.2.2.
#include <stddef.h>
#include <stdint.h>

#include "keel/driver.h"
#include "keel/proto/link.h"
#include "keel/proto/socket.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/time.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"  // tcp_process_refused_data: hand back what a client over its limit refused
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

namespace {

namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;
namespace link = keel::link;
namespace sock = keel::sock;

constexpr uint32_t kRxBuffers = 14;  // given to the driver to receive into; the rest send
constexpr uint32_t kUdpQueue = 8;    // datagrams a UDP socket holds unread (more are dropped, counted)
// Received bytes a client's sockets may hold unread, together: past it new
// stream data is refused (lwIP keeps one refused segment per connection and
// drops the rest until it is taken; the peer retransmits) and datagrams are
// dropped. So one client that does not read cannot take the pbuf pool from
// the others: it holds at most this plus one segment per socket.
constexpr uint32_t kClientUnreadLimit = 32 * 1024;

// ---- the link ------------------------------------------------------------------------

struct Link {
  link::Shared* shared = nullptr;
  uint8_t* base = nullptr;
  uint32_t free_tx[link::kBuffers];
  uint32_t free_tx_count = 0;
  bool ours[link::kBuffers] = {};  // the stack holds it (not the driver)
  uint32_t generation = 0;         // the driver instance's, as last seen (proto/link.h)
  uint64_t rx_frames = 0, tx_frames = 0, rx_no_pbuf = 0, tx_waits = 0, tx_dropped = 0, bad_from_driver = 0;
};
Link g_link;
netif g_netif;

void wake_driver() { (void)sys::Notification(slot::kDiskWake).signal(); }

uint64_t counter_per_ms() { return sys::counter_frequency() / 1000; }

// Waits for the next event of any kind (which one does not matter: the
// main loop looks at everything after each wake), or the deadline. The
// timer stays armed across wakes: a new deadline is set only when it is
// earlier than the one armed (a later one would wake us early: the loop
// just looks again), which saves a syscall on most wakes.
uint64_t g_armed = 0;  // the deadline armed and not yet fired (0: none)

void wait_event(uint64_t deadline_counter) {
  if (deadline_counter != 0 && (g_armed == 0 || deadline_counter < g_armed)) {
    if (sys::IrqHandler(slot::kTimer).set_deadline(deadline_counter) == abi::Error::kOk) g_armed = deadline_counter;
  }
  uint64_t word = 0;
  (void)sys::driver_wait(&word);
  if ((word & abi::kTimerBit) != 0) g_armed = 0;
}

// Buffers the driver is done sending come back to the free list.
bool reclaim_tx() {
  Link& l = g_link;
  bool any = false, signal = false;
  link::Frame f{};
  while (l.shared->tx_done.pop(&f, &signal)) {
    if (signal) wake_driver();
    if (f.buffer >= link::kBuffers || l.ours[f.buffer]) {
      ++l.bad_from_driver;
      continue;
    }
    l.ours[f.buffer] = true;
    l.free_tx[l.free_tx_count++] = f.buffer;
    any = true;
  }
  return any;
}

bool driver_restarted() {
  return __atomic_load_n(&g_link.shared->info.generation, __ATOMIC_ACQUIRE) != g_link.generation;
}

// lwIP's output to the wire: one copy into a free link buffer. With none
// free it waits for the driver (bounded: 50 ms, then the frame is dropped
// and TCP's retransmission covers it). It runs inside lwIP (tcp_output,
// etharp_output), which is not reentrant: it must never feed lwIP input.
// So a driver restart seen here only drops the frame — following the new
// instance takes in the old one's frames (link_input), which the main
// loop does (follow_driver_restart) once lwIP has returned.
err_t link_output(netif*, pbuf* p) {
  Link& l = g_link;
  if (p->tot_len < link::kMinFrame || p->tot_len > link::kMaxFrame) return ERR_ARG;
  if (l.free_tx_count == 0) {
    (void)reclaim_tx();
    const uint64_t give_up = sys::counter() + 50 * counter_per_ms();
    while (l.free_tx_count == 0) {
      ++l.tx_waits;
      if (driver_restarted()) {  // (the old instance's buffers come back only through the main loop)
        ++l.tx_dropped;
        return ERR_MEM;
      }
      if (!l.shared->tx_done.prepare_wait()) {
        (void)reclaim_tx();
        continue;
      }
      if (sys::counter() >= give_up) {
        ++l.tx_dropped;
        return ERR_MEM;
      }
      wait_event(give_up);
      (void)reclaim_tx();
    }
  }
  const uint32_t b = l.free_tx[--l.free_tx_count];
  l.ours[b] = false;
  uint8_t* frame = l.base + link::buffer_offset(b) + link::kHeaderBytes;
  pbuf_copy_partial(p, frame, p->tot_len, 0);
  bool signal = false;
  if (!l.shared->tx.push(link::Frame{b, p->tot_len, l.generation, 0}, &signal)) {  // (never full: 32 > kBuffers)
    l.ours[b] = true;
    l.free_tx[l.free_tx_count++] = b;
    return ERR_MEM;
  }
  ++l.tx_frames;
  if (signal) wake_driver();
  return ERR_OK;
}

// Every buffer the stack's again: the receive set to the driver, the rest
// free to send (at start, and when a new driver instance appears).
void give_out_buffers() {
  Link& l = g_link;
  l.generation = __atomic_load_n(&l.shared->info.generation, __ATOMIC_ACQUIRE);
  l.free_tx_count = 0;
  for (uint32_t b = 0; b < link::kBuffers; ++b) {
    l.ours[b] = true;
    if (b < kRxBuffers) {
      bool signal = false;
      l.ours[b] = false;
      (void)l.shared->rx_free.push(link::Frame{b, 0, l.generation, 0}, &signal);
    } else {
      l.free_tx[l.free_tx_count++] = b;
    }
  }
  wake_driver();
}

bool link_input();

// A new driver instance (proto/link.h "Generations"): what the rings from
// the driver still hold is taken (frames received before it died), then
// every buffer is taken back and given out again. True if it happened.
// (The main loop's only: it feeds lwIP input — never from inside lwIP.)
bool follow_driver_restart() {
  if (!driver_restarted()) return false;
  (void)link_input();
  (void)reclaim_tx();
  give_out_buffers();
  return true;
}

err_t netif_setup(netif* n) {
  const link::Info& info = g_link.shared->info;
  n->name[0] = 'e';
  n->name[1] = 'n';
  n->output = etharp_output;
  n->linkoutput = link_output;
  n->mtu = 1500;
  n->hwaddr_len = 6;
  for (int i = 0; i < 6; ++i) n->hwaddr[i] = info.mac[i];
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

// Received frames into lwIP: copied into a pool pbuf, the buffer given
// back to the driver at once.
bool link_input() {
  Link& l = g_link;
  bool any = false, signal = false, wake = false;
  link::Frame f{};
  while (l.shared->rx.pop(&f, &signal)) {
    wake |= signal;
    any = true;
    if (!link::valid_frame(f) || l.ours[f.buffer]) {
      ++l.bad_from_driver;
      continue;
    }
    l.ours[f.buffer] = true;
    pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(f.len), PBUF_POOL);
    if (p != nullptr) {
      (void)pbuf_take(p, l.base + link::buffer_offset(f.buffer) + link::kHeaderBytes, static_cast<u16_t>(f.len));
    } else {
      ++l.rx_no_pbuf;  // (TCP retransmits; counted)
    }
    l.ours[f.buffer] = false;
    bool sig = false;
    (void)l.shared->rx_free.push(link::Frame{f.buffer, 0, l.generation, 0}, &sig);
    wake |= sig;
    ++l.rx_frames;
    if (p != nullptr && g_netif.input(p, &g_netif) != ERR_OK) pbuf_free(p);
  }
  if (wake) wake_driver();
  return any;
}

// ---- sockets -------------------------------------------------------------------------

struct Client;
struct Datagram {
  pbuf* p;
  uint32_t addr, port;
};
struct Pending {
  bool on = false;
  uint32_t id = 0, offset = 0, len = 0, done = 0;
};
struct Sock {
  Client* client = nullptr;
  uint32_t index = 0;
  uint32_t type = 0;  // 0: free
  tcp_pcb* tcp = nullptr;
  udp_pcb* udp = nullptr;
  bool listening = false, eof = false, unclaimed = false;
  int32_t error = sock::kOk;  // a connection's fatal error, reported to the next op
  Pending recv, send, accept, connect;
  pbuf* rx = nullptr;  // TCP: received, not yet read
  Datagram dgrams[kUdpQueue];
  uint32_t dgram_head = 0, dgram_count = 0;
  uint32_t backlog[sock::kMaxBacklog];  // listener: sockets of connections not yet accepted
  uint32_t backlog_count = 0;
};
struct Client {
  sock::Shared* shared = nullptr;
  uint8_t* data = nullptr;
  uint32_t conn = 0;
  uint64_t client_id = 0;
  Sock socks[sock::kMaxSockets];
  uint64_t requests = 0, errors = 0, lost = 0, udp_dropped = 0;
  uint32_t generation = 0;  // this instance's (proto/socket.h "Generations")
  uint32_t unread = 0;      // bytes in its sockets' receive queues (kClientUnreadLimit)
  bool refusing = false;    // a connection's data was refused for the limit
};
Client g_clients[abi::kMaxConns];
uint32_t g_client_count = 0;

void complete(Client& c, uint32_t id, int32_t status, uint32_t value = 0, uint32_t addr = 0, uint32_t port = 0) {
  bool signal = false;
  if (status != sock::kOk) ++c.errors;
  if (!c.shared->done.push(sock::Completion{id, status, value, addr, port, 0}, &signal)) ++c.lost;
  if (signal) (void)sys::Notification(slot::kConnWake + c.conn).signal();
}
void finish(Sock& s, Pending& p, int32_t status, uint32_t value = 0, uint32_t addr = 0, uint32_t port = 0) {
  if (!p.on) return;
  p.on = false;
  complete(*s.client, p.id, status, value, addr, port);
}

Sock* new_sock(Client& c, uint32_t type) {
  for (uint32_t i = 0; i < sock::kMaxSockets; ++i) {
    Sock& s = c.socks[i];
    if (s.type != 0) continue;
    s = Sock{};
    s.client = &c;
    s.index = i;
    s.type = type;
    return &s;
  }
  return nullptr;
}

uint32_t host_addr(const ip_addr_t* a) { return lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(a))); }
int32_t status_of(err_t e) {
  switch (e) {
    case ERR_OK: return sock::kOk;
    case ERR_MEM: return sock::kNoMemory;
    case ERR_RST:  // (reset by the peer)
    case ERR_ABRT: return sock::kReset;
    case ERR_CLSD: return sock::kClosed;
    case ERR_CONN: return sock::kNotConnected;
    case ERR_USE: return sock::kAddressInUse;
    case ERR_RTE: return sock::kUnreachable;
    default: return sock::kInvalid;
  }
}

void try_recv(Sock& s);

// A client back under half its limit gets the data it refused offered
// again on the main loop's next turn (lwIP would retry only at its next
// fast timer). From the main loop only (serve_clients), never from inside
// an lwIP callback: lwIP is not reentrant, and this runs other
// connections' receive callbacks. True if it offered any.
bool offer_refused(Client& c) {
  if (!c.refusing || c.unread > kClientUnreadLimit / 2) return false;
  c.refusing = false;
  bool any = false;
  for (Sock& x : c.socks) {
    if (x.type == sock::kTcp && x.tcp != nullptr && !x.listening && x.tcp->refused_data != nullptr) {
      (void)tcp_process_refused_data(x.tcp);  // (may call on_recv, or on_error if the pcb is aborted)
      any = true;
    }
  }
  return any;
}

// A TCP socket's waiting recv, if data (or the end) is there.
void try_recv(Sock& s) {
  if (!s.recv.on) return;
  if (s.rx != nullptr) {
    const uint32_t n = s.rx->tot_len < s.recv.len ? s.rx->tot_len : s.recv.len;
    pbuf_copy_partial(s.rx, s.client->data + s.recv.offset, static_cast<u16_t>(n), 0);
    s.rx = pbuf_free_header(s.rx, static_cast<u16_t>(n));
    s.client->unread -= n;
    if (s.tcp != nullptr) tcp_recved(s.tcp, static_cast<u16_t>(n));
    finish(s, s.recv, sock::kOk, n);  // (refused data is offered again from the main loop: offer_refused)
  } else if (s.eof) {
    finish(s, s.recv, sock::kOk, 0);
  } else if (s.error != sock::kOk || s.tcp == nullptr) {
    finish(s, s.recv, s.error != sock::kOk ? s.error : sock::kNotConnected);
  }
}

// A TCP socket's waiting send: as much as lwIP's send buffer takes now
// (copied); the rest when acknowledged data frees room (tcp_sent).
void try_send(Sock& s) {
  if (!s.send.on) return;
  if (s.tcp == nullptr || s.error != sock::kOk) {
    finish(s, s.send, s.error != sock::kOk ? s.error : sock::kNotConnected);
    return;
  }
  while (s.send.done < s.send.len) {
    uint32_t n = s.send.len - s.send.done;
    const uint32_t room = tcp_sndbuf(s.tcp);
    if (room == 0 || tcp_sndqueuelen(s.tcp) >= TCP_SND_QUEUELEN) break;
    if (n > room) n = room;
    if (n > 0xffff) n = 0xffff;
    const err_t e =
        tcp_write(s.tcp, s.client->data + s.send.offset + s.send.done, static_cast<u16_t>(n), TCP_WRITE_FLAG_COPY);
    if (e == ERR_MEM) break;  // (room later)
    if (e != ERR_OK) {
      finish(s, s.send, status_of(e));
      return;
    }
    s.send.done += n;
  }
  (void)tcp_output(s.tcp);
  if (s.send.done == s.send.len) finish(s, s.send, sock::kOk, s.send.len);
}

void drop_rx(Sock& s) {
  if (s.rx != nullptr) {
    s.client->unread -= s.rx->tot_len;
    pbuf_free(s.rx);
  }
  s.rx = nullptr;
  for (uint32_t i = 0; i < s.dgram_count; ++i) {
    pbuf* p = s.dgrams[(s.dgram_head + i) % kUdpQueue].p;
    s.client->unread -= p->tot_len;
    pbuf_free(p);
  }
  s.dgram_count = 0;
}

void close_sock(Sock& s);

// lwIP's callbacks (arg: the Sock).
err_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
  Sock* s = static_cast<Sock*>(arg);
  if (s == nullptr) {  // (a socket closed meanwhile)
    if (p != nullptr) pbuf_free(p);
    return ERR_OK;
  }
  if (p == nullptr) {
    s->eof = true;
  } else if (err != ERR_OK) {
    pbuf_free(p);
    return ERR_OK;
  } else if (s->client->unread + p->tot_len > kClientUnreadLimit) {
    s->client->refusing = true;
    return ERR_MEM;  // lwIP keeps p (refused_data) and offers it again
  } else {
    s->client->unread += p->tot_len;
    if (s->rx == nullptr) {
      s->rx = p;
    } else {
      pbuf_cat(s->rx, p);
    }
  }
  (void)pcb;
  try_recv(*s);
  return ERR_OK;
}
err_t on_sent(void* arg, tcp_pcb*, u16_t) {
  if (arg != nullptr) try_send(*static_cast<Sock*>(arg));
  return ERR_OK;
}
// The pcb is gone (lwIP freed it): every waiting op hears why.
void on_error(void* arg, err_t err) {
  Sock* s = static_cast<Sock*>(arg);
  if (s == nullptr) return;
  s->tcp = nullptr;
  s->error = err == ERR_RST ? (s->connect.on ? sock::kRefused : sock::kReset) : status_of(err);
  if (s->error == sock::kOk) s->error = sock::kReset;
  finish(*s, s->connect, s->error);
  finish(*s, s->send, s->error);
  try_recv(*s);
}
err_t on_connected(void* arg, tcp_pcb*, err_t err) {
  Sock* s = static_cast<Sock*>(arg);
  if (s != nullptr) finish(*s, s->connect, status_of(err));
  return ERR_OK;
}
void attach(Sock& s, tcp_pcb* pcb) {
  s.tcp = pcb;
  tcp_arg(pcb, &s);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_error);
  tcp_nagle_disable(pcb);
}

// A listener's waiting accept, if a connection is queued.
void try_accept(Sock& l) {
  if (!l.accept.on || l.backlog_count == 0) return;
  Sock& s = l.client->socks[l.backlog[0]];
  for (uint32_t i = 1; i < l.backlog_count; ++i) l.backlog[i - 1] = l.backlog[i];
  --l.backlog_count;
  s.unclaimed = false;
  if (s.tcp != nullptr) tcp_backlog_accepted(s.tcp);
  finish(l, l.accept, sock::kOk, s.index, s.tcp != nullptr ? host_addr(&s.tcp->remote_ip) : 0,
         s.tcp != nullptr ? s.tcp->remote_port : 0);
}
err_t on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  Sock* l = static_cast<Sock*>(arg);
  if (l == nullptr || err != ERR_OK || pcb == nullptr) return ERR_VAL;
  Sock* s = l->backlog_count < sock::kMaxBacklog ? new_sock(*l->client, sock::kTcp) : nullptr;
  if (s == nullptr) {  // the client's limit: refused (lwIP aborts the connection)
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  attach(*s, pcb);
  s->unclaimed = true;
  tcp_backlog_delayed(pcb);  // counts against the listener's backlog until accepted
  l->backlog[l->backlog_count++] = s->index;
  try_accept(*l);
  return ERR_OK;
}
void on_udp(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* addr, u16_t port) {
  Sock* s = static_cast<Sock*>(arg);
  if (s == nullptr || s->dgram_count == kUdpQueue || s->client->unread + p->tot_len > kClientUnreadLimit) {
    if (s != nullptr) ++s->client->udp_dropped;
    pbuf_free(p);
    return;
  }
  s->client->unread += p->tot_len;
  s->dgrams[(s->dgram_head + s->dgram_count++) % kUdpQueue] = Datagram{p, host_addr(addr), port};
  if (s->recv.on) {
    Datagram d = s->dgrams[s->dgram_head];
    s->dgram_head = (s->dgram_head + 1) % kUdpQueue;
    --s->dgram_count;
    const uint32_t n = d.p->tot_len < s->recv.len ? d.p->tot_len : s->recv.len;
    pbuf_copy_partial(d.p, s->client->data + s->recv.offset, static_cast<u16_t>(n), 0);
    s->client->unread -= d.p->tot_len;
    pbuf_free(d.p);
    finish(*s, s->recv, sock::kOk, n, d.addr, d.port);
  }
}

void close_sock(Sock& s) {
  finish(s, s.recv, sock::kClosed);
  finish(s, s.send, sock::kClosed);
  finish(s, s.accept, sock::kClosed);
  finish(s, s.connect, sock::kClosed);
  if (s.listening) {
    for (uint32_t i = 0; i < s.backlog_count; ++i) close_sock(s.client->socks[s.backlog[i]]);
    s.backlog_count = 0;
  }
  if (s.tcp != nullptr) {
    tcp_arg(s.tcp, nullptr);
    if (!s.listening) {
      tcp_recv(s.tcp, nullptr);
      tcp_sent(s.tcp, nullptr);
      tcp_err(s.tcp, nullptr);
    }
    if (s.unclaimed) tcp_backlog_accepted(s.tcp);
    if (tcp_close(s.tcp) != ERR_OK) tcp_abort(s.tcp);
  }
  if (s.udp != nullptr) udp_remove(s.udp);
  drop_rx(s);
  s = Sock{};
}

void handle(Client& c, const sock::Request& r) {
  ++c.requests;
  // Made for a dead instance (0: before any instance ran, the first's).
  if (r.gen != c.generation && !(r.gen == 0 && c.generation == 1)) return complete(c, r.id, sock::kReset);
  const int32_t st = sock::check(r);
  if (st != sock::kOk) return complete(c, r.id, st);
  if (r.op == sock::kStats) {
    if (r.len < sizeof(sock::Stats)) return complete(c, r.id, sock::kBadBuffer);
    sock::Stats st{};
    const Link& l = g_link;
    static_assert(link::kCounters <= sizeof st.link / sizeof st.link[0]);
    for (uint32_t k = 0; k < link::kCounters; ++k)
      st.link[k] = __atomic_load_n(&l.shared->info.counters[k], __ATOMIC_RELAXED);
    st.rx_frames = l.rx_frames;
    st.tx_frames = l.tx_frames;
    st.rx_no_pbuf = l.rx_no_pbuf;
    st.tx_waits = l.tx_waits;
    st.tx_dropped = l.tx_dropped;
    st.bad_from_driver = l.bad_from_driver;
    st.clients = g_client_count;
    for (uint32_t k = 0; k < g_client_count; ++k) {
      for (const Sock& x : g_clients[k].socks) st.sockets += x.type != 0 ? 1 : 0;
    }
    st.requests = c.requests;
    st.errors = c.errors;
    st.udp_dropped = c.udp_dropped;
    __builtin_memcpy(c.data + r.offset, &st, sizeof st);
    return complete(c, r.id, sock::kOk, sizeof st);
  }
  if (r.op == sock::kSocket) {
    Sock* s = new_sock(c, r.arg);
    if (s == nullptr) return complete(c, r.id, sock::kNoSockets);
    if (r.arg == sock::kTcp) {
      s->tcp = tcp_new();
      if (s->tcp != nullptr) attach(*s, s->tcp);
    } else {
      s->udp = udp_new();
      if (s->udp != nullptr) udp_recv(s->udp, on_udp, s);
    }
    if (s->tcp == nullptr && s->udp == nullptr) {
      *s = Sock{};
      return complete(c, r.id, sock::kNoMemory);
    }
    return complete(c, r.id, sock::kOk, s->index);
  }
  Sock& s = c.socks[r.sock];
  if (s.type == 0 || s.unclaimed) return complete(c, r.id, sock::kBadSocket);
  const bool tcp = s.type == sock::kTcp;
  ip_addr_t addr;
  ip_addr_set_ip4_u32(&addr, lwip_htonl(r.addr));
  switch (r.op) {
    case sock::kBind: {
      if (s.listening || (tcp && s.tcp == nullptr)) return complete(c, r.id, sock::kBadOp);
      const err_t e =
          tcp ? tcp_bind(s.tcp, &addr, static_cast<u16_t>(r.port)) : udp_bind(s.udp, &addr, static_cast<u16_t>(r.port));
      return complete(c, r.id, status_of(e));
    }
    case sock::kListen: {
      if (!tcp || s.listening || s.tcp == nullptr || s.tcp->state != CLOSED) return complete(c, r.id, sock::kBadOp);
      err_t e = ERR_OK;
      tcp_pcb* l = tcp_listen_with_backlog_and_err(s.tcp, static_cast<u8_t>(r.arg), &e);
      if (l == nullptr) return complete(c, r.id, status_of(e));
      s.tcp = l;  // (the old pcb was freed)
      s.listening = true;
      tcp_arg(l, &s);
      tcp_accept(l, on_accept);
      return complete(c, r.id, sock::kOk);
    }
    case sock::kAccept:
      if (!s.listening) return complete(c, r.id, sock::kBadOp);
      if (s.accept.on) return complete(c, r.id, sock::kBusy);
      s.accept = Pending{true, r.id};
      return try_accept(s);
    case sock::kConnect: {
      if (!tcp || s.listening || s.tcp == nullptr || s.tcp->state != CLOSED) return complete(c, r.id, sock::kBadOp);
      if (s.connect.on) return complete(c, r.id, sock::kBusy);
      s.connect = Pending{true, r.id};
      const err_t e = tcp_connect(s.tcp, &addr, static_cast<u16_t>(r.port), on_connected);
      if (e != ERR_OK) finish(s, s.connect, status_of(e));
      return;
    }
    case sock::kSend:
      if (!tcp || s.listening) return complete(c, r.id, sock::kBadOp);
      if (s.send.on) return complete(c, r.id, sock::kBusy);
      s.send = Pending{true, r.id, r.offset, r.len, 0};
      return try_send(s);
    case sock::kRecv:
      if (!tcp || s.listening) return complete(c, r.id, sock::kBadOp);
      if (s.recv.on) return complete(c, r.id, sock::kBusy);
      s.recv = Pending{true, r.id, r.offset, r.len, 0};
      return try_recv(s);
    case sock::kSendTo: {
      if (tcp) return complete(c, r.id, sock::kBadOp);
      pbuf* p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(r.len), PBUF_RAM);
      if (p == nullptr) return complete(c, r.id, sock::kNoMemory);
      (void)pbuf_take(p, c.data + r.offset, static_cast<u16_t>(r.len));
      const err_t e = udp_sendto(s.udp, p, &addr, static_cast<u16_t>(r.port));
      pbuf_free(p);
      return complete(c, r.id, status_of(e), e == ERR_OK ? r.len : 0);
    }
    case sock::kRecvFrom: {
      if (tcp) return complete(c, r.id, sock::kBadOp);
      if (s.recv.on) return complete(c, r.id, sock::kBusy);
      s.recv = Pending{true, r.id, r.offset, r.len, 0};
      if (s.dgram_count != 0) {
        Datagram d = s.dgrams[s.dgram_head];
        s.dgram_head = (s.dgram_head + 1) % kUdpQueue;
        --s.dgram_count;
        const uint32_t n = d.p->tot_len < r.len ? d.p->tot_len : r.len;
        pbuf_copy_partial(d.p, c.data + r.offset, static_cast<u16_t>(n), 0);
        c.unread -= d.p->tot_len;
        pbuf_free(d.p);
        finish(s, s.recv, sock::kOk, n, d.addr, d.port);
      }
      return;
    }
    case sock::kClose: close_sock(s); return complete(c, r.id, sock::kOk);
    case sock::kStats: return;  // (answered above)
    default: return complete(c, r.id, sock::kBadOp);
  }
}

bool serve_clients() {
  bool any = false;
  for (uint32_t i = 0; i < g_client_count; ++i) {
    Client& c = g_clients[i];
    sock::Request r{};
    bool signal = false;
    // At most a ring's worth per client per pass: one busy client cannot
    // keep the loop from the others or from the wire.
    for (uint32_t n = 0; n < sock::RequestRing::kCapacity && c.shared->requests.pop(&r, &signal); ++n) {
      if (signal) (void)sys::Notification(slot::kConnWake + c.conn).signal();
      handle(c, r);
      any = true;
    }
    any |= offer_refused(c);
  }
  return any;
}

// ---- start and the loop --------------------------------------------------------------

const char* start() {
  const abi::StartInfo* info = abi::start_info();
  if (info->disk_va == 0) return "no link (connect = net in its description)";
  Link& l = g_link;
  l.shared = reinterpret_cast<link::Shared*>(info->disk_va);
  l.base = reinterpret_cast<uint8_t*>(info->disk_va);
  // The driver says ready once it has a device (a while after boot).
  while (__atomic_load_n(&l.shared->info.ready, __ATOMIC_ACQUIRE) == 0) wait_event(0);
  give_out_buffers();
  lwip_init();
  ip4_addr_t ip, mask, gw;
  IP4_ADDR(&ip, 10, 0, 2, 15);
  IP4_ADDR(&mask, 255, 255, 255, 0);
  IP4_ADDR(&gw, 10, 0, 2, 2);
  if (netif_add(&g_netif, &ip, &mask, &gw, nullptr, netif_setup, ethernet_input) == nullptr) return "netif_add failed";
  netif_set_default(&g_netif);
  netif_set_up(&g_netif);
  netif_set_link_up(&g_netif);
  for (uint64_t i = 0; i < info->conn_count && i < abi::kMaxConns; ++i) {
    Client& c = g_clients[g_client_count];
    c.shared = reinterpret_cast<sock::Shared*>(info->conns[i].va);
    c.data = reinterpret_cast<uint8_t*>(info->conns[i].va + sock::kDataOffset);
    c.conn = g_client_count++;
    c.client_id = info->conns[i].client_id;
    c.generation = __atomic_load_n(&c.shared->generation, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&c.shared->generation, c.generation, __ATOMIC_RELEASE);
    (void)sys::Notification(slot::kConnWake + c.conn).signal();
  }
  const uint8_t* m = l.shared->info.mac;
  sys::print("netstack: lwIP %s on %02x:%02x:%02x:%02x:%02x:%02x, 10.0.2.15/24 via 10.0.2.2, %u clients\n",
             LWIP_VERSION_STRING, m[0], m[1], m[2], m[3], m[4], m[5], g_client_count);
  return nullptr;
}

[[noreturn]] void serve() {
  const uint64_t per_ms = counter_per_ms();
  for (;;) {
    bool any = true;
    while (any) {
      sys_check_timeouts();
      any = follow_driver_restart();
      any |= link_input();
      any |= reclaim_tx();
      any |= serve_clients();
    }
    // Asleep only after asking every peer to wake us, and seeing nothing.
    bool pending = !g_link.shared->rx.prepare_wait();
    pending |= !g_link.shared->tx_done.prepare_wait();
    for (uint32_t i = 0; i < g_client_count; ++i) pending |= !g_clients[i].shared->requests.prepare_wait();
    if (pending) continue;
    const u32_t ms = sys_timeouts_sleeptime();
    wait_event(ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? 0 : sys::counter() + (uint64_t{ms} + 1) * per_ms);
  }
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  if (const char* why = start()) {
    sys::print("netstack: not started (%s)\n", why);
    return 0;
  }
  serve();
}
