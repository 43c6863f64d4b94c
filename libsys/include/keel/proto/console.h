// proto/console.h — the UART server's protocol, for both sides.
//
// Requests are Calls on a badged endpoint (the badge names the client).
// Every reply's label is an abi::Error. Bytes travel packed little-endian in
// message words MR1.. (MR0 = count), at most kMaxBytes per message.
//
//   Write  MR0 = n, MR1.. = bytes          -> ok
//          A client's bytes are gathered into lines; a line goes to the
//          transmit buffer whole, so lines of different clients never
//          interleave (a line longer than kLineMax goes out in kLineMax
//          pieces). Back-pressure: when the transmit buffer cannot take the
//          line, the reply waits until the UART has drained enough — the
//          writer blocks; nothing is dropped. (The server drains the buffer
//          at interrupt priority, so only a writer above the server's
//          priority, or a UART slower than its writers, ever waits.)
//          Writes of several threads of one client wait in order, up to
//          four at a time; a fifth gets kNotEnoughMemory (nothing taken).
//   Read   MR0 = max                       -> MR0 = n, MR1.. = one typed line
//          Waits for a whole line (echoed as typed; backspace edits); one
//          pending Read per client. Lines go to programs in the order they
//          asked, and to init's console (the shell) only when no program
//          waits for input: a program asking for input is in the
//          foreground. The client's unfinished output line (a prompt) is
//          shown first.
//   Stats                                  -> MR0 bytes written, MR1 lines,
//          MR2 writes that waited (back-pressure), MR3 bytes received,
//          MR4 kernel-log bytes forwarded, MR5 transmit buffer size,
//          MR6 echo bytes not shown (the buffer was full: echo never
//          waits), MR7 typed lines dropped (2 KiB of lines nobody read)
//   Forget MR0 = task id                   -> ok    (init only: the task was stopped)
//          Its unfinished line, held and queued writes and pending read
//          are dropped (their callers answered kObjectDestroyed), so a new
//          task with the same id inherits nothing.
// Malformed requests (unknown label, n > kMaxBytes, message shorter than n
// says, a second Read) get kInvalidArgument / kSlotOccupied and change nothing.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"

namespace keel::console {

enum Label : uint64_t { kWrite = 1, kRead = 2, kStats = 3, kForget = 4 };

constexpr size_t kMaxBytes = 8 * (abi::kMaxMessageWords - 1);  // 248
constexpr size_t kLineMax = 256;

inline void pack(sys::Message& m, const char* s, size_t n) {
  m.mr[0] = n;
  for (size_t i = 0; i < (n + 7) / 8; ++i) m.mr[1 + i] = 0;
  for (size_t i = 0; i < n; ++i) m.mr[1 + i / 8] |= uint64_t{static_cast<uint8_t>(s[i])} << (8 * (i % 8));
  m.length = 1 + (n + 7) / 8;
}

inline char unpack_byte(const sys::Message& m, size_t i) { return static_cast<char>(m.mr[1 + i / 8] >> (8 * (i % 8))); }

// Client side.
inline abi::Error write(const sys::Endpoint& ep, const char* s, size_t n) {
  while (n > 0) {
    size_t chunk = n < kMaxBytes ? n : kMaxBytes;
    sys::Message m;
    m.label = kWrite;
    pack(m, s, chunk);
    abi::Error e = ep.call(m);
    if (e == abi::Error::kOk) e = static_cast<abi::Error>(m.label);
    if (e != abi::Error::kOk) return e;
    s += chunk;
    n -= chunk;
  }
  return abi::Error::kOk;
}

// Reads one line (without its '\n', NUL-terminated) into buf[0..size).
inline abi::Error read_line(const sys::Endpoint& ep, char* buf, size_t size, size_t* len) {
  sys::Message m;
  m.label = kRead;
  m.mr[0] = size - 1 < kMaxBytes ? size - 1 : kMaxBytes;
  m.length = 1;
  abi::Error e = ep.call(m);
  if (e == abi::Error::kOk) e = static_cast<abi::Error>(m.label);
  if (e != abi::Error::kOk) return e;
  size_t n = m.mr[0] < size - 1 ? m.mr[0] : size - 1;
  for (size_t i = 0; i < n; ++i) buf[i] = unpack_byte(m, i);
  if (n > 0 && buf[n - 1] == '\n') --n;
  buf[n] = '\0';
  *len = n;
  return abi::Error::kOk;
}

struct Stats {
  uint64_t bytes, lines, waited, received, kernel_bytes, buffer_size, echo_skipped, input_dropped;
  uint64_t typed_over;  // characters typed past the end of a full line (each rings the bell)
};

inline abi::Error forget(const sys::Endpoint& ep, uint64_t id) {
  sys::Message m;
  m.label = kForget;
  m.mr[0] = id;
  m.length = 1;
  abi::Error e = ep.call(m);
  return e == abi::Error::kOk ? static_cast<abi::Error>(m.label) : e;
}

inline abi::Error stats(const sys::Endpoint& ep, Stats* out) {
  sys::Message m;
  m.label = kStats;
  abi::Error e = ep.call(m);
  if (e == abi::Error::kOk) e = static_cast<abi::Error>(m.label);
  if (e == abi::Error::kOk) {
    *out = Stats{m.mr[0], m.mr[1], m.mr[2], m.mr[3], m.mr[4], m.mr[5], m.mr[6], m.mr[7], m.mr[8]};
  }
  return e;
}

}  // namespace keel::console
