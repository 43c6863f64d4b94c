// uart — the PL011 console driver (user space). Protocol: keel/proto/console.h.
//
// One main thread serves every request and every event in order, so no state
// is shared between threads: a second thread only waits on the notification
// (UART interrupt: badge 1, kernel log: badge 2) and turns each wake-up into
// a Call on the server's own endpoint (badge kServerSelfBadge).
//
// Output path: a client's bytes gather in its line buffer; a complete line
// is committed whole to the transmit ring (so lines never interleave), with
// "\n" written as "\r\n". The ring drains into the PL011 FIFO at most
// kFifoBurst bytes per interrupt (the FIFO depth), so a slow line pushes
// back: a writer whose line does not fit is not answered until it does
// (Reply objects hold the waiting callers). The kernel's log (after the
// hand-over, KernelLogBind) is one more writer, read when it signals.
// Input: RX interrupts feed a line editor (echo, backspace, Up and Down
// through the last lines; escape sequences are read whole, never typed;
// characters past a full line are counted and ring the bell); a finished
// line answers a pending Read (programs first, then init's console), or
// waits in the input queue.
#include <stddef.h>
#include <stdint.h>

#include "keel/loader.h"
#include "keel/proto/console.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/thread.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;
namespace con = keel::console;

// PL011 registers (Arm DDI 0183): data, flags, interrupt mask, masked status, clear.
constexpr uint64_t kDr = 0x00, kFr = 0x18, kImsc = 0x38, kMis = 0x40, kIcr = 0x44;
constexpr uint32_t kFrTxff = 1u << 5, kFrRxfe = 1u << 4;
constexpr uint32_t kRxim = 1u << 4, kTxim = 1u << 5, kRtim = 1u << 6;
constexpr unsigned kFifoBurst = 16;  // bytes written per TX interrupt: the PL011 FIFO depth
uint64_t g_uart_va = 0;              // its registers: where init mapped the device (start info)

// Slots this server makes for itself.
// kNtfn: init's, which the UART's interrupt signals with badge
// device_irq_bit(0, 0) = 1; the kernel log signals it with badge 2.
constexpr uint64_t kNtfn = slot::kDeviceNotification, kNtfnLog = 22, kSelfEp = 23, kIrqThread = 24, kFirstReply = 32;
constexpr uint64_t kIrqBit = abi::device_irq_bit(0, 0), kLogBit = 2;
static_assert(kIrqBit != kLogBit);
constexpr uint64_t kClients = abi::kMaxTaskId + 1;  // index 0: the kernel log
// A client's threads may write at once: up to kQueuedWrites writes wait
// behind the one being fed (in order); one more is refused with
// kNotEnoughMemory, never dropped. Every client can so hold 1 + kQueuedWrites
// waiting writes and one waiting read; plus the one the server receives
// with: Reply objects can never run out (and if one could not be had, the
// request would be refused, never held without a way to answer it).
constexpr uint64_t kQueuedWrites = 3;
constexpr uint64_t kReplies = (kQueuedWrites + 2) * kClients + 1;
constexpr uint64_t kSelfLabel = 1;  // the interrupt thread's message: MR0 = notification word

volatile uint32_t& reg(uint64_t off) { return *reinterpret_cast<volatile uint32_t*>(g_uart_va + off); }

// ---- the transmit ring -----------------------------------------------------
constexpr size_t kMaxRing = 65536;
char g_ring[kMaxRing];
size_t g_ring_size = 0;         // from the system description
size_t g_head = 0, g_tail = 0;  // bytes ever committed / sent

size_t ring_free() { return g_ring_size - (g_head - g_tail); }

size_t tx_cost(const char* s, size_t n) {
  size_t c = n;
  for (size_t i = 0; i < n; ++i) c += s[i] == '\n';
  return c;
}

bool g_line_open = false;  // the last byte out was not a newline (a prompt, an echo)

void ring_put(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '\n') g_ring[g_head++ % g_ring_size] = '\r';
    g_ring[g_head++ % g_ring_size] = s[i];
  }
  if (n > 0) g_line_open = s[n - 1] != '\n';
}

