#!/bin/bash
# fetch-linux-arm64.sh — puts Debian 12's arm64 Linux kernel Image at
# ${KEEL_CACHE:-~/.cache/keel}/linux-arm64/Image: a real kernel nobody
# here wrote, which the doctor's tests boot until it panics for want of a
# root file system (test/doctor, docs/doctor.md). The binary package
# (linux-image-*-cloud-arm64, the smallest flavour that boots on QEMU's
# virt machine) is downloaded by apt from Debian's signed index for the
# arm64 architecture, with a private sources list and state directory: the
# machine's apt configuration (and its architectures) stay untouched, and
# no root is needed. Idempotent: quiet when the Image is present.
set -euo pipefail

cache=${KEEL_CACHE:-${HOME:?}/.cache/keel}/linux-arm64
[[ -s "$cache/Image" && -s "$cache/VERSION" ]] && exit 0

for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "keel: fetch-linux-arm64 needs $tool" >&2; exit 1; }
done
echo "keel: fetching Debian's arm64 Linux kernel into $cache" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/keel-linux.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl" "$work/root" "$work/state"
touch "$work/state/status"
echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
  >"$work/sources.list"
APT=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::State::Status=$work/state/status" -o "Dir::Cache=$work/cache"
  -o Debug::NoLocking=1 -o APT::Architecture=arm64 -o "APT::Architectures::=arm64"
  -o APT::Sandbox::User="$(id -un)")
apt-get "${APT[@]}" -qq update
# The flavour's metapackage names the current ABI's package.
pkg=$(apt-cache "${APT[@]}" depends linux-image-cloud-arm64 |
  awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9.]+-[0-9]+-cloud-arm64$/ { print $2; exit }')
[[ -n "$pkg" ]] || { echo "keel: no linux-image-*-cloud-arm64 in Debian's index" >&2; exit 1; }
(cd "$work/dl" && apt-get "${APT[@]}" -qq download "$pkg:arm64" >/dev/null)
deb=$(ls "$work"/dl/*.deb | head -n1)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" --wildcards './boot/vmlinuz-*'
vmlinuz=$(ls "$work"/root/boot/vmlinuz-* | head -n1)
# Debian's arm64 vmlinuz is the Image, gzip-compressed (or, signed, as is).
if [[ $(head -c 2 "$vmlinuz" | od -An -tx1 | tr -d ' ') == 1f8b ]]; then
  gzip -dc "$vmlinuz" >"$work/Image"
else
  cp "$vmlinuz" "$work/Image"
fi
[[ $(dd if="$work/Image" bs=1 skip=56 count=4 2>/dev/null) == $'ARM\x64' ]] ||
  { echo "keel: $vmlinuz is not an arm64 Image (no ARM\\x64 magic at 0x38)" >&2; exit 1; }
mkdir -p "$cache"
mv "$work/Image" "$cache/Image"
basename "$deb" .deb >"$cache/VERSION"
echo "keel: Linux $(cat "$cache/VERSION") ready" >&2
