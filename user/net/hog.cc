// hog — a network client that takes what it can and reads nothing: it
// accepts every connection to TCP port 8 and never receives from them (a
// test program: //test/net:net_limits). The stack must not let it starve
// its other clients (docs/drivers.md: each client's unread limit).
#include <stdint.h>

#include "keel/socket.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace {
namespace sys = keel::sys;
namespace sock = keel::sock;
sys::Sockets g_net;
}  // namespace

int main() {
  sys::set_console(keel::abi::task_slot::kConsole);
  const int l = g_net.socket(sock::kTcp);
  int r = l < 0 ? l : g_net.bind(l, 0, 8);
  if (r >= 0) r = g_net.listen(l, sock::kMaxBacklog);
  if (r < 0) {
    sys::print("hog: cannot listen on port 8: %s\n", sock::status_name(r));
    return 1;
  }
  sys::print("hog: accepting on port 8, reading nothing\n");
  uint32_t held = 0;
  for (;;) {
    const int s = g_net.accept(l);
    if (s >= 0) {
      ++held;
    } else if (s == sock::kNoSockets) {
      sys::print("hog: out of sockets after %u connections (its limit)\n", held);
      uint64_t word = 0;
      (void)sys::Notification(keel::abi::task_slot::kDiskWait).wait(&word);  // (nothing will come: stays)
    }
  }
}
