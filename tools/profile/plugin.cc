// plugin.cc — keel's QEMU TCG plugin: counts every guest instruction
// executed, by virtual PC, inside a window, and how many of them ran while
// the kernel's big lock was held. tools/profile/profile.cc loads it (through
// the runner's --plugin) and symbolizes what it writes.
//
// Arguments (QEMU passes them as name=value):
//   out=FILE    where the counts go (required)
//   from=ADDR   the window opens each time the instruction at ADDR (hex)
//               executes; without it, it is open from reset
//   to=ADDR     ... and closes after the instruction at ADDR executes;
//               without it, it stays open until QEMU exits
//   nth=K       count only the K-th window (1-based; 0 or absent: all)
//   lock=ADDR   the lock word (keel::g_kernel_lock): a store-release to it
//               releases the lock, any other store (SWP, STXR, CAS) by a
//               CPU while nobody holds it acquires it; `held` counts the
//               holder's instructions after its acquiring store up to and
//               including its releasing one
//
// Output (text, rewritten when the chosen window closes and at exit):
//   keel-profile 1
//   windows N        windows opened
//   total T          instructions counted
//   held H           of them, executed by the lock holder
//   longest L S E    the longest single hold inside the window: L
//                    instructions, from PC S (the holder's first after its
//                    acquiring store) to PC E (its releasing store)
//   PC COUNT HELD    one line per instruction address (hex PC), sorted
//
// Exact under -icount (QEMU runs the vCPUs one at a time, round robin);
// without it, vCPUs run in parallel threads and the lock attribution is a
// best effort (counters stay exact: they are atomic).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tools/profile/qemu_plugin_api.h"

extern "C" {
__attribute__((visibility("default"))) int qemu_plugin_version = kQemuPluginApi;
}

namespace {

enum : uint8_t { kMarkFrom = 1, kMarkTo = 2 };
enum : uint8_t { kLockNone, kLockAcquire, kLockRelease };

struct Insn {
  uint64_t pc;
  uint64_t count = 0;
  uint64_t held = 0;
  uint8_t marks = 0;
};

struct State {
  std::string out;
  uint64_t from = 0, to = 0, lock = 0;
  bool has_from = false, has_to = false;
  uint64_t nth = 0;
  std::mutex mu;  // guards `insns` (translation may run on several threads)
  std::unordered_map<uint64_t, Insn*> insns;
  int open = 0;          // the window is open (atomic)
  uint64_t windows = 0;  // windows opened so far (atomic)
  int holder = -1;       // the vCPU holding the lock, or -1 (atomic)
  // The current hold and the longest (touched only by the holder's vCPU
  // while it holds the lock, and by dump(): exact under -icount).
  uint64_t hold = 0, hold_start = 0, last_pc = 0;
  uint64_t longest = 0, longest_start = 0, longest_end = 0;
  bool dumped_final = false;
};
State* g;

void dump() {
  std::vector<Insn*> all;
  {
    std::lock_guard<std::mutex> l(g->mu);
    for (auto& [pc, i] : g->insns) {
      if (__atomic_load_n(&i->count, __ATOMIC_RELAXED) != 0) all.push_back(i);
    }
  }
  std::sort(all.begin(), all.end(), [](const Insn* a, const Insn* b) { return a->pc < b->pc; });
  uint64_t total = 0, held = 0;
  for (const Insn* i : all) total += i->count, held += i->held;
  const std::string tmp = g->out + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    qemu_plugin_outs(("keel-profile: cannot write " + g->out + "\n").c_str());
    return;
  }
  fprintf(f, "keel-profile 1\nwindows %llu\ntotal %llu\nheld %llu\nlongest %llu %llx %llx\n",
          static_cast<unsigned long long>(__atomic_load_n(&g->windows, __ATOMIC_RELAXED)),
          static_cast<unsigned long long>(total), static_cast<unsigned long long>(held),
          static_cast<unsigned long long>(g->longest), static_cast<unsigned long long>(g->longest_start),
          static_cast<unsigned long long>(g->longest_end));
  for (const Insn* i : all) {
    fprintf(f, "%llx %llu %llu\n", static_cast<unsigned long long>(i->pc), static_cast<unsigned long long>(i->count),
            static_cast<unsigned long long>(i->held));
  }
  fclose(f);
  rename(tmp.c_str(), g->out.c_str());  // readers never see half a file
}

