// net_client — the host side of keel's network tests. It talks only to
// 127.0.0.1 (QEMU's forwards of the guest's ports): nothing here sends a
// packet anywhere else.
//
//   net_client http PORT PATH [--json] [--expect TEXT]...
//       GET PATH; the status must be 200, each TEXT in the body, and with
//       --json the body must be one well-formed JSON value.
//   net_client tcp_seq PORT N        N connections one after another, each
//       sending 1..4000 bytes and reading back exactly them.
//   net_client tcp_conc PORT N       N connections open at once, each
//       echoing 8 KiB in pieces.
//   net_client udp PORT N            N datagrams, each numbered; echoes
//       counted (loss reported, not failed, over UDP), content checked.
//   net_client tcp_bulk PORT MIB     one connection: MIB MiB sent while the
//       echo is read back and compared byte for byte; MiB/s printed.
//   net_client tcp_sink PORT MIB     MIB MiB to the discard service, timed:
//       the guest's receive rate (prints net_tcp_mbps).
//   net_client raw_udp_bench QEMU_PORT MY_PORT N   raw_udp between the
//       echo_bench markers (the guest prints net_udp_echo); prints
//       net_udp_echo_us, the wall time per round trip.
//   net_client limits HOG_PORT ECHO_PORT N
//       N connections to a client that reads nothing, each fed until the
//       stack stops taking (its window and the client's unread limit);
//       with all of them open, echo must still carry 8 MiB byte-exact and
//       100 connections one after another.
//   net_client raw_udp QEMU_PORT MY_PORT N
//       raw Ethernet frames over QEMU's datagram netdev (-netdev dgram on
//       127.0.0.1: QEMU at QEMU_PORT, this end at MY_PORT): this end plays
//       the gateway 10.0.2.2 (answers the guest's ARP) and sends N UDP
//       datagrams to 10.0.2.15:7, counting the echoes.
//   net_client raw_fuzz QEMU_PORT MY_PORT N SEED
//       N malformed frames (truncated, oversized, random, every IPv4, UDP,
//       TCP, ICMP and ARP header field fuzzed, overlapping fragments),
//       then raw_udp's check that the echo still answers.
// Exit 0 when every check held; a line saying what failed otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::string concat(std::initializer_list<std::string> parts) {
  std::string s;
  for (const std::string& p : parts) s += p;
  return s;
}

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "net_client: FAIL: %s\n", why.c_str());
  std::exit(1);
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A TCP connection to 127.0.0.1:port, with receive timeouts so a lost
// byte fails the test instead of hanging it.
int dial(int port, int timeout_s = 20) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail("socket");
    timeval tv{timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a = loopback(port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    close(fd);
    usleep(100 * 1000);
  }
  fail("cannot connect to 127.0.0.1:" + std::to_string(port));
}

void send_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r <= 0) fail("send: " + std::string(std::strerror(errno)));
    p += r;
    n -= static_cast<size_t>(r);
  }
}
void recv_all(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r == 0) fail("the connection closed early");
    if (r < 0) fail("recv: " + std::string(std::strerror(errno)));
    p += r;
    n -= static_cast<size_t>(r);
  }
}

uint64_t g_rng = 0x243f6a8885a308d3ull;
uint8_t next_byte() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return static_cast<uint8_t>(g_rng >> 24);
}

// ---- a JSON syntax check (RFC 8259's grammar, no semantics) ----
struct Json {
  const std::string& s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  bool lit(const char* w) {
    size_t n = std::strlen(w);
    if (s.compare(i, n, w) != 0) return false;
    i += n;
    return true;
  }
  bool str() {
    if (i >= s.size() || s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      if (s[i] == '"') return ++i, true;
      if (static_cast<unsigned char>(s[i]) < 0x20) return false;
      if (s[i] == '\\') ++i;
    }
    return false;
  }
  bool num() {
    size_t st = i;
    if (i < s.size() && s[i] == '-') ++i;
    while (i < s.size() && (isdigit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    return i > st;
  }
  bool value(int depth = 0) {
    if (depth > 64) return false;
    ws();
    if (i >= s.size()) return false;
    bool ok = false;
    if (s[i] == '{') {
      ++i;
      ws();
      if (i < s.size() && s[i] == '}') {
        ++i;
        ok = true;
      } else {
        for (;;) {
          ws();
          if (!str()) return false;
          ws();
          if (i >= s.size() || s[i++] != ':') return false;
          if (!value(depth + 1)) return false;
          ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == '}') {
            ++i;
            ok = true;
          }
          break;
        }
      }
    } else if (s[i] == '[') {
      ++i;
      ws();
      if (i < s.size() && s[i] == ']') {
        ++i;
        ok = true;
      } else {
        for (;;) {
          if (!value(depth + 1)) return false;
          ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == ']') {
            ++i;
            ok = true;
          }
          break;
        }
      }
    } else if (s[i] == '"') {
      ok = str();
    } else if (lit("true") || lit("false") || lit("null")) {
      ok = true;
    } else {
      ok = num();
    }
    ws();
    return ok;
  }
};

