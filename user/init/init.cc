// init — the root task: the one thread the kernel creates. For now it
// proves the EL0 path: it runs in its own address space, prints through the
// debug syscall, and checks that bad syscall arguments get error codes.
#include "keel/sys.h"

using keel::abi::Error;

int main() {
  keel::sys::print("init: hello from EL0\n");
  // A pointer into kernel space must be refused, not followed.
  Error e = keel::sys::debug_write(reinterpret_cast<const char*>(0xffffffff80000000ull), 16);
  keel::sys::print("init: debug_write(kernel address) -> %s\n", keel::abi::error_name(e));
  e = keel::sys::debug_write(reinterpret_cast<const char*>(0x10), 16);
  keel::sys::print("init: debug_write(unmapped address) -> %s\n", keel::abi::error_name(e));
  e = keel::sys::syscall(4242).error;
  keel::sys::print("init: syscall 4242 -> %s\n", keel::abi::error_name(e));
  return 0;
}
