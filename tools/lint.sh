#!/bin/bash
# lint.sh — the format and lint gate CI runs (./keel lint).
#   1. clang-format-16: every tracked C++ file must be formatted (.clang-format)
#   2. clang-tidy-16: every tracked .cc file, host and aarch64 alike, with the
#      compile commands Bazel really uses (tools/compile_commands), .clang-tidy
# Exits non-zero on any finding, naming the file.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t sources < <(git ls-files '*.cc' '*.h')
echo "lint: clang-format on ${#sources[@]} files"
if ! clang-format-16 --dry-run -Werror "${sources[@]}"; then
  echo "lint: FAILED: run clang-format-16 -i on the files above" >&2
  exit 1
fi

# Structural rules clang-tidy cannot express (docs/architecture.md):
#   a thread's state changes only through set_state (kernel/object/thread.h),
#   its CPU, ASID generation and designated Reply only through their setters;
#   registers are named, never indexed by number, outside the typed ABI views
#   (keel/abi.h) and the frame types.
bad=$(git grep -nE '(->|\.)state = ThreadState::' -- 'kernel/*.cc' 'kernel/*.h' ':!*_test.cc' ':!kernel/object/thread.h' || true)
# The fields a thread's fastpath-eligible word folds are written only
# through their setters (kernel/object/thread.h set_cpu and the others).
bad+=$(git grep -nE -- '->(cpu|ttbr0_gen|recv_reply|fault_pending) = ' -- 'kernel/*.cc' 'kernel/*.h' ':!*_test.cc' \
  ':!kernel/object/thread.h' || true)
bad+=$(git grep -nE '\bx\[[0-9]+\]' -- 'kernel/*.cc' 'kernel/*.h' ':!*_test.cc' ':!*_fuzz.cc' \
  ':!kernel/arch/arm64/kernel/frame.h' ':!kernel/arch/arm64/boot/phys_main.cc' || true)
if [[ -n "$bad" ]]; then
  echo "$bad" >&2
  echo "lint: FAILED: a thread state (or a field of its fastpath-eligible word) written outside its setter, or a register indexed by number" >&2
  exit 1
fi

echo "lint: generating compile_commands.json"
bazel build //... >/dev/null 2>&1 || { echo "lint: the build fails; fix it first" >&2; exit 1; }
bazel run //tools/compile_commands 2>/dev/null

mapfile -t units < <(git ls-files '*.cc')
echo "lint: clang-tidy on ${#units[@]} files"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! printf '%s\n' "${units[@]}" | xargs -P2 -n4 clang-tidy-16 -p . --quiet >"$log" 2>&1; then
  grep -E "(warning|error):" "$log" >&2 || cat "$log" >&2
  echo "lint: FAILED: clang-tidy findings above" >&2
  exit 1
fi
echo "lint: clean"