int http(int port, const std::string& path, bool json, const std::vector<std::string>& expect) {
  int fd = dial(port);
  std::string req = "GET ";
  req += path;
  req += " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  send_all(fd, reinterpret_cast<const uint8_t*>(req.data()), req.size());
  std::string resp;
  char buf[4096];
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r < 0) fail("recv: " + std::string(std::strerror(errno)));
    if (r == 0) break;
    resp.append(buf, static_cast<size_t>(r));
  }
  close(fd);
  size_t end = resp.find("\r\n\r\n");
  if (resp.compare(0, 15, "HTTP/1.0 200 OK") != 0 || end == std::string::npos) fail("not a 200 response: " + resp);
  std::string body = resp.substr(end + 4);
  size_t cl = resp.find("Content-Length: ");
  if (cl == std::string::npos || std::stoul(resp.substr(cl + 16)) != body.size())
    fail("Content-Length is not the body's");
  for (const std::string& e : expect) {
    if (body.find(e) == std::string::npos) fail(concat({"the body lacks '", e, "': ", body}));
  }
  if (json) {
    Json j{body};
    if (!j.value() || j.i != body.size())
      fail("the body is not one JSON value (at byte " + std::to_string(j.i) + "): " + body);
  }
  std::printf("%s", body.c_str());
  std::printf("net_client: http %s: PASS (%zu bytes%s)\n", path.c_str(), body.size(), json ? ", valid JSON" : "");
  return 0;
}

void echo_once(int fd, size_t n) {
  std::vector<uint8_t> out(n), in(n);
  for (auto& b : out) b = next_byte();
  send_all(fd, out.data(), n);
  recv_all(fd, in.data(), n);
  if (in != out) fail("echoed bytes differ");
}

int tcp_sequential(int port, int n) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    int fd = dial(port);
    echo_once(fd, 1 + (next_byte() * 16 + next_byte()) % 4000);
    close(fd);
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("net_client: tcp_seq: PASS: %d connections one after another, every byte echoed in order (%.1f s)\n", n,
              s);
  return 0;
}

int tcp_conc(int port, int n) {
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) fds.push_back(dial(port, 60));
  // Every connection is open; now each sends 8 KiB in 1 KiB pieces,
  // interleaved, and reads each piece back.
  std::vector<std::vector<uint8_t>> sent(n);
  for (int piece = 0; piece < 8; ++piece) {
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> out(1024);
      for (auto& b : out) b = next_byte();
      send_all(fds[i], out.data(), out.size());
      sent[i] = out;
    }
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> in(1024);
      recv_all(fds[i], in.data(), in.size());
      if (in != sent[i]) fail("connection " + std::to_string(i) + ": echoed bytes differ");
    }
  }
  for (int fd : fds) close(fd);
  std::printf("net_client: tcp_conc: PASS: %d connections at once, 8 KiB each echoed in order\n", n);
  return 0;
}

int udp(int port, int n) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("udp connect");
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int got = 0, bad = 0;
  std::vector<bool> seen(n, false);
  const auto t0 = Clock::now();
  // In windows of 16 datagrams: QEMU's user network drops what arrives
  // faster than the guest takes it (counted as loss, as UDP allows).
  for (int base = 0; base < n; base += 16) {
    const int end = base + 16 < n ? base + 16 : n;
    for (int i = base; i < end; ++i) {
      char msg[64];
      int len = std::snprintf(msg, sizeof msg, "keel-udp-%d-%d", i, i * 7919);
      send(fd, msg, static_cast<size_t>(len), 0);
    }
    for (int i = base; i < end; ++i) {
      char buf[128];
      ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
      if (r < 0) break;  // (the rest of this window was lost)
      buf[r] = '\0';
      int k = -1, check = -1;
      if (std::sscanf(buf, "keel-udp-%d-%d", &k, &check) != 2 || k < 0 || k >= n || check != k * 7919 || seen[k]) {
        ++bad;
        continue;
      }
      seen[k] = true;
      ++got;
    }
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (bad != 0) fail(std::to_string(bad) + " echoed datagrams were corrupt or duplicated");
  if (got == 0) fail("no datagram came back");
  std::printf("net_client: udp: PASS: %d datagrams, %d echoed (%.2f%% lost), %.1f us per echo on average\n", n, got,
              100.0 * (n - got) / n, 1e6 * s / n);
  return 0;
}

