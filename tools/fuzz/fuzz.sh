#!/bin/bash
# bazel run //:fuzz -- [--smp N] [--calls M] [--seed S] [--minutes T] [--check_every K] [runner options]
#
# Boots the SMP syscall fuzzer (user/tests/smp_fuzz.cc, invariant checker on)
# in QEMU. --calls, --seed and --minutes reach the guest as boot arguments
# (/chosen/bootargs); without --seed the guest picks one from its clock and
# prints it ("smp_fuzz: seed 0x..."): pass it back with --seed to replay.
# --check_every K: the kernel checks its invariants after every Kth call
# (default 1: every call) — more calls per minute for long runs.
# Every other option is the QEMU runner's (bazel run //:qemu -- --help);
# the defaults are 4 CPUs, GICv3, the "max" CPU model and 1 GiB.
set -euo pipefail
boot=()
runner=(--smp=4 --gic=3 --cpu=max --mem=1G)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --calls | --seed | --minutes)
      [[ $# -ge 2 ]] || { echo "fuzz: $1 needs a value" >&2; exit 2; }
      boot+=("${1#--}=$2"); shift 2 ;;
    --calls=* | --seed=* | --minutes=*) boot+=("${1#--}"); shift ;;
    --check_every)
      [[ $# -ge 2 ]] || { echo "fuzz: $1 needs a value" >&2; exit 2; }
      boot+=("keel.check_every=$2"); shift 2 ;;
    --check_every=*) boot+=("keel.${1#--}"); shift ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) runner+=("$1"); shift ;;
  esac
done
minutes=0
for b in "${boot[@]}"; do [[ $b == minutes=* ]] && minutes=${b#minutes=}; done
timeout=$(( minutes > 0 ? minutes * 60 + 120 : 3600 ))
exec ./fuzz_runner.sh "--timeout=$timeout" --append="${boot[*]}" "${runner[@]}"
