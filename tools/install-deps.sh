#!/bin/bash
# install-deps.sh — installs the Debian 12 packages keel's build, boot and
# tests use, and only those that are missing, then Debian's lwIP source
# (tools/fetch-lwip.sh) and arm64 Linux kernel (tools/fetch-linux-arm64.sh:
# the doctor's tests boot it). Idempotent; quiet when
# everything is present. Needs root (or sudo) only when it installs.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap        # Bazel 4.2.3 (offline; see .bazelrc)
  bazel-platforms        # @platforms, as a local repository
  clang-16 lld-16 llvm-16  # cross and host compilers, ld.lld, llvm-objcopy/symbolizer
  libclang-rt-16-dev     # libFuzzer and the sanitizer runtimes (fuzz targets, --config=asan/ubsan)
  libabsl-dev            # Abseil for host tools
  libgtest-dev libgmock-dev  # GoogleTest for host unit tests
  qemu-system-arm        # qemu-system-aarch64
  u-boot-qemu            # a real bootloader for booti tests
  device-tree-compiler   # dtc: DTB test fixtures
  gdb-multiarch          # debugging the kernel through QEMU's gdbstub
  clang-format-16 clang-tidy-16  # format and lint checks (./keel lint)
  clangd-16              # editor support from compile_commands.json
  git                    # ./keel lint lists the tracked files
  libssl3 libpcre2-8-0   # what Debian's nginx binary links (tools/remote_cache/check.sh unpacks it, CI runs it)
  dpkg-dev xz-utils      # dpkg-source: unpacks Debian's lwIP source package (tools/fetch-lwip.sh)
  curl                   # the network tests fetch pages from keel's httpd (127.0.0.1 only)
  iproute2               # ss: the network tests pick free loopback ports (test/net/guest.sh)
)

# What is fetched from Debian besides packages (into ~/.cache/keel).
fetch() {
  "$(dirname "$0")/fetch-lwip.sh"           # lwIP's source, built by Bazel (@lwip)
  exec "$(dirname "$0")/fetch-linux-arm64.sh"  # a real kernel for the doctor's tests (@linux_arm64)
}

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  fetch
fi

echo "keel: installing missing Debian packages: ${missing[*]}" >&2
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    echo "keel: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "keel: packages installed" >&2
fetch
