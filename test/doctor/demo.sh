#!/bin/bash
# bazel run //test/doctor:demo -- FIXTURE [doctor options]: the doctor on one
# of the fixture kernels (correct, idmap_gap, pc_phys, uart_phys, vbar_unset,
# tg1_reserved, ttbr_same, mair_uart_normal, table_not_at_ttbr,
# stack_unmapped) — what docs/doctor.md shows.
set -euo pipefail
cd "${RUNFILES_DIR:-$0.runfiles}/keel"
name=${1:-}
image=$(find -L test/doctor -name "fixture_$name" -type f 2>/dev/null | head -1)
if [ -z "$name" ] || [ -z "$image" ]; then
  echo "usage: bazel run //test/doctor:demo -- FIXTURE [doctor options]; fixtures:" >&2
  find -L test/doctor -name 'fixture_*' -type f | sed 's|.*/fixture_|  |' | sort >&2
  exit 2
fi
shift
exec tools/doctor/doctor --image "$image" "$@"
