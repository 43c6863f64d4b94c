#!/bin/bash
# Runs the QEMU command the README documents, exactly as written there
# (the line "It boots with `qemu-system-aarch64 ...`"), from a directory
# whose bazel-bin/image.bin is the built image, and passes once the system
# prints its ready line. Fails if the README has no such line, if QEMU
# refuses the command (e.g. a ROM a default device needs is missing), or
# if keel is not ready within the time limit.
set -euo pipefail
readme=README.md
image=image.bin
cmd=$(grep -o 'It boots with `qemu-system-aarch64[^`]*`' "$readme" | head -1 | sed 's/^It boots with `\(.*\)`$/\1/')
if [[ -z "$cmd" ]]; then
  echo "readme_qemu_command: no 'It boots with \`qemu-system-aarch64 ...\`' line in $readme" >&2
  exit 1
fi
echo "readme_qemu_command: $cmd"
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/bazel-bin"
ln -s "$PWD/$image" "$work/bazel-bin/image.bin"
(cd "$work" && exec bash -c "exec $cmd" </dev/null >"$work/log" 2>&1) &
pid=$!
for _ in $(seq 1 300); do
  if grep -aq "^keel ready: " "$work/log"; then
    grep -a "^keel ready: " "$work/log"
    echo "readme_qemu_command: PASS"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
echo "readme_qemu_command: FAIL: no ready line; QEMU said:" >&2
tail -20 "$work/log" >&2
exit 1