// A client's whole line starts at the left margin: after a prompt or
// typed characters, it begins a new line (they stay above it).
size_t line_cost(const char* s, size_t n) { return tx_cost(s, n) + (g_line_open ? 2 : 0); }
void line_put(const char* s, size_t n) {
  if (g_line_open) ring_put("\n", 1);
  ring_put(s, n);
}

// Moves up to one FIFO's worth into the UART; the TX interrupt stays
// enabled while the ring has more.
void tx_kick() {
  for (unsigned i = 0; i < kFifoBurst && g_tail != g_head && (reg(kFr) & kFrTxff) == 0; ++i) {
    reg(kDr) = static_cast<uint8_t>(g_ring[g_tail++ % g_ring_size]);
  }
  uint32_t imsc = reg(kImsc);
  reg(kImsc) = g_tail != g_head ? imsc | kTxim : imsc & ~kTxim;
}

// ---- clients -----------------------------------------------------------------
struct Client {
  char line[con::kLineMax];  // the line being gathered
  size_t len = 0;
  // A write that could not finish: its remaining bytes and its caller.
  char pending[512];
  size_t pending_len = 0, pending_pos = 0;
  uint64_t write_reply = 0;  // Reply slot holding the writer (0: none)
  // Writes of other threads of this client waiting behind it, oldest first.
  struct Queued {
    char bytes[con::kMaxBytes];
    size_t len;
    uint64_t reply;
  } queued[kQueuedWrites];
  size_t queued_count = 0;
  uint64_t read_reply = 0;  // Reply slot holding a reader (0: none)
  uint64_t read_max = 0;
  uint64_t read_seq = 0;  // order of Read requests
  uint64_t wait_seq = 0;  // order in which writers started waiting
};
Client g_clients[kClients];
uint64_t g_seq = 0;
con::Stats g_stats{};

bool g_reply_busy[kReplies];

uint64_t take_reply() {
  for (uint64_t i = 0; i < kReplies; ++i) {
    if (!g_reply_busy[i]) {
      g_reply_busy[i] = true;
      return kFirstReply + i;
    }
  }
  return 0;  // cannot happen (kReplies); handle() refuses to hold a request without one
}
void free_reply(uint64_t r) { g_reply_busy[r - kFirstReply] = false; }

// Feeds pending bytes of client c into lines until done or a line does not
// fit the ring. Returns true when all its pending bytes are consumed.
bool feed(Client& c) {
  while (c.pending_pos < c.pending_len) {
    char ch = c.pending[c.pending_pos];
    bool full = c.len == con::kLineMax;
    if (full || ch == '\n') {
      size_t n = c.len + (full ? 0 : 1);
      if (!full) c.line[c.len] = '\n';
      if (line_cost(c.line, n) > ring_free()) return false;  // back-pressure
      line_put(c.line, n);
      g_stats.lines++;
      c.len = 0;
      if (full) continue;  // the byte still has to go into the new line
    } else {
      c.line[c.len++] = ch;
    }
    ++c.pending_pos;
    ++g_stats.bytes;
  }
  c.pending_len = c.pending_pos = 0;
  return true;
}

void reply_to(uint64_t reply_slot, Error e, uint64_t mr0 = 0) {
  sys::Message r;
  r.label = static_cast<uint64_t>(e);
  r.mr[0] = mr0;
  r.length = 1;
  (void)sys::reply(reply_slot, r);
  free_reply(reply_slot);
}

void drain_kernel_log();

