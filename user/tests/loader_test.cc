// loader_test — runs as init: reads the boot-info page, then loads the
// "hello" boot module into a fresh address space with libsys's ELF loader
// and runs it.
#include "keel/loader.h"

#include "keel/sys.h"
#include "keel/testing.h"
#include "keel/text.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

namespace {

// (Slots the kernel never fills: init's boot frames from 32 on grow with the image.)
constexpr uint64_t kUt = slot::kFirstFree, kAs = kUt + 1, kThread = kUt + 2, kFirstFree = kUt + 3, kLimit = kUt + 68;

using keel::sys::streq;

}  // namespace

int main() {
  const keel::abi::InitBootInfo* info = sys::init_boot_info();
  bool ok = info->magic == keel::abi::kInitBootInfoMagic && info->untyped_count > 0 && info->module_count >= 2 &&
            info->untyped[0].slot == slot::kFirstUntyped;
  sys::Checks checks;
  checks.report(ok, "boot_info", "%llu CPUs, %llu MiB, %llu untyped, %llu modules", (unsigned long long)info->cpu_count,
                (unsigned long long)(info->memory_bytes >> 20), (unsigned long long)info->untyped_count,
                (unsigned long long)info->module_count);
  const keel::abi::BootModule* hello = nullptr;
  for (uint64_t i = 0; i < info->module_count; ++i) {
    if (streq(info->modules[i].name, "hello")) hello = &info->modules[i];
  }
  sys::LoadContext ctx{.cnode = slot::kCNode,
                       .untyped = kUt,
                       .caller_as = slot::kAddressSpace,
                       .scratch_va = 0x2000'0000,
                       .next_slot = kFirstFree,
                       .slot_limit = kLimit};
  sys::LoadedProgram prog;
  Error e = hello == nullptr ? Error::kInvalidArgument
            : sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 20, kUt) != Error::kOk
                ? Error::kNotEnoughMemory
                : sys::Untyped(kUt).retype(ObjectType::kAddressSpace, 0, kAs);
  if (e == Error::kOk) e = sys::load_program(ctx, reinterpret_cast<const uint8_t*>(hello->va), hello->size, kAs, &prog);
  sys::ThreadCap th(kThread);
  if (e == Error::kOk) e = sys::Untyped(kUt).retype(ObjectType::kThread, 0, kThread);
  if (e == Error::kOk) e = th.configure(slot::kCNode, kAs, 200);
  if (e == Error::kOk) e = th.start(prog.entry, prog.stack_top, 0);
  checks.report(e == Error::kOk, "load_program", "%s, %llu capability slots used", keel::abi::error_name(e),
                (unsigned long long)(ctx.next_slot - kFirstFree));
  return checks.summary("loader_test");  // init parks; hello (priority 200) runs once init waits
}