int tcp_bulk(int port, int mib) {
  const size_t total = static_cast<size_t>(mib) << 20;  // (bytes)
  int fd = dial(port, 60);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint64_t sum_out = 0, sum_in = 0;
  size_t received = 0;
  bool mismatch = false;
  const auto t0 = Clock::now();
  // The reader checks against the same generator the writer uses (its own copy).
  std::thread reader([&] {
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    std::vector<uint8_t> buf(65536);
    while (received < total) {
      ssize_t r = recv(fd, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      for (ssize_t i = 0; i < r; ++i) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        const uint8_t want = static_cast<uint8_t>(rng >> 24);
        mismatch |= buf[static_cast<size_t>(i)] != want;
        sum_in = sum_in * 31 + buf[static_cast<size_t>(i)];
      }
      received += static_cast<size_t>(r);
    }
  });
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  std::vector<uint8_t> chunk(65536);
  for (size_t off = 0; off < total; off += chunk.size()) {
    for (auto& b : chunk) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      b = static_cast<uint8_t>(rng >> 24);
      sum_out = sum_out * 31 + b;
    }
    send_all(fd, chunk.data(), chunk.size());
  }
  reader.join();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  if (received != total) fail("received " + std::to_string(received) + " of " + std::to_string(total) + " bytes");
  if (mismatch || sum_in != sum_out) fail("the echoed stream differs from what was sent");
  std::printf(
      "net_client: tcp_bulk: PASS: %d MiB each way, byte-exact (checksum %016llx), %.2f s, %.2f MiB/s each way\n", mib,
      static_cast<unsigned long long>(sum_in), s, mib / s);
  return 0;
}

int tcp_sink(int port, int mib) {
  int fd = dial(port, 60);
  std::vector<uint8_t> chunk(65536);
  for (auto& b : chunk) b = next_byte();
  const auto t0 = Clock::now();
  for (int i = 0; i < mib * 16; ++i) send_all(fd, chunk.data(), chunk.size());
  shutdown(fd, SHUT_WR);
  char c;
  (void)recv(fd, &c, 1, 0);  // the guest's close: everything was taken
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  std::printf("net_tcp_mbps %.2f MiB/s (%d MiB from the host in %.2f s)\n", mib / s, mib, s);
  return 0;
}

int limits(int hog_port, int echo_port, int n) {
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(n));
  size_t pushed = 0;
  std::vector<uint8_t> chunk(16384, 0x5a);
  for (int i = 0; i < n; ++i) {
    int fd = dial(hog_port, 5);
    // Feed it until the guest stops taking (send blocks past the timeout).
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (int k = 0; k < 16; ++k) {
      ssize_t r = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (r <= 0) break;
      pushed += static_cast<size_t>(r);
    }
    fds.push_back(fd);
  }
  std::printf("net_client: limits: %d connections to the reader-less client, %zu KiB pushed at it\n", n, pushed >> 10);
  const int rc = tcp_bulk(echo_port, 8) | tcp_sequential(echo_port, 100);
  for (int fd : fds) close(fd);
  if (rc == 0) std::printf("net_client: limits: PASS: echo unharmed while the other client held everything it could\n");
  return rc;
}

// ---- raw frames (the datagram netdev) ---------------------------------------------------

constexpr uint8_t kGuestMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr uint8_t kMyMac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
constexpr uint32_t kGuestIp = 0x0a00020f, kMyIp = 0x0a000202;

struct Raw {
  int fd = -1;
  sockaddr_in qemu{};
};