// After the ring drained: finish waiting writers, oldest first.
void resume_writers() {
  for (;;) {
    Client* next = nullptr;
    for (Client& c : g_clients) {
      if (c.pending_len > 0 && (next == nullptr || c.wait_seq < next->wait_seq)) next = &c;
    }
    if (next == nullptr || !feed(*next)) break;
    if (next->write_reply != 0) {
      reply_to(next->write_reply, Error::kOk, 0);
      next->write_reply = 0;
    }
    if (next->queued_count > 0) {  // its next waiting write starts now (and keeps its place in line)
      Client::Queued& q = next->queued[0];
      for (size_t i = 0; i < q.len; ++i) next->pending[i] = q.bytes[i];
      next->pending_len = q.len;
      next->pending_pos = 0;
      next->write_reply = q.reply;
      for (size_t i = 1; i < next->queued_count; ++i) next->queued[i - 1] = next->queued[i];
      --next->queued_count;
    }
  }
  if (g_clients[0].pending_len == 0) drain_kernel_log();
  tx_kick();
}

// The kernel's log: read while the ring can take it (the kernel keeps the
// rest in its own ring, and says if it had to drop any).
void drain_kernel_log() {
  Client& k = g_clients[0];
  while (k.pending_len == 0) {
    uint64_t bytes = 0;
    if (sys::KernelLog(slot::kKernelLog).read(k.pending, sizeof k.pending, &bytes) != Error::kOk || bytes == 0) return;
    k.pending_len = bytes;
    k.pending_pos = 0;
    g_stats.kernel_bytes += bytes;
    k.wait_seq = ++g_seq;
    if (!feed(k)) return;
  }
}

// ---- input -------------------------------------------------------------------
char g_edit[con::kMaxBytes];
size_t g_edit_len = 0;
char g_input[2048];  // finished lines nobody has read yet
size_t g_input_len = 0;

void echo(const char* s, size_t n) {
  if (tx_cost(s, n) <= ring_free()) {
    ring_put(s, n);
  } else {
    g_stats.echo_skipped += n;  // echo never waits; counted (Stats), not silent
  }
}

// Answers a pending reader with the first queued line, if both exist:
// programs in the order they asked, and init's console (the shell) only
// when no program waits for input — a program asking for input is in the
// foreground.
void serve_readers() {
  while (g_input_len > 0) {
    Client* r = nullptr;
    for (uint64_t id = 0; id < kClients; ++id) {
      const Client& c = g_clients[id];
      if (c.read_reply == 0) continue;
      bool shell = id == abi::kInitTaskId;
      bool better =
          r == nullptr || (r == &g_clients[abi::kInitTaskId] && !shell) || (!shell && c.read_seq < r->read_seq);
      if (better) r = &g_clients[id];
    }
    if (r == nullptr) return;
    size_t n = 0;
    while (n < g_input_len && g_input[n] != '\n') ++n;
    size_t take = n + 1 < r->read_max ? n + 1 : r->read_max;
    sys::Message m;
    m.label = static_cast<uint64_t>(Error::kOk);
    con::pack(m, g_input, take);
    (void)sys::reply(r->read_reply, m);
    free_reply(r->read_reply);
    r->read_reply = 0;
    size_t consumed = n + 1 <= g_input_len ? n + 1 : g_input_len;
    for (size_t i = consumed; i < g_input_len; ++i) g_input[i - consumed] = g_input[i];
    g_input_len -= consumed;
  }
}

// The last lines entered, for Up and Down (oldest first).
constexpr size_t kHistory = 8;
char g_history[kHistory][con::kMaxBytes];
size_t g_history_len[kHistory] = {};
size_t g_history_count = 0;
size_t g_history_pos = 0;  // while browsing: the entry shown (g_history_count: the line being typed)

// Escape sequences (ESC [ x, ESC O x: what arrow and function keys send)
// are read whole and never reach the line: Up and Down browse the history,
// the rest are ignored.
enum class Esc { kNone, kEsc, kCsi } g_esc = Esc::kNone;

// Replaces the line being edited (on screen too) with history entry i.
void show_history(size_t i) {
  for (size_t k = 0; k < g_edit_len; ++k) echo("\b \b", 3);
  g_edit_len = i < g_history_count ? g_history_len[i] : 0;
  for (size_t k = 0; k < g_edit_len; ++k) g_edit[k] = g_history[i][k];
  echo(g_edit, g_edit_len);
  g_history_pos = i;
}

