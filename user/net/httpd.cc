// httpd — a small HTTP/1.0 server on port 80 (keel/socket.h, one
// connection at a time): `GET /` is a plain-text page of the system's
// state, `GET /tasks` the same as JSON; anything else is 404, a request
// that is not GET 405, one that does not fit its buffer 431/400.
#include <stdint.h>

#include "kernel/lib/fmt.h"
#include "keel/socket.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/time.h"

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

// The page: what httpd knows of the system (its own start info) and of itself.
uint32_t page(bool json) {
  const keel::abi::StartInfo* si = keel::abi::start_info();
  const uint64_t up_ms = sys::now_ns() / 1000000;
  if (json) {
    return static_cast<uint32_t>(keel::snformat(
        g_body, sizeof g_body,
        "{\"system\":\"keel\",\"uptime_ms\":%llu,\"cpus\":%llu,\"memory_bytes\":%llu,"
        "\"httpd\":{\"task_id\":%llu,\"requests_served\":%llu}}\n",
        static_cast<unsigned long long>(up_ms), static_cast<unsigned long long>(si->cpu_count),
        static_cast<unsigned long long>(si->memory_bytes), static_cast<unsigned long long>(si->id),
        static_cast<unsigned long long>(g_served)));
  }
  return static_cast<uint32_t>(keel::snformat(g_body, sizeof g_body,
                                              "keel: up %llu.%03llu s, %llu CPUs, %llu MiB RAM\n"
                                              "httpd: task %llu, %llu requests served\n",
                                              static_cast<unsigned long long>(up_ms / 1000),
                                              static_cast<unsigned long long>(up_ms % 1000),
                                              static_cast<unsigned long long>(si->cpu_count),
                                              static_cast<unsigned long long>(si->memory_bytes >> 20),
                                              static_cast<unsigned long long>(si->id),
                                              static_cast<unsigned long long>(g_served)));
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
    if (s < 0) continue;
    serve(s);
    (void)g_net.close(s);
  }
}