void on_exec(unsigned int vcpu, void* udata) {
  Insn* i = static_cast<Insn*>(udata);
  if ((i->marks & kMarkFrom) != 0 && __atomic_load_n(&g->open, __ATOMIC_RELAXED) == 0) {
    const uint64_t n = __atomic_add_fetch(&g->windows, 1, __ATOMIC_RELAXED);
    if (g->nth == 0 || n == g->nth) __atomic_store_n(&g->open, 1, __ATOMIC_RELAXED);
  }
  if (__atomic_load_n(&g->open, __ATOMIC_RELAXED) == 0) return;
  __atomic_add_fetch(&i->count, 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&g->holder, __ATOMIC_RELAXED) == static_cast<int>(vcpu)) {
    __atomic_add_fetch(&i->held, 1, __ATOMIC_RELAXED);
    if (g->hold++ == 0) g->hold_start = i->pc;
    g->last_pc = i->pc;
  }
  if ((i->marks & kMarkTo) != 0) {
    __atomic_store_n(&g->open, 0, __ATOMIC_RELAXED);
    if (g->nth != 0 && !g->dumped_final) {  // the one window asked for is complete
      g->dumped_final = true;
      dump();
    }
  }
}

void on_lock_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void* udata) {
  if (vaddr != g->lock || !qemu_plugin_mem_is_store(info)) return;
  const int me = static_cast<int>(vcpu);
  if (reinterpret_cast<uintptr_t>(udata) == kLockRelease) {
    int expected = me;
    if (__atomic_compare_exchange_n(&g->holder, &expected, -1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      if (g->hold > g->longest) {
        g->longest = g->hold;
        g->longest_start = g->hold_start;
        g->longest_end = g->last_pc;
      }
      g->hold = 0;
    }
  } else {
    int expected = -1;
    if (__atomic_compare_exchange_n(&g->holder, &expected, me, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) g->hold = 0;
  }
}

// Which stores can take or drop the lock, by mnemonic: store-release drops
// it; the atomic read-modify-writes and exclusive stores take it.
uint8_t lock_kind(const char* disas) {
  auto starts = [&](const char* p) { return strncmp(disas, p, strlen(p)) == 0; };
  if (starts("stlr ") || starts("stllr ")) return kLockRelease;
  if (starts("swp") || starts("stxr") || starts("stlxr") || starts("cas")) return kLockAcquire;
  return kLockNone;
}

void on_translate(qemu_plugin_id_t, struct qemu_plugin_tb* tb) {
  const size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t k = 0; k < n; ++k) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, k);
    const uint64_t pc = qemu_plugin_insn_vaddr(insn);
    Insn* rec;
    {
      std::lock_guard<std::mutex> l(g->mu);
      Insn*& slot = g->insns[pc];
      if (slot == nullptr) {
        slot = new Insn{pc};
        if (g->has_from && pc == g->from) slot->marks |= kMarkFrom;
        if (g->has_to && pc == g->to) slot->marks |= kMarkTo;
      }
      rec = slot;
    }
    qemu_plugin_register_vcpu_insn_exec_cb(insn, on_exec, QEMU_PLUGIN_CB_NO_REGS, rec);
    if (g->lock != 0) {
      char* d = qemu_plugin_insn_disas(insn);
      const uint8_t kind = d != nullptr ? lock_kind(d) : kLockNone;
      free(d);
      if (kind != kLockNone) {
        qemu_plugin_register_vcpu_mem_cb(insn, on_lock_store, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W,
                                         reinterpret_cast<void*>(static_cast<uintptr_t>(kind)));
      }
    }
  }
}

void on_exit(qemu_plugin_id_t, void*) {
  if (!g->dumped_final) dump();
}

bool parse_number(const char* s, uint64_t* v, int base) {
  char* end = nullptr;
  *v = strtoull(s, &end, base);
  return end != s && *end == '\0';
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info,
                                                                          int argc, char** argv) {
  if (info->version.cur < kQemuPluginApi || info->version.min > kQemuPluginApi) {
    fprintf(stderr, "keel-profile: QEMU's plugin API is %d (oldest %d); this plugin speaks %d\n", info->version.cur,
            info->version.min, kQemuPluginApi);
    return 1;
  }
  g = new State;
  for (int i = 0; i < argc; ++i) {
    const char* a = argv[i];
    const char* eq = strchr(a, '=');
    if (eq == nullptr) {
      fprintf(stderr, "keel-profile: argument '%s' is not name=value\n", a);
      return 1;
    }
    const std::string name(a, eq - a);
    const char* value = eq + 1;
    bool ok = true;
    if (name == "out") {
      g->out = value;
    } else if (name == "from") {
      ok = parse_number(value, &g->from, 16), g->has_from = true;
    } else if (name == "to") {
      ok = parse_number(value, &g->to, 16), g->has_to = true;
    } else if (name == "lock") {
      ok = parse_number(value, &g->lock, 16);
    } else if (name == "nth") {
      ok = parse_number(value, &g->nth, 10);
    } else {
      ok = false;
    }
    if (!ok) {
      fprintf(stderr, "keel-profile: bad argument '%s' (out=FILE from=HEX to=HEX nth=N lock=HEX)\n", a);
      return 1;
    }
  }
  if (g->out.empty()) {
    fprintf(stderr, "keel-profile: out=FILE is required\n");
    return 1;
  }
  if (!g->has_from) g->open = 1, g->windows = 1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit, nullptr);
  return 0;
}