void remember(const char* s, size_t n) {
  if (n == 0) return;
  if (g_history_count == kHistory) {  // the oldest goes
    for (size_t i = 1; i < kHistory; ++i) {
      g_history_len[i - 1] = g_history_len[i];
      for (size_t k = 0; k < g_history_len[i]; ++k) g_history[i - 1][k] = g_history[i][k];
    }
    --g_history_count;
  }
  for (size_t k = 0; k < n; ++k) g_history[g_history_count][k] = s[k];
  g_history_len[g_history_count++] = n;
}

void receive_char(char ch) {
  g_stats.received++;
  if (g_esc == Esc::kEsc) {
    g_esc = ch == '[' || ch == 'O' ? Esc::kCsi : Esc::kNone;
    return;
  }
  if (g_esc == Esc::kCsi) {
    if (ch >= 0x40 && ch <= 0x7e) {  // the final byte
      g_esc = Esc::kNone;
      if (ch == 'A' && g_history_pos > 0) show_history(g_history_pos - 1);
      if (ch == 'B' && g_history_pos < g_history_count) show_history(g_history_pos + 1);
    }
    return;  // (parameter bytes: digits, ';')
  }
  if (ch == 0x1b) {
    g_esc = Esc::kEsc;
    return;
  }
  if (ch == 0x03) {  // Ctrl-C: the line goes, and init cancels the command it waits for
    echo("^C\n", 3);
    g_edit_len = 0;
    g_history_pos = g_history_count;
    (void)sys::Notification(slot::kConsoleInterrupt).signal();
    // Programs waiting for input stop waiting (init is about to cancel
    // them): otherwise a cancelled one would keep taking the lines typed.
    for (uint64_t id = 0; id < kClients; ++id) {
      Client& c = g_clients[id];
      if (c.read_reply == 0 || id == abi::kInitTaskId) continue;
      sys::Message m;
      m.label = static_cast<uint64_t>(Error::kWouldBlock);  // (no line: interrupted)
      (void)sys::reply(c.read_reply, m);
      free_reply(c.read_reply);
      c.read_reply = 0;
    }
    return;
  }
  if (ch == '\r' || ch == '\n') {
    remember(g_edit, g_edit_len);
    g_history_pos = g_history_count;
    echo("\n", 1);
    if (g_input_len + g_edit_len + 1 <= sizeof g_input) {
      for (size_t i = 0; i < g_edit_len; ++i) g_input[g_input_len++] = g_edit[i];
      g_input[g_input_len++] = '\n';
    } else {
      g_stats.input_dropped++;  // 2 KiB of lines nobody reads: counted (Stats)
    }
    g_edit_len = 0;
    serve_readers();
  } else if (ch == 0x7f || ch == 0x08) {
    if (g_edit_len > 0) {
      --g_edit_len;
      echo("\b \b", 3);
    }
  } else if (static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f) {
    if (g_edit_len < sizeof g_edit - 1) {
      g_edit[g_edit_len++] = ch;
      echo(&ch, 1);
    } else {
      g_stats.typed_over++;  // the line is full: counted (Stats), and the bell says so
      echo("\a", 1);
    }
  }
}

void uart_interrupt() {
  uint32_t mis = reg(kMis);
  // Clear first: anything arriving after the drain raises a new interrupt.
  reg(kIcr) = mis & (kRxim | kRtim | kTxim);
  while ((reg(kFr) & kFrRxfe) == 0) receive_char(static_cast<char>(reg(kDr) & 0xff));
  (void)sys::IrqHandler(slot::kDeviceIrq).ack();
  resume_writers();  // also pushes the next FIFO's worth
}

