// httpd — a small HTTP/1.0 server on port 80 (keel/socket.h, one
// connection at a time): `GET /` is a plain-text page of the system's
// state — its tasks and their state, the memory server's totals, the
// console's and the network's counters — and `GET /tasks` the same as one
// JSON object; anything else is 404, a method other than GET 405, a
// request that does not fit its buffer 431. (Disk counters are init's to
// ask: the block driver's endpoint is not given to clients.)
#include <stdarg.h>
#include <stdint.h>

#include "keel/proto/console.h"
#include "keel/proto/link.h"
#include "keel/proto/memory.h"
#include "keel/socket.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/time.h"
#include "kernel/lib/fmt.h"

namespace {

namespace sys = keel::sys;
namespace sock = keel::sock;

constexpr uint16_t kPort = 80;
constexpr uint32_t kRequestMax = 2048;

sys::Sockets g_net;
char g_request[kRequestMax + 1];
char g_body[8192];
char g_head[256];
uint64_t g_served = 0;

bool starts(const char* s, const char* p) {
  while (*p != '\0') {
    if (*s++ != *p++) return false;
  }
  return true;
}

// The page, appended piece by piece (a piece that does not fit is cut).
uint32_t g_len = 0;
void add(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void add(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const size_t n = keel::vsnformat(g_body + g_len, sizeof g_body - g_len, fmt, ap);
  va_end(ap);
  g_len += static_cast<uint32_t>(n < sizeof g_body - g_len ? n : sizeof g_body - g_len - 1);
}
using ull = unsigned long long;
// A task name as the memory server reports it, made safe for JSON and text.
void clean(const char* in, char* out) {
  size_t i = 0;
  for (; i < 15 && in[i] != '\0'; ++i) {
    const char c = in[i];
    out[i] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ? c : '?';
  }
  out[i] = '\0';
}
const char* state_of(const keel::memory::ClientInfo& c) {
  return c.alive ? "running" : c.killed ? "stopped by a fault" : "exited";
}

// The system's state, from those who keep it: the memory server (tasks,
// pages), the console server (its counters), the network stack (its own
// and the network driver's counters). As text, or as one JSON object.
uint32_t page(bool json) {
  const keel::abi::StartInfo* si = keel::abi::start_info();
  const uint64_t up_ms = sys::now_ns() / 1000000;
  const sys::Endpoint mem(keel::abi::task_slot::kMemory), con(keel::abi::task_slot::kConsole);
  keel::memory::Stats ms{};
  const bool have_mem = keel::memory::stats(mem, &ms) == keel::abi::Error::kOk;
  keel::console::Stats cs{};
  const bool have_con = keel::console::stats(con, &cs) == keel::abi::Error::kOk;
  sock::Stats ns{};
  const bool have_net = g_net.stats(&ns) >= 0;
  g_len = 0;
  if (json) {
    add("{\"system\":\"keel\",\"uptime_ms\":%llu,\"cpus\":%llu,\"memory_bytes\":%llu,\"tasks\":[", ull(up_ms),
        ull(si->cpu_count), ull(si->memory_bytes));
  } else {
    add("keel: up %llu.%03llu s, %llu CPUs, %llu MiB RAM\n\ntasks (the memory server's clients):\n", ull(up_ms / 1000),
        ull(up_ms % 1000), ull(si->cpu_count), ull(si->memory_bytes >> 20));
    add("  id  name             pages  quota  faults  state\n");
  }
  keel::memory::ClientInfo c{};
  for (uint64_t k = 0; have_mem && keel::memory::client(mem, k, &c) == keel::abi::Error::kOk; ++k) {
    char name[16];
    clean(c.name, name);
    if (json) {
      add("%s{\"id\":%llu,\"name\":\"%s\",\"state\":\"%s\",\"pages\":%llu,\"quota\":%llu,\"faults\":%llu}",
          k == 0 ? "" : ",", ull(c.id), name, state_of(c), ull(c.pages), ull(c.quota), ull(c.faults));
    } else {
      add("  %2llu  %-15s %6llu %6llu %7llu  %s\n", ull(c.id), name, ull(c.pages), ull(c.quota), ull(c.faults),
          state_of(c));
    }
  }
  if (json) {
    add("]");
    if (have_mem) {
      add(",\"memory\":{\"pages_managed\":%llu,\"pages_free\":%llu,\"clients\":%llu,\"faults\":%llu}", ull(ms.managed),
          ull(ms.free), ull(ms.clients), ull(ms.faults));
    }
    if (have_con) {
      add(",\"console\":{\"bytes\":%llu,\"lines\":%llu,\"received\":%llu,\"kernel_bytes\":%llu}", ull(cs.bytes),
          ull(cs.lines), ull(cs.received), ull(cs.kernel_bytes));
    }
    if (have_net) {
      add(",\"net\":{\"rx_frames\":%llu,\"rx_bytes\":%llu,\"tx_frames\":%llu,\"tx_bytes\":%llu,"
          "\"rx_dropped_short\":%llu,\"rx_dropped_long\":%llu,\"rx_dropped_num_buffers\":%llu,"
          "\"rx_no_pbuf\":%llu,\"tx_waits\":%llu,\"tx_dropped\":%llu,\"sockets\":%llu}",
          ull(ns.link[keel::link::kRxFrames]), ull(ns.link[keel::link::kRxBytes]), ull(ns.link[keel::link::kTxFrames]),
          ull(ns.link[keel::link::kTxBytes]), ull(ns.link[keel::link::kRxShort]), ull(ns.link[keel::link::kRxLong]),
          ull(ns.link[keel::link::kRxBadNumBuffers]), ull(ns.rx_no_pbuf), ull(ns.tx_waits), ull(ns.tx_dropped),
          ull(ns.sockets));
    }
    add(",\"httpd\":{\"task_id\":%llu,\"requests_served\":%llu}}\n", ull(si->id), ull(g_served));
    return g_len;
  }
  if (have_mem) {
    add("\nmemory: %llu pages managed (%llu MiB), %llu free, %llu clients, %llu faults served\n", ull(ms.managed),
        ull(ms.managed * 4096 >> 20), ull(ms.free), ull(ms.clients), ull(ms.faults));
  }
  if (have_con) {
    add("console: %llu bytes in %llu lines written, %llu characters received, %llu bytes from the kernel\n",
        ull(cs.bytes), ull(cs.lines), ull(cs.received), ull(cs.kernel_bytes));
  }
  if (have_net) {
    add("net: received %llu frames (%llu bytes), sent %llu frames (%llu bytes); dropped: %llu short, %llu long, "
        "%llu bad num_buffers, %llu without a pbuf; %llu sends waited for a buffer, %llu gave up; %llu sockets open\n",
        ull(ns.link[keel::link::kRxFrames]), ull(ns.link[keel::link::kRxBytes]), ull(ns.link[keel::link::kTxFrames]),
        ull(ns.link[keel::link::kTxBytes]), ull(ns.link[keel::link::kRxShort]), ull(ns.link[keel::link::kRxLong]),
        ull(ns.link[keel::link::kRxBadNumBuffers]), ull(ns.rx_no_pbuf), ull(ns.tx_waits), ull(ns.tx_dropped),
        ull(ns.sockets));
  }
  add("httpd: task %llu, %llu requests served\n", ull(si->id), ull(g_served));
  return g_len;
}

void respond(int s, const char* status, const char* type, const char* body, uint32_t body_len) {
  const uint32_t n = static_cast<uint32_t>(
      keel::snformat(g_head, sizeof g_head,
                     "HTTP/1.0 %s\r\nServer: keel-httpd\r\nContent-Type: %s\r\nContent-Length: %u\r\n"
                     "Connection: close\r\n\r\n",
                     status, type, body_len));
  if (g_net.send(s, g_head, n) >= 0 && body_len > 0) (void)g_net.send(s, body, body_len);
}

void serve(int s) {
  uint32_t have = 0;
  bool complete = false;
  while (have < kRequestMax && !complete) {
    const int r = g_net.recv(s, g_request + have, kRequestMax - have);
    if (r <= 0) return;
    have += static_cast<uint32_t>(r);
    g_request[have] = '\0';
    for (uint32_t i = 0; i + 3 < have + 1 && !complete; ++i) complete = starts(g_request + i, "\r\n\r\n");
  }
  ++g_served;
  if (!complete) {
    const char msg[] = "request too large\n";
    return respond(s, "431 Request Header Fields Too Large", "text/plain", msg, sizeof msg - 1);
  }
  if (!starts(g_request, "GET ")) {
    const char msg[] = "only GET\n";
    return respond(s, "405 Method Not Allowed", "text/plain", msg, sizeof msg - 1);
  }
  const char* path = g_request + 4;
  if (starts(path, "/ ") || starts(path, "/\r")) {
    const uint32_t n = page(false);
    return respond(s, "200 OK", "text/plain", g_body, n);
  }
  if (starts(path, "/tasks ") || starts(path, "/tasks\r")) {
    const uint32_t n = page(true);
    return respond(s, "200 OK", "application/json", g_body, n);
  }
  const char msg[] = "not found\n";
  respond(s, "404 Not Found", "text/plain", msg, sizeof msg - 1);
}

}  // namespace

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  if (!g_net.ok()) {
    sys::print("httpd: no network (connect = netstack)\n");
    return 1;
  }
  for (;;) {
    const int l = g_net.socket(sock::kTcp);
    int r = l < 0 ? l : g_net.bind(l, 0, kPort);
    if (r >= 0) r = g_net.listen(l, sock::kMaxBacklog);
    if (r < 0) {
      sys::print("httpd: cannot listen on port %u: %s\n", kPort, sock::status_name(r));
      return 1;
    }
    sys::print("httpd: listening on port %u\n", kPort);
    for (;;) {
      const int s = g_net.accept(l);
      if (s == sock::kReset) break;  // the network stack restarted: listen again on the new one
      if (s < 0) continue;
      serve(s);
      (void)g_net.close(s);
    }
    sys::print("httpd: the network stack restarted; listening again\n");
  }
}