Raw open_raw(int qemu_port, int my_port) {
  Raw r;
  r.fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in me = loopback(my_port);
  if (bind(r.fd, reinterpret_cast<sockaddr*>(&me), sizeof me) != 0) fail("bind 127.0.0.1:" + std::to_string(my_port));
  r.qemu = loopback(qemu_port);
  return r;
}
void put16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& f, size_t at, uint32_t v) {
  put16(f, at, static_cast<uint16_t>(v >> 16));
  put16(f, at + 2, static_cast<uint16_t>(v));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
std::vector<uint8_t> ether(const uint8_t* dst, uint16_t type) {
  std::vector<uint8_t> f(14);
  std::memcpy(f.data(), dst, 6);
  std::memcpy(f.data() + 6, kMyMac, 6);
  put16(f, 12, type);
  return f;
}
// An IPv4 packet from 10.0.2.2 to the guest with `payload` (protocol proto).
std::vector<uint8_t> ipv4(uint8_t proto, const std::vector<uint8_t>& payload, uint16_t id = 1, uint16_t frag = 0x4000) {
  std::vector<uint8_t> f = ether(kGuestMac, 0x0800);
  const size_t ip = f.size();
  f.resize(ip + 20);
  f[ip] = 0x45;
  put16(f, ip + 2, static_cast<uint16_t>(20 + payload.size()));
  put16(f, ip + 4, id);
  put16(f, ip + 6, frag);
  f[ip + 8] = 64;
  f[ip + 9] = proto;
  put32(f, ip + 12, kMyIp);
  put32(f, ip + 16, kGuestIp);
  put16(f, ip + 10, checksum(f.data() + ip, 20));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}
std::vector<uint8_t> udp_frame(uint16_t sport, uint16_t dport, const std::string& data) {
  std::vector<uint8_t> u(8 + data.size());
  put16(u, 0, sport);
  put16(u, 2, dport);
  put16(u, 4, static_cast<uint16_t>(u.size()));
  std::memcpy(u.data() + 8, data.data(), data.size());
  // The pseudo-header sum, then the datagram's.
  uint32_t sum = (kMyIp >> 16) + (kMyIp & 0xffff) + (kGuestIp >> 16) + (kGuestIp & 0xffff) + 17 + u.size();
  uint16_t c = checksum(u.data(), u.size(), sum);
  put16(u, 6, c == 0 ? 0xffff : c);
  return ipv4(17, u);
}
void send_frame(Raw& r, const std::vector<uint8_t>& f) {
  (void)sendto(r.fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&r.qemu), sizeof r.qemu);
}
// Takes frames for up to `ms`: answers ARP requests for 10.0.2.2; returns
// the payload of the first UDP datagram from the guest (or nothing).
bool take_udp(Raw& r, int ms, std::string* payload, uint16_t* dport) {
  const auto end = Clock::now() + std::chrono::milliseconds(ms);
  uint8_t b[65536];
  for (;;) {
    const int left =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (left <= 0) return false;
    pollfd p{r.fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return false;
    ssize_t n = recv(r.fd, b, sizeof b, 0);
    if (n < 14) continue;
    const uint16_t type = get16(b + 12);
    if (type == 0x0806 && n >= 42 && get16(b + 20) == 1 && get16(b + 38) == (kMyIp >> 16) &&
        get16(b + 40) == (kMyIp & 0xffff)) {
      std::vector<uint8_t> a = ether(b + 6, 0x0806);
      a.resize(42);
      put16(a, 14, 1);
      put16(a, 16, 0x0800);
      a[18] = 6;
      a[19] = 4;
      put16(a, 20, 2);
      std::memcpy(a.data() + 22, kMyMac, 6);
      put32(a, 28, kMyIp);
      std::memcpy(a.data() + 32, b + 22, 10);  // the asker's MAC and IP
      send_frame(r, a);
      continue;
    }
    if (type != 0x0800 || n < 42 || b[23] != 17) continue;
    const size_t ihl = size_t{b[14] & 0xfu} * 4;
    if (n < static_cast<ssize_t>(14 + ihl + 8)) continue;
    const uint8_t* u = b + 14 + ihl;
    const size_t ulen = get16(u + 4);
    if (ulen < 8 || 14 + ihl + ulen > static_cast<size_t>(n)) continue;
    *dport = get16(u + 2);
    payload->assign(reinterpret_cast<const char*>(u + 8), ulen - 8);
    return true;
  }
}

int raw_udp(int qemu_port, int my_port, int n, Raw* given = nullptr) {
  Raw own;
  Raw& r = given != nullptr ? *given : (own = open_raw(qemu_port, my_port));
  int got = 0, bad = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const std::string msg = "keel-udp-" + std::to_string(i) + "-" + std::to_string(i * 7919);
    const uint16_t sport = static_cast<uint16_t>(40000 + i % 1000);
    send_frame(r, udp_frame(sport, 7, msg));
    // The first datagram waits on the guest's ARP for us; then echoes are
    // quick. Late echoes of earlier datagrams (and of other senders') are
    // skipped; one that claims to be this one but differs is wrong.
    const auto until = Clock::now() + std::chrono::milliseconds(got == 0 ? 3000 : 500);
    for (;;) {
      const int left =
          static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
      std::string p;
      uint16_t dport = 0;
      if (left <= 0 || !take_udp(r, left, &p, &dport)) break;
      if (dport != sport) continue;
      if (p == msg) {
        ++got;
        break;
      }
      if (p.rfind("keel-udp-" + std::to_string(i) + "-", 0) == 0) ++bad;
    }
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (bad != 0) fail(std::to_string(bad) + " echoed datagrams were wrong");
  if (got == 0) fail("no datagram came back");
  std::printf("net_client: raw_udp: PASS: %d datagrams, %d echoed (%.2f%% lost), %.1f us per echo round trip\n", n, got,
              100.0 * (n - got) / n, 1e6 * s / n);
  return 0;
}

int raw_udp_bench(int qemu_port, int my_port, int n) {
  Raw r = open_raw(qemu_port, my_port);
  // Warm up (the guest learns this end's MAC), then the measured run.
  if (raw_udp(qemu_port, my_port, 20, &r) != 0) return 1;
  send_frame(r, udp_frame(39999, 7, "keel-bench-begin"));
  std::string p;
  uint16_t d = 0;
  (void)take_udp(r, 2000, &p, &d);
  const auto t0 = Clock::now();
  const int rc = raw_udp(qemu_port, my_port, n, &r);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  send_frame(r, udp_frame(39999, 7, "keel-bench-end"));
  (void)take_udp(r, 2000, &p, &d);
  std::printf("net_udp_echo_us %.1f us per round trip (%d datagrams)\n", 1e6 * s / n, n);
  return rc;
}

int raw_fuzz(int qemu_port, int my_port, int n, int seed) {
  Raw r = open_raw(qemu_port, my_port);
  g_rng ^= static_cast<uint64_t>(seed) * 0x9e3779b97f4a7c15ull;
  auto rnd = [] {
    return static_cast<uint32_t>(next_byte()) << 24 | next_byte() << 16 | next_byte() << 8 | next_byte();
  };
  const std::vector<uint8_t> good = udp_frame(5555, 7, "a well-formed datagram to mutate");
  int kinds[9] = {};
  // NET_FUZZ_KINDS: a bit mask of the kinds below (to find which one a failure needs).
  const char* mask_env = std::getenv("NET_FUZZ_KINDS");
  const unsigned kind_mask = mask_env != nullptr ? static_cast<unsigned>(std::strtoul(mask_env, nullptr, 0)) : 0x1ffu;
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> f;
    const int kind = static_cast<int>(rnd() % 9);
    if ((kind_mask >> kind & 1) == 0) continue;
    ++kinds[kind];
    switch (kind) {
      // (Never an empty frame: QEMU's datagram netdev takes a 0-byte
      // datagram for the end of its peer and stops reading — a QEMU
      // artefact, not a frame any wire carries.)
      case 0:  // truncated anywhere, down to one byte
        f.assign(good.begin(), good.begin() + 1 + rnd() % (good.size() - 1));
        break;
      case 1: {  // oversized: past one receive buffer, up to 9000 bytes
        f = udp_frame(5555, 7, std::string(1500 + rnd() % 7500, 'x'));
        break;
      }
      case 2:  // random bytes
        f.resize(1 + rnd() % 1600);
        for (auto& b : f) b = next_byte();
        break;
      case 3:  // one random byte of the headers (Ethernet, IPv4, UDP) changed
        f = good;
        f[rnd() % 42] = next_byte();
        break;
      case 4: {  // IPv4 header fields: version/IHL, length, flags/offset, TTL, protocol, checksum
        f = good;
        const size_t at = 14 + (rnd() % 20);
        f[at] = next_byte();
        if (rnd() & 1) {  // (half of them with a checksum that holds, so the field reaches lwIP's checks)
          put16(f, 24, 0);
          put16(f, 24, checksum(f.data() + 14, 20));
        }
        break;
      }
      case 5: {  // fragments: random offsets and lengths, overlapping, never completed
        std::vector<uint8_t> payload(8 + (rnd() % 1400));
        for (auto& b : payload) b = next_byte();
        f = ipv4(static_cast<uint8_t>(rnd() & 1 ? 17 : 6), payload, static_cast<uint16_t>(rnd() % 8),
                 static_cast<uint16_t>((rnd() & 0x2000) | (rnd() % 0x1fff)));
        break;
      }
      case 6: {  // TCP segments with random flags, options and ports 7/80
        std::vector<uint8_t> t(20 + (rnd() % 40));
        for (auto& b : t) b = next_byte();
        put16(t, 2, rnd() & 1 ? 7 : 80);
        t[12] = static_cast<uint8_t>((5 + rnd() % 11) << 4);
        f = ipv4(6, t);
        break;
      }
      case 7: {  // ICMP of any type and code
        std::vector<uint8_t> c(8 + (rnd() % 64));
        for (auto& b : c) b = next_byte();
        if (rnd() & 1) c[0] = 8;  // echo request
        f = ipv4(1, c);
        break;
      }
      default: {  // ARP with random fields
        f = ether(rnd() & 1 ? kGuestMac : reinterpret_cast<const uint8_t*>("\xff\xff\xff\xff\xff\xff"), 0x0806);
        f.resize(14 + 28 + (rnd() % 20));
        for (size_t k = 14; k < f.size(); ++k) f[k] = next_byte();
        if (rnd() & 1) put16(f, 14, 1), put16(f, 16, 0x0800), f[18] = 6, f[19] = 4;
        break;
      }
    }
    if (std::getenv("NET_FUZZ_DUMP") != nullptr) {  // (every frame sent, to reproduce a failure)
      std::fprintf(stderr, "%d ", i);
      for (uint8_t b : f) std::fprintf(stderr, "%02x", b);
      std::fprintf(stderr, "\n");
    }
    send_frame(r, f);
    if (i % 64 == 63) usleep(2000);  // (QEMU's queue towards the guest is finite)
    std::string p;
    uint16_t d = 0;
    while (take_udp(r, 0, &p, &d)) {  // (answer ARP meanwhile)
    }
  }
  std::printf(
      "net_client: raw_fuzz: sent %d frames (truncated %d, oversized %d, random %d, header byte %d, IPv4 %d, "
      "fragments %d, TCP %d, ICMP %d, ARP %d)\n",
      n, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5], kinds[6], kinds[7], kinds[8]);
  usleep(500 * 1000);
  return raw_udp(qemu_port, my_port, 200, &r);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: net_client http|tcp_seq|tcp_conc|udp|tcp_bulk PORT ARG [...]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int port = std::atoi(argv[2]);
  if (port <= 0 || port > 65535) fail("bad port");
  if (mode == "http") {
    bool json = false;
    std::vector<std::string> expect;
    for (int i = 4; i < argc; ++i) {
      if (std::strcmp(argv[i], "--json") == 0) {
        json = true;
      } else if (std::strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
        expect.emplace_back(argv[++i]);
      }
    }
    return http(port, argv[3], json, expect);
  }
  const int n = std::atoi(argv[3]);
  if (n <= 0) fail("bad count");
  if (mode == "tcp_seq") return tcp_sequential(port, n);
  if (mode == "tcp_conc") return tcp_conc(port, n);
  if (mode == "udp") return udp(port, n);
  if (mode == "tcp_bulk") return tcp_bulk(port, n);
  if (mode == "raw_udp" && argc >= 5) return raw_udp(port, n, std::atoi(argv[4]));
  if (mode == "raw_udp_bench" && argc >= 5) return raw_udp_bench(port, n, std::atoi(argv[4]));
  if (mode == "tcp_sink") return tcp_sink(port, n);
  if (mode == "limits" && argc >= 5) return limits(port, n, std::atoi(argv[4]));
  if (mode == "raw_fuzz" && argc >= 6) return raw_fuzz(port, n, std::atoi(argv[4]), std::atoi(argv[5]));
  fail("unknown mode " + mode);
}
