#include <stdio.h>
#include <stdlib.h>

#include "kernel/arch/arch.h"

namespace keel::arch {

HostMachine g_host;

void enter_user() {
  fprintf(stderr, "keel (host): enter_user has no EL0 to enter\n");
  abort();
}

void halt() {
  fprintf(stderr, "keel (host): the kernel halted\n");
  abort();
}

}  // namespace keel::arch
