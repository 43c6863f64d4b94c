#!/bin/bash
# doctor_test.sh FIXTURE [PATTERN...] — runs the doctor on one fixture
# (test/doctor/fixture.S built with one mistake) and checks its report:
# every PATTERN (an extended regex) must match a line; "correct" must get
# "no problem found" and exit 0, every other fixture exit 3 (problems
# found). Also checks the doctor left no QEMU running.
# doctor_test.sh image=PATH correct|broken [--doctor-option...] [PATTERN...]:
# the same for any image (keel's own, a raw binary), by its runfiles path.
set -uo pipefail
fixture=$1
shift
doctor=tools/doctor/doctor
extra=()
if [[ "$fixture" == image=* ]]; then
  image=${fixture#image=}
  fixture=$1
  shift
  while [[ $# -gt 0 && "$1" == --* ]]; do  # doctor options (e.g. --load_addr)
    extra+=("$1")
    shift
  done
else
  image=$(find -L test/doctor -name "fixture_$fixture" -type f | head -1)
fi
[ -n "$image" ] && [ -r "$image" ] || { echo "doctor_test: FAIL: no image for $fixture in the runfiles"; exit 1; }
out=$("$doctor" --image "$image" --timeout 20 "${extra[@]}" 2>&1)
rc=$?
echo "$out"
fail=0
if [ "$fixture" = correct ]; then
  [ "$rc" = 0 ] || { echo "doctor_test: FAIL: exit $rc for the correct kernel (want 0)"; fail=1; }
  grep -q "^doctor: no problem found" <<<"$out" || { echo "doctor_test: FAIL: a false alarm on the correct kernel"; fail=1; }
else
  [ "$rc" = 3 ] || { echo "doctor_test: FAIL: exit $rc (want 3: problems found)"; fail=1; }
fi
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
