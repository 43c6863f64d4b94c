#include "kernel/boot/preflight.h"

#include <stdarg.h>

#include "kernel/boot/boot_map.h"
#include "kernel/lib/fmt.h"

namespace keel::boot {

using arm64::kPageSize;
using arm64::Translation;

namespace {

enum class Want { kExec, kReadOnly, kReadWrite, kDevice };

const char* want_name(Want w) {
  switch (w) {
    case Want::kExec: return "EL1-executable Normal write-back";
    case Want::kReadOnly: return "read-only execute-never Normal write-back";
    case Want::kReadWrite: return "read-write execute-never Normal write-back";
    case Want::kDevice: return "read-write execute-never Device";
  }
  return "?";
}

class Checker {
 public:
  Checker(const PreflightInput& in, arm64::PhysWindow w, PreflightReport* r) : in_(in), window_(w), report_(r) {
    *report_ = PreflightReport{};
  }

  // Starts a named check; returns false once it has failed (to skip details).
  void begin(const char* name) {
    name_ = name;
    failed_ = false;
    ++report_->checks;
  }

  void fail(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (failed_) return;  // one line per check
    failed_ = true;
    if (report_->failed < kMaxReportedFailures) {
      PreflightFailure& f = report_->failures[report_->failed];
      f.check = name_;
      va_list ap;
      va_start(ap, fmt);
      struct Buf {
        char* p;
        size_t n, len;
      } b{f.detail, kDetailSize, 0};
      vformat(Sink{[](void* c, const char* s, size_t n) {
                     auto* bb = static_cast<Buf*>(c);
                     for (size_t i = 0; i < n && bb->len + 1 < bb->n; ++i) bb->p[bb->len++] = s[i];
                   },
                   &b},
              fmt, ap);
      va_end(ap);
      f.detail[b.len] = '\0';
    }
    ++report_->failed;
  }
  bool failed() const { return failed_; }

  // Checks that va translates to pa with the rights `want` asks for.
  void expect_mapping(const char* what, uint64_t va, uint64_t pa, Want want) {
    Translation t = arm64::translate(in_.regime, window_, va);
    if (!t.ok()) {
      fail("%s VA 0x%llx: %s at level %u (walking %s)", what, ull(va), arm64::walk_fault_name(t.fault), t.level,
           (va >> 63) ? "TTBR1" : "TTBR0");
      return;
    }
    if (t.pa != pa) {
      fail("%s VA 0x%llx maps to PA 0x%llx, expected 0x%llx", what, ull(va), ull(t.pa), ull(pa));
      return;
    }
    unsigned idx = static_cast<unsigned>(t.leaf.attr_index());
    uint8_t attr = in_.mair.attr(idx);
    bool device = arm64::mair_attr_is_device(attr);
    if (want == Want::kDevice ? !device : !arm64::mair_attr_is_normal_wb(attr)) {
      fail("%s VA 0x%llx: AttrIndx %u -> MAIR 0x%02x (%s), expected %s", what, ull(va), idx, attr,
           arm64::mair_attr_name(attr), want == Want::kDevice ? "Device memory" : "Normal write-back");
      return;
    }
    bool ok = true;
    switch (want) {
      case Want::kExec: ok = !t.pxn && !t.el0_writable; break;
      case Want::kReadOnly: ok = t.pxn && !t.el1_writable; break;
      case Want::kReadWrite:
      case Want::kDevice: ok = t.pxn && t.el1_writable; break;
    }
    if (!ok) {
      fail("%s VA 0x%llx: rights are %s%s (PXN=%d), expected %s", what, ull(va), "R", t.el1_writable ? "W" : "",
           t.pxn ? 0 : 1, want_name(want));
    }
  }

  static unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