// ---- requests ----------------------------------------------------------------
// Handles one request; returns false if its caller must wait (reply_slot is
// then kept), true if `out` is the reply to send now.
bool handle(const sys::Message& m, uint64_t reply_slot, sys::Message& out) {
  out = sys::Message{};
  out.length = 1;
  if (m.badge == abi::kServerSelfBadge && m.label == kSelfLabel) {
    if ((m.mr[0] & kIrqBit) != 0) uart_interrupt();
    if ((m.mr[0] & kLogBit) != 0) {
      drain_kernel_log();
      tx_kick();
    }
    return true;
  }
  uint64_t id = m.badge;
  if (id == 0 || id >= kClients) {
    out.label = static_cast<uint64_t>(Error::kInvalidCapability);
    return true;
  }
  Client& c = g_clients[id];
  switch (m.label) {
    case con::kWrite: {
      uint64_t n = m.mr[0];
      if (n > con::kMaxBytes || m.length < 1 + (n + 7) / 8) {
        out.label = static_cast<uint64_t>(Error::kInvalidArgument);
        return true;
      }
      if (c.pending_len > 0) {
        // Another thread of this client waits with a write already: this
        // one queues behind it — never overwrites it.
        if (c.queued_count == kQueuedWrites || reply_slot == 0) {
          out.label = static_cast<uint64_t>(Error::kNotEnoughMemory);
          return true;
        }
        Client::Queued& q = c.queued[c.queued_count++];
        for (uint64_t i = 0; i < n; ++i) q.bytes[i] = con::unpack_byte(m, i);
        q.len = n;
        q.reply = reply_slot;
        g_stats.waited++;
        return false;
      }
      for (uint64_t i = 0; i < n; ++i) c.pending[i] = con::unpack_byte(m, i);
      c.pending_len = n;
      c.pending_pos = 0;
      c.wait_seq = ++g_seq;
      bool done = feed(c);
      tx_kick();
      if (!done) {
        if (reply_slot == 0) {  // nothing to hold the writer with: refuse, do not drop
          c.pending_len = c.pending_pos = 0;
          out.label = static_cast<uint64_t>(Error::kNotEnoughMemory);
          return true;
        }
        g_stats.waited++;
        c.write_reply = reply_slot;
        return false;
      }
      return true;
    }
    case con::kRead:
      if (c.read_reply != 0 || m.length < 1 || m.mr[0] == 0 || m.mr[0] > con::kMaxBytes || reply_slot == 0) {
        out.label = static_cast<uint64_t>(c.read_reply != 0 ? Error::kSlotOccupied
                                          : reply_slot == 0 ? Error::kNotEnoughMemory
                                                            : Error::kInvalidArgument);
        return true;
      }
      if (c.len > 0 && tx_cost(c.line, c.len) <= ring_free()) {  // its unfinished line is the prompt: show it
        ring_put(c.line, c.len);
        c.len = 0;
        tx_kick();
      }
      c.read_reply = reply_slot;
      c.read_max = m.mr[0];
      c.read_seq = ++g_seq;
      serve_readers();  // a line may be queued already (then reply_slot is answered and freed)
      return false;
    case con::kStats:
      g_stats.buffer_size = g_ring_size;
      out.mr[0] = g_stats.bytes;
      out.mr[1] = g_stats.lines;
      out.mr[2] = g_stats.waited;
      out.mr[3] = g_stats.received;
      out.mr[4] = g_stats.kernel_bytes;
      out.mr[5] = g_stats.buffer_size;
      out.mr[6] = g_stats.echo_skipped;
      out.mr[7] = g_stats.input_dropped;
      out.mr[8] = g_stats.typed_over;
      out.length = 9;
      return true;
    case con::kForget: {
      // Init's word that task mr[0] is gone: nothing of it stays for a new
      // task with its id (a held reader would keep the foreground).
      const uint64_t gone = m.mr[0];
      if (id != abi::kInitTaskId || m.length < 1 || gone == 0 || gone == abi::kInitTaskId || gone >= kClients) {
        out.label =
            static_cast<uint64_t>(id != abi::kInitTaskId ? Error::kInsufficientRights : Error::kInvalidArgument);
        return true;
      }
      Client& g = g_clients[gone];
      if (g.write_reply != 0) reply_to(g.write_reply, Error::kObjectDestroyed);
      for (size_t i = 0; i < g.queued_count; ++i) reply_to(g.queued[i].reply, Error::kObjectDestroyed);
      if (g.read_reply != 0) reply_to(g.read_reply, Error::kObjectDestroyed);
      g.len = g.pending_len = g.pending_pos = 0;
      g.write_reply = g.read_reply = g.read_max = 0;
      g.queued_count = 0;
      g.read_seq = g.wait_seq = 0;
      return true;
    }
    default: out.label = static_cast<uint64_t>(Error::kInvalidArgument); return true;
  }
}

