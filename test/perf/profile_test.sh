#!/bin/bash
# The profiler (tools/profile) against the PMU: over the same bench window,
# the plugin's instruction count per round must equal the bench row that
# the guest's own PMU measured (two independent counters), the profile must
# name the functions the path runs, and bad input gets a clear error.
set -euo pipefail
profile() {
  tools/profile/profile --runner_tool=tools/qemu_runner/qemu_runner \
    --plugin_tool=tools/profile/keel_profile_plugin.so --bench_image=image_bench.bin --boot_image=image.bin "$@"
}
fail() { echo "profile_test: FAIL: $*"; exit 1; }
pmu=$(./bench_ipc.sh 2>&1 | tr -d '\r')
for row in null_syscall ipc_roundtrip_inter_as; do
  want=$(awk -v r="$row" '$1 == r && $3 == "instructions" { print $2 }' <<<"$pmu")
  [ -n "$want" ] || fail "no $row row from the bench"
  out=$(profile "$row") || fail "profile $row failed: $out"
  echo "$out" | head -4
  got=$(sed -n 's/^instructions: \([0-9]*\)\.[0-9] per iteration.*/\1/p' <<<"$out")
  [ -n "$got" ] || fail "no per-iteration count in the profile of $row"
  [ "$got" = "$want" ] || fail "$row: the plugin counts $got per round, the PMU $want"
  echo "profile_test: $row: plugin $got = PMU $want per round"
done
for fn in user_fastpath svc_entry svc_ipc return_to_user_current server_main; do
  grep -q "$fn" <<<"$out" || fail "the inter-AS profile does not name $fn"
done
# User code inlined into the bench's functions keeps its source file
# (sys::Endpoint::call is inlined: its stage is keel/sys.h).
grep -qE '^ +[0-9.]+ +[0-9.]+% +[0-9.]+ +user keel/sys.h$' <<<"$out" || fail "no user keel/sys.h stage in the profile"
for stage in kernel/arch/arm64/kernel/vectors.S kernel/core/ipc_fast.h; do
  grep -q "$stage" <<<"$out" || fail "no $stage stage in the profile"
done
if bad=$(profile no_such_scenario 2>&1); then fail "an unknown scenario was accepted"; fi
grep -q "neither a scenario nor a readable image" <<<"$bad" || fail "unclear error for a bad scenario: $bad"
if bad=$(profile null_syscall --from no_such_symbol 2>&1); then fail "an unknown symbol was accepted"; fi
grep -q "no symbol 'no_such_symbol'" <<<"$bad" || fail "unclear error for a bad symbol: $bad"
echo "profile_test: PASS"
