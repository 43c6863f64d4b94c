#include "keel/devices.h"

namespace keel::devices {
namespace {

bool same(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

// The parsed spec: a compatible with an index, or a path.
struct Query {
  char compatible[64] = {};
  uint64_t index = 0;
  const char* path = nullptr;  // "/..."
  bool stdout = false;
  // While walking:
  uint64_t seen = 0;
  bool found = false;
  Device* out = nullptr;
  char stdout_path[kPathMax] = {};  // (second pass for "stdout")
};

Status parse_spec(const char* spec, Query* q) {
  if (spec == nullptr || spec[0] == '\0') return Status::kInvalidArgument;
  if (spec[0] == '/') {
    q->path = spec;
    return Status::kOk;
  }
  if (same(spec, "stdout")) {
    q->stdout = true;
    return Status::kOk;
  }
  size_t i = 0;
  for (; spec[i] != '\0' && spec[i] != '#'; ++i) {
    if (i + 1 >= sizeof q->compatible) return Status::kInvalidArgument;
    q->compatible[i] = spec[i];
  }
  if (spec[i] == '#') {
    ++i;
    if (spec[i] == '\0') return Status::kInvalidArgument;
    for (; spec[i] != '\0'; ++i) {
      if (spec[i] < '0' || spec[i] > '9' || q->index > 1'000'000) return Status::kInvalidArgument;
      q->index = q->index * 10 + static_cast<uint64_t>(spec[i] - '0');
    }
  }
  return Status::kOk;
}

void fill(const dtb::NodeView& n, Device* d) {
  *d = Device{};
  if (!n.path(d->path, sizeof d->path)) d->path[0] = '\0';
  d->dma_coherent = n.dma_coherent();
  for (size_t i = 0; i < n.reg_count() && d->range_count < kMaxRanges; ++i) {
    if (n.reg(i, &d->ranges[d->range_count])) ++d->range_count;
  }
  for (size_t i = 0; i < n.interrupt_count() && d->irq_count < kMaxIrqs; ++i) {
    if (n.interrupt(i, &d->irqs[d->irq_count])) ++d->irq_count;
  }
}

Status visit(void* ctx, const dtb::NodeView& n) {
  auto* q = static_cast<Query*>(ctx);
  if (q->stdout) {  // first pass: read /chosen/stdout-path (up to an optional ":options")
    if (n.depth == 1 && n.path_is("/chosen")) {
      const char* p = n.string("stdout-path");
      size_t i = 0;
      for (; p[i] != '\0' && p[i] != ':' && i + 1 < sizeof q->stdout_path; ++i) q->stdout_path[i] = p[i];
      q->stdout_path[i] = '\0';
    }
    return Status::kOk;
  }
  if (q->found || !n.enabled()) return Status::kOk;
  const bool match = q->path != nullptr ? n.path_is(q->path) : n.is_compatible(q->compatible) && q->seen++ == q->index;
  if (match) {
    fill(n, q->out);
    q->found = true;
    return Status::kStop;  // (nothing after it matters)
  }
  return Status::kOk;
}

}  // namespace

Status find(const void* dtb, size_t size, const char* spec, Device* out, const char** why, const char* stdout_path) {
  Query q;
  if (why != nullptr) *why = "";
  Status s = parse_spec(spec, &q);
  if (s != Status::kOk) {
    if (why != nullptr) *why = "not COMPATIBLE[#N], /PATH or stdout";
    return s;
  }
  q.out = out;
  const char* reason = "";
  if (q.stdout && stdout_path != nullptr && stdout_path[0] != '\0') {  // (known: one walk)
    size_t i = 0;
    for (; stdout_path[i] != '\0' && i + 1 < sizeof q.stdout_path; ++i) q.stdout_path[i] = stdout_path[i];
    q.stdout_path[i] = '\0';
    q.stdout = false;
    q.path = q.stdout_path;
  }
  s = dtb::walk(dtb, size, visit, &q, &reason);
  if (s == Status::kStop) s = Status::kOk;
  if (s == Status::kOk && q.stdout) {  // second pass: the node it names
    if (q.stdout_path[0] == '\0') {
      if (why != nullptr) *why = "no /chosen/stdout-path";
      return Status::kNotFound;
    }
    q.stdout = false;
    q.path = q.stdout_path;
    s = dtb::walk(dtb, size, visit, &q, &reason);
    if (s == Status::kStop) s = Status::kOk;
  }
  if (s != Status::kOk) {
    if (why != nullptr) *why = reason;
    return s;
  }
  return q.found ? Status::kOk : Status::kNotFound;
}

size_t count(const void* dtb, size_t size, const char* compatible) {
  struct Count {
    const char* compatible;
    size_t n;
  } c{compatible, 0};
  auto v = [](void* ctx, const dtb::NodeView& n) {
    auto* c = static_cast<Count*>(ctx);
    if (n.enabled() && n.is_compatible(c->compatible)) ++c->n;
    return Status::kOk;
  };
  return dtb::walk(dtb, size, v, &c) == Status::kOk ? c.n : 0;
}

}  // namespace keel::devices
