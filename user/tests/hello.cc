// hello — a program init loads from a boot module into its own address space.
#include "keel/sys.h"

int main() {
  int on_stack = 0;
  keel::sys::print("hello: running in my own address space (stack near %p)\n", static_cast<void*>(&on_stack));
  return 7;
}
