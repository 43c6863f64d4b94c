#!/bin/bash
# fetch-lwip.sh — puts Debian 12's lwIP source package, unpacked with its
# Debian patches applied, at ${KEEL_CACHE:-~/.cache/keel}/lwip/src, where
# the @lwip Bazel repository (third_party/lwip/lwip.bzl) builds it from.
# Nothing of lwIP is in keel's tree. apt's own source download verifies
# the files against the signed Sources index; a private sources list and
# state directory keep the machine's apt configuration untouched, so it
# needs no root. Idempotent: quiet when the source is present.
set -euo pipefail

cache=${KEEL_CACHE:-${HOME:?}/.cache/keel}/lwip
[[ -f "$cache/src/src/include/lwip/init.h" ]] && exit 0

for tool in apt-get dpkg-source; do
  command -v "$tool" >/dev/null || { echo "keel: fetch-lwip needs $tool (dpkg-dev)" >&2; exit 1; }
done
echo "keel: fetching Debian's lwIP source package into $cache" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/keel-lwip.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
  >"$work/sources.list"
APT=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
  -o APT::Sandbox::User="$(id -un)")
apt-get "${APT[@]}" -qq update
(cd "$work/dl" && apt-get "${APT[@]}" -qq source --download-only lwip >/dev/null)
dsc=$(ls "$work"/dl/lwip_2.1.*.dsc 2>/dev/null | head -n1)
[[ -n "$dsc" ]] || { echo "keel: Debian's lwip source is not 2.1.x" >&2; exit 1; }
dpkg-source --no-check -x "$dsc" "$work/src" >/dev/null  # (apt checked the hashes)
mkdir -p "$cache"
rm -rf "$cache/src"
mv "$work/src" "$cache/src"
echo "keel: lwIP $(basename "$dsc" .dsc) ready" >&2
