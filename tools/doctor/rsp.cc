#include "tools/doctor/rsp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::doctor {

std::string frame_packet(const std::string& payload) {
  unsigned sum = 0;
  for (unsigned char c : payload) sum += c;
  return absl::StrFormat("$%s#%02x", payload, sum & 0xff);
}

std::string unescape_binary(const std::string& data) {
  std::string out;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '}' && i + 1 < data.size()) {
      out.push_back(static_cast<char>(data[++i] ^ 0x20));
    } else {
      out.push_back(data[i]);
    }
  }
  return out;
}

std::optional<uint64_t> decode_le_hex(const std::string& hex) {
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int byte = 0;
    if (!absl::SimpleHexAtoi(hex.substr(i, 2), &byte)) return std::nullopt;
    v |= static_cast<uint64_t>(byte) << (4 * i);
  }
  return v;
}

namespace {

std::optional<std::string> attribute(const std::string& tag, const std::string& name) {
  const std::string key = " " + name + "=\"";
  size_t at = tag.find(key);
  if (at == std::string::npos) return std::nullopt;
  at += key.size();
  size_t end = tag.find('"', at);
  if (end == std::string::npos) return std::nullopt;
  return tag.substr(at, end - at);
}

}  // namespace

int parse_register_xml(const std::string& xml, int next, std::map<std::string, int>* out,
                       std::vector<std::string>* includes) {
  for (size_t at = 0; (at = xml.find('<', at)) != std::string::npos; ++at) {
    size_t end = xml.find('>', at);
    if (end == std::string::npos) break;
    const std::string tag = xml.substr(at, end - at);
    if (tag.rfind("<reg ", 0) == 0) {
      int num = next;
      if (auto n = attribute(tag, "regnum")) (void)absl::SimpleAtoi(*n, &num);
      if (auto name = attribute(tag, "name")) (*out)[*name] = num;
      next = num + 1;
    } else if (tag.rfind("<xi:include ", 0) == 0) {
      if (auto href = attribute(tag, "href")) includes->push_back(*href);
    }
  }
  return next;
}

RspClient::~RspClient() {
  if (fd_ >= 0) close(fd_);
}

bool RspClient::connect(int port, int timeout_ms, std::string* error) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
    close(fd_);
    fd_ = -1;
    if (std::chrono::steady_clock::now() > deadline) {
      *error = absl::StrCat("cannot connect to QEMU's gdbstub on port ", port);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto stop = request("?");
  if (!stop || stop->empty() || ((*stop)[0] != 'T' && (*stop)[0] != 'S')) {
    *error = "QEMU's gdbstub did not report a stopped guest";
    return false;
  }
  // QEMU may send a second stop report (the stop the connection caused):
  // drain whatever else is pending before the first real request.
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) break;
    char buf[4096];
    if (read(fd_, buf, sizeof buf) <= 0) break;
  }
  buffer_.clear();
  return true;
}

bool RspClient::send_packet(const std::string& payload) {
  const std::string p = frame_packet(payload);
  for (size_t sent = 0; sent < p.size();) {
    ssize_t n = write(fd_, p.data() + sent, p.size() - sent);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::string> RspClient::read_packet() {
  // Skips acks ('+'), then reads $payload#xx; acknowledges it.
  for (int rounds = 0; rounds < 2000; ++rounds) {
    size_t start = buffer_.find('$');
    if (start != std::string::npos) {
      size_t hash = buffer_.find('#', start);
      if (hash != std::string::npos && hash + 2 < buffer_.size()) {
        std::string payload = buffer_.substr(start + 1, hash - start - 1);
        buffer_.erase(0, hash + 3);
        (void)!write(fd_, "+", 1);
        return payload;
      }
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<size_t>(n));
  }
  return std::nullopt;
}

std::optional<std::string> RspClient::request(const std::string& payload) {
  if (fd_ < 0 || !send_packet(payload)) return std::nullopt;
  for (;;) {
    auto r = read_packet();
    // A late stop report ("T05thread:01;") is not the answer to a query.
    if (r && payload != "?" && r->size() > 3 && (*r)[0] == 'T' && absl::StrContains(*r, "thread:")) continue;
    return r;
  }
}

std::optional<std::string> RspClient::read_xfer(const std::string& annex) {
  std::string all;
  for (size_t offset = 0;;) {
    auto r = request(absl::StrFormat("qXfer:features:read:%s:%x,%x", annex, offset, 0x3f00));
    if (!r || r->empty() || ((*r)[0] != 'm' && (*r)[0] != 'l')) return std::nullopt;
    const std::string chunk = unescape_binary(r->substr(1));
    all += chunk;
    offset += chunk.size();
    if ((*r)[0] == 'l' || chunk.empty()) return all;
  }
}

const std::map<std::string, int>& RspClient::registers() {
  if (regs_loaded_) return regs_;
  regs_loaded_ = true;
  std::vector<std::string> pending = {"target.xml"};
  int next = 0;
  for (size_t i = 0; i < pending.size() && i < 32; ++i) {
    auto xml = read_xfer(pending[i]);
    if (!xml) continue;
    next = parse_register_xml(*xml, next, &regs_, &pending);
  }
  return regs_;
}

std::optional<uint64_t> RspClient::read_register(const std::string& name) {
  const auto& regs = registers();
  auto it = regs.find(name);
  if (it == regs.end()) return std::nullopt;
  auto r = request(absl::StrFormat("p%x", it->second));
  if (!r || r->empty() || (*r)[0] == 'E') return std::nullopt;
  return decode_le_hex(*r);
}

bool RspClient::set_physical(bool on) {
  auto r = request(on ? "Qqemu.PhyMemMode:1" : "Qqemu.PhyMemMode:0");
  return r && *r == "OK";
}

bool RspClient::read_memory(uint64_t addr, size_t len, std::vector<uint8_t>* out) {
  out->clear();
  while (out->size() < len) {
    const size_t chunk = std::min<size_t>(len - out->size(), 2048);
    auto r = request(absl::StrFormat("m%x,%x", addr + out->size(), chunk));
    if (!r || r->empty() || (*r)[0] == 'E' || r->size() != 2 * chunk) return false;
    for (size_t i = 0; i < r->size(); i += 2) {
      int byte = 0;
      if (!absl::SimpleHexAtoi(r->substr(i, 2), &byte)) return false;
      out->push_back(static_cast<uint8_t>(byte));
    }
  }
  return true;
}

bool RspClient::read_u64(uint64_t addr, uint64_t* out) {
  std::vector<uint8_t> b;
  if (!read_memory(addr, 8, &b)) return false;
  *out = 0;
  for (int i = 0; i < 8; ++i) *out |= static_cast<uint64_t>(b[i]) << (8 * i);
  return true;
}

}  // namespace keel::doctor
