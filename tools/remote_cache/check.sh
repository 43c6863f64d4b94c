#!/bin/bash
# check.sh — proves --config=remote-cache works against a real server (CI
# runs it): Debian's nginx with WebDAV on a loopback port, then two clean
# builds of the same targets in two different output bases; the second
# must be served from the cache (Bazel's "remote cache hit" count) with
# nothing compiled locally.
#
# nginx is taken from Debian's package without installing it (apt-get
# download, dpkg-deb -x: its maintainer scripts would start a system
# service on port 80), into ~/.cache/keel/nginx.
set -euo pipefail
cd "$(dirname "$0")/../.."
targets=(//kernel/lib:lib //kernel/arch/arm64:arm64 //kernel/object:object)

nginx_root="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/keel/nginx"
nginx="$nginx_root/usr/sbin/nginx"
if [[ ! -x "$nginx" ]]; then
  mkdir -p "$nginx_root"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  # (apt's package lists may be empty on a machine that installed nothing yet)
  (cd "$nginx_root" && { apt-get download nginx >/dev/null 2>&1 ||
    { "${sudo[@]}" apt-get update -qq >/dev/null && apt-get download nginx >/dev/null 2>&1; }; } &&
    dpkg-deb -x nginx_*.deb . && rm -f nginx_*.deb) || {
    echo "remote_cache: could not fetch Debian's nginx package" >&2
    exit 1
  }
fi
"$nginx" -V 2>&1 | grep -q -- --with-http_dav_module || { echo "remote_cache: nginx lacks WebDAV" >&2; exit 1; }

work=$(mktemp -d)
cleanup() {
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  for base in "$work/base1" "$work/base2"; do
    [[ -d "$base" ]] && bazel --output_base="$base" shutdown >/dev/null 2>&1 || true
  done
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"  # (nginx workers run as another user when started as root)
mkdir -p "$work/cache" "$work/tmp"
chmod 777 "$work/cache" "$work/tmp"
# A free loopback port: try a few at random until nginx can bind one.
for attempt in $(seq 1 20); do
  port=$((20000 + RANDOM % 30000))
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue  # something listens there
  cat >"$work/nginx.conf" <<CONF
daemon on;
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port;
    location / {
      root $work/cache;
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 0;
    }
  }
}
CONF
  "$nginx" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" 2>/dev/null && break
  [[ $attempt -eq 20 ]] && { echo "remote_cache: nginx did not start:" >&2; cat "$work/error.log" >&2; exit 1; }
done
echo "remote_cache: nginx (WebDAV) on 127.0.0.1:$port"

build() {
  bazel --output_base="$1" build --config=remote-cache --remote_cache="http://127.0.0.1:$port" \
    "${targets[@]}" 2>&1 | tee "$work/$2.log" | grep -E "processes|ERROR" || true
}
build "$work/base1" first
build "$work/base2" second
hits=$(grep -oE '[0-9]+ remote cache hit' "$work/second.log" | grep -oE '^[0-9]+' || echo 0)
local_runs=0
for n in $(grep -oE '[0-9]+ (linux-sandbox|local|processwrapper-sandbox)' "$work/second.log" | grep -oE '^[0-9]+'); do
  local_runs=$((local_runs + n))
done
echo "remote_cache: second clean build: $hits remote cache hits, $local_runs actions run locally"
if [[ "$hits" -gt 0 && "$local_runs" -eq 0 ]]; then
  echo "remote_cache: PASS"
else
  echo "remote_cache: FAIL: the second build was not served from the cache" >&2
  exit 1
fi