// ---- the interrupt thread -------------------------------------------------------
alignas(4096) abi::IpcBuffer g_irq_ipc;
alignas(16) char g_irq_stack[8192];

[[noreturn]] void irq_thread(uint64_t) {
  sys::set_ipc_buffer_pointer(&g_irq_ipc);
  sys::Endpoint self(kSelfEp);
  for (;;) {
    uint64_t word = 0;
    if (sys::Notification(kNtfn).wait(&word) != Error::kOk) word = 0;
    sys::Message m;
    m.label = kSelfLabel;
    m.mr[0] = word;
    m.length = 1;
    (void)self.call(m);
  }
}

Error setup(const abi::StartInfo* info) {
  // Its device (the description's `device = stdout`): init mapped the
  // registers and bound the interrupt to kNtfn.
  if (info->device_count < 1 || info->devices[0].range_count < 1 || info->devices[0].ranges[0].size < 0x48 ||
      info->devices[0].irq_count < 1) {
    return Error::kInvalidArgument;
  }
  g_uart_va = info->devices[0].ranges[0].va;
  const sys::CNode cnode(slot::kCNode);
  const sys::Untyped ut(slot::kUntyped);
  Error e = cnode.mint(kNtfnLog, kNtfn, abi::kRightWrite, kLogBit);
  if (e == Error::kOk) e = cnode.mint(kSelfEp, slot::kServerEndpoint, abi::kRightWrite, abi::kServerSelfBadge);
  for (uint64_t i = 0; e == Error::kOk && i < kReplies; i += 16) {
    e = ut.retype(ObjectType::kReply, 0, kFirstReply + i, kReplies - i < 16 ? kReplies - i : 16);
  }
  if (e == Error::kOk) {
    e = sys::start_thread({.untyped = slot::kUntyped,
                           .slot = kIrqThread,
                           .priority = static_cast<unsigned>(info->priority),
                           .entry = irq_thread,
                           .stack_top = reinterpret_cast<uint64_t>(g_irq_stack + sizeof g_irq_stack),
                           .ipc_buffer = reinterpret_cast<uint64_t>(&g_irq_ipc)});
  }
  if (e != Error::kOk) return e;
  // The UART: interrupts on for receive (and transmit while the ring has bytes).
  reg(kIcr) = 0x7ff;
  reg(kImsc) = kRxim | kRtim;
  // The hand-over: from here on the kernel's output comes through us.
  e = sys::KernelLog(slot::kKernelLog).bind(kNtfnLog);
  return e;
}

}  // namespace

int main() {
  sys::set_debug_log(slot::kKernelLog);  // its own reports go to the kernel's console until it runs the UART
  const abi::StartInfo* info = abi::start_info();
  if (info->magic != abi::kStartInfoMagic || info->buffer_bytes < 2 * (con::kLineMax + 2) ||
      info->buffer_bytes > kMaxRing) {
    sys::print("uart: bad start info\n");
    return 1;
  }
  g_ring_size = info->buffer_bytes;
  Error e = setup(info);
  if (e != Error::kOk) {
    sys::print("uart: setup failed: %s\n", abi::error_name(e));  // (still through the kernel)
    return 1;
  }
  drain_kernel_log();
  tx_kick();
  const sys::Endpoint ep(slot::kServerEndpoint);
  uint64_t r = take_reply();
  sys::Message m, out;
  e = ep.recv(m, r);
  for (;;) {
    if (e != Error::kOk) {  // (nothing a client does makes Recv fail; keep serving)
      e = ep.recv(m, r);
      continue;
    }
    if (handle(m, r, out)) {
      e = ep.reply_recv(out, m, r);
    } else {
      r = take_reply();
      e = ep.recv(m, r);
    }
  }
}