 private:
  const PreflightInput& in_;
  arm64::PhysWindow window_;
  PreflightReport* report_;
  const char* name_ = "";
  bool failed_ = false;
};

}  // namespace

void run_preflight(const PreflightInput& in, arm64::PhysWindow window, PreflightReport* report) {
  Checker c(in, window, report);
  const arm64::TcrEl1 tcr = in.regime.tcr;
  auto ull = Checker::ull;

  c.begin("tcr.granule");
  if (tcr.tg0() != arm64::Tg0::k4K) {
    c.fail("TCR_EL1.TG0 = 0b%llx, 4 KiB is 0b00", ull(static_cast<uint64_t>(tcr.tg0())));
  }
  if (tcr.tg1() != arm64::Tg1::k4K) {
    c.fail("TCR_EL1.TG1 = 0b%llx, 4 KiB is 0b10 (TG1's encoding differs from TG0's)",
           ull(static_cast<uint64_t>(tcr.tg1())));
  }

  c.begin("tcr.size");
  if (tcr.t0sz() != 16 || tcr.t1sz() != 16 || tcr.epd0() || tcr.epd1()) {
    c.fail("T0SZ=%llu T1SZ=%llu EPD0=%llu EPD1=%llu, expected 16/16/0/0", ull(tcr.t0sz()), ull(tcr.t1sz()),
           ull(tcr.epd0()), ull(tcr.epd1()));
  }

  c.begin("tcr.walk");
  if (tcr.irgn0() != arm64::WalkCache::kWbWa || tcr.orgn0() != arm64::WalkCache::kWbWa ||
      tcr.irgn1() != arm64::WalkCache::kWbWa || tcr.orgn1() != arm64::WalkCache::kWbWa ||
      tcr.sh0() != arm64::Shareability::kInner || tcr.sh1() != arm64::Shareability::kInner)
    c.fail("table walks must be write-back and inner shareable (TCR 0x%llx)", ull(tcr.raw));

  c.begin("tcr.ips");
  unsigned ips_bits = arm64::pa_bits_from_encoding(tcr.ips());
  unsigned pa_bits = arm64::pa_bits_from_encoding(in.pa_range_enc);
  if (ips_bits == 0 || tcr.ips() > in.pa_range_enc) {
    c.fail("TCR_EL1.IPS = %llu (%u bits) exceeds the CPU's PARange %llu (%u bits)", ull(tcr.ips()), ips_bits,
           ull(in.pa_range_enc), pa_bits);
  } else if (ips_bits < 64 && in.max_pa > (1ull << ips_bits)) {
    c.fail("a mapping reaches PA 0x%llx, beyond IPS's %u bits", ull(in.max_pa - 1), ips_bits);
  }

  c.begin("mair");
  if (in.mair.raw != arm64::kKeelMair.raw) {
    c.fail("MAIR_EL1 = 0x%llx, keel's layout is 0x%llx", ull(in.mair.raw), ull(arm64::kKeelMair.raw));
  }

  c.begin("sctlr");
  const arm64::SctlrEl1 s = in.sctlr;
  if (!s.m() || !s.c() || !s.i() || (s.raw & arm64::SctlrEl1::kRes1) != arm64::SctlrEl1::kRes1 || s.ee() || s.wxn()) {
    c.fail("SCTLR_EL1 = 0x%llx: needs M, C, I and the RES1 bits set, EE and WXN clear", ull(s.raw));
  }

  c.begin("trampoline.identity");
  c.expect_mapping("trampoline", in.trampoline_pa, in.trampoline_pa, Want::kExec);

  const ImageManifest& m = *in.manifest;
  auto kpa = [&](uint64_t va) { return in.kernel_pa + (va - m.kernel_vbase); };

  c.begin("kernel.entry");
  c.expect_mapping("kernel entry", m.kernel_entry, kpa(m.kernel_entry), Want::kExec);

  c.begin("kernel.vectors");
  if (m.kernel_vectors & 0x7ff) c.fail("vectors at 0x%llx are not 2 KiB aligned", ull(m.kernel_vectors));
  c.expect_mapping("vectors", m.kernel_vectors, kpa(m.kernel_vectors), Want::kExec);

  c.begin("kernel.stack");
  if (m.kernel_stack_top <= m.kernel_stack_bottom) c.fail("empty kernel stack");
  for (uint64_t va = m.kernel_stack_bottom; va < m.kernel_stack_top && !c.failed(); va += kPageSize) {
    c.expect_mapping("kernel stack", va, kpa(va), Want::kReadWrite);
  }

  c.begin("kernel.sections");
  for (uint32_t i = 0; i < m.segment_count && !c.failed(); ++i) {
    const ManifestSegment& seg = m.segments[i];
    Want w = (seg.flags & kSegX) ? Want::kExec : (seg.flags & kSegW) ? Want::kReadWrite : Want::kReadOnly;
    if ((seg.flags & kSegX) && (seg.flags & kSegW)) {
      c.fail("segment %u at 0x%llx is writable and executable", i, ull(seg.vaddr));
    }
    for (uint64_t va = seg.vaddr; va < seg.vaddr + seg.mem_size && !c.failed(); va += kPageSize) {
      c.expect_mapping("kernel page", va, kpa(va), w);
    }
  }

  c.begin("console");
  c.expect_mapping("console UART", in.console_va, in.console_pa, Want::kDevice);

  c.begin("bootinfo");
  c.expect_mapping("BootInfo", in.bootinfo_va, in.bootinfo_pa, Want::kReadWrite);
}

}  // namespace keel::boot
