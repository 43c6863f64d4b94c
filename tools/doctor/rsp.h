// rsp.h — a small GDB remote serial protocol client, enough to read a
// stopped QEMU guest: registers (core and QEMU's system-register feature,
// by name), and virtual or physical memory (QEMU's PhyMemMode).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keel::doctor {

class RspClient {
 public:
  RspClient() = default;
  ~RspClient();
  RspClient(const RspClient&) = delete;
  RspClient& operator=(const RspClient&) = delete;

  // Connects to 127.0.0.1:port, retrying until timeout_ms. QEMU stops the
  // guest when a debugger connects; the first `?` confirms it.
  bool connect(int port, int timeout_ms, std::string* error);
  // One request and its reply payload (nullopt: the connection failed).
  std::optional<std::string> request(const std::string& payload);
  // Register numbers by name, from the target description QEMU sends
  // (core registers x0..x30, sp, pc, cpsr, then system registers such as
  // SCTLR, TCR_EL1, TTBR0_EL1 ...).
  const std::map<std::string, int>& registers();
  std::optional<uint64_t> read_register(const std::string& name);
  // Memory through the guest's current translation, or physical memory.
  bool set_physical(bool on);
  bool read_memory(uint64_t addr, size_t len, std::vector<uint8_t>* out);
  bool read_u64(uint64_t addr, uint64_t* out);

 private:
  bool send_packet(const std::string& payload);
  std::optional<std::string> read_packet();
  std::optional<std::string> read_xfer(const std::string& annex);
  int fd_ = -1;
  std::string buffer_;
  std::map<std::string, int> regs_;
  bool regs_loaded_ = false;
};

// Pure helpers (host-tested): the checksum framing, reply decoding.
std::string frame_packet(const std::string& payload);
std::string unescape_binary(const std::string& data);
// Little-endian hex bytes (a `p` reply) as a number.
std::optional<uint64_t> decode_le_hex(const std::string& hex);
// Every <reg name=... [regnum=...]> in target-description XML, numbered
// sequentially from `next` unless it says its number; returns the next number.
int parse_register_xml(const std::string& xml, int next, std::map<std::string, int>* out,
                       std::vector<std::string>* includes);

}  // namespace keel::doctor
