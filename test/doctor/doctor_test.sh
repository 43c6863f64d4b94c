#!/bin/bash
# doctor_test.sh FIXTURE MODE [--doctor-option...] [PATTERN...] — runs the
# doctor on one fixture (test/doctor/fixture.S built with one variant) and
# checks its report: every PATTERN (an extended regex) must match a line.
# MODE: "correct" must get "no problem found", no note, and exit 0;
# "healthy" "no problem found" and exit 0 (notes allowed: suspicions);
# "broken" exit 3 (problems found). Also checks the doctor left no QEMU
# running.
# doctor_test.sh image=PATH MODE [--doctor-option...] [PATTERN...]: the
# same for any image (keel's own, a raw binary), by its runfiles path.
set -uo pipefail
fixture=$1
shift
doctor=tools/doctor/doctor
extra=()
if [[ "$fixture" == image=* ]]; then
  image=${fixture#image=}
else
  image=$(find -L test/doctor -name "fixture_$fixture" -type f | head -1)
fi
mode=$1
shift
while [[ $# -gt 0 && "$1" == --* ]]; do  # doctor options (e.g. --load_addr, --el2)
  extra+=("$1")
  shift
done
[ -n "$image" ] && [ -r "$image" ] || { echo "doctor_test: FAIL: no image for $fixture in the runfiles"; exit 1; }
out=$("$doctor" --image "$image" --timeout 20 "${extra[@]}" 2>&1)
rc=$?
echo "$out"
fail=0
case "$mode" in
  correct | healthy)
    [ "$rc" = 0 ] || { echo "doctor_test: FAIL: exit $rc for a healthy kernel (want 0)"; fail=1; }
    grep -q "^doctor: no problem found" <<<"$out" || { echo "doctor_test: FAIL: a false alarm on a healthy kernel"; fail=1; }
    if [ "$mode" = correct ] && grep -q "^doctor: [0-9]* note" <<<"$out"; then
      echo "doctor_test: FAIL: notes on the correct kernel"
      fail=1
    fi
    ;;
  broken) [ "$rc" = 3 ] || { echo "doctor_test: FAIL: exit $rc (want 3: problems found)"; fail=1; } ;;
  *) echo "doctor_test: FAIL: mode '$mode' is not correct, healthy or broken"; exit 1 ;;
esac
for p in "$@"; do
  grep -Eq -- "$p" <<<"$out" || { echo "doctor_test: FAIL: nothing matches: $p"; fail=1; }
done
# (Through /proc, not pgrep: procps is not on every machine.)
still=$(for c in /proc/[0-9]*/cmdline; do tr '\0' ' ' <"$c" 2>/dev/null; echo; done | grep -c "^qemu-system-aarch64 .*$image" || true)
if [ "$still" != 0 ]; then
  echo "doctor_test: FAIL: a QEMU for fixture_$fixture is still running"
  fail=1
fi
[ "$fail" = 0 ] && echo "doctor_test: PASS: $fixture"
exit "$fail"
