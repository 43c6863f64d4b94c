// A user program that faults on purpose: the kernel must report the fault
// decoded, stop only this thread, and carry on.
#include "keel/sys.h"

namespace {

__attribute__((noinline)) void write_through_null() {
  volatile int* p = nullptr;
  *p = 1;
}

}  // namespace

int main() {
  keel::sys::print("fault_test: about to write through a null pointer\n");
  write_through_null();
  keel::sys::print("fault_test: still running?!\n");
  return 1;
}
