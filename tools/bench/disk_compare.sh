#!/bin/bash
# bazel run //:bench_disk — block I/O throughput, keel beside Linux, on the
# same QEMU (virt, cortex-a72, 1 CPU, 512 MiB, TCG without -icount: wall
# time), the same raw image attached the same way (virtio-blk-device on
# virtio-mmio, modern transport):
#   keel   user/bench/blk_bench.cc through servers/blk: sequential 4 KiB reads
#          and writes at queue depth 1 and 32 (the asynchronous client API)
#   Linux  Debian's arm64 cloud kernel (6.1) with busybox: dd bs=4k
#          iflag=direct / oflag=direct on /dev/vda (queue depth 1; busybox has
#          nothing that keeps 32 in flight)
# Wall time on a shared machine: compare the ratio within one run, not the
# numbers across machines. The Linux guest is fetched once with apt-get
# download (Debian's arm64 packages; needs `dpkg --add-architecture arm64`,
# which this script does when it runs as root) into
# ${KEEL_CACHE:-~/.cache/keel}/linux-arm64; --no-linux skips it.
set -euo pipefail
requests=4000
linux=1
for a in "$@"; do
  case $a in
    --no-linux) linux=0 ;;
    *) echo "bench_disk: unknown argument '$a' (--no-linux)" >&2; exit 2 ;;
  esac
done
qemu=(qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 1 -m 512M -display none -serial stdio -monitor none
  -no-reboot -nic none -global virtio-mmio.force-legacy=false)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
disk=$work/disk.img
head -c $((16 << 20)) /dev/zero > "$disk"
drive=(-drive "if=none,format=raw,id=disk0,file=$disk" -device virtio-blk-device,drive=disk0,bus=virtio-mmio-bus.0)

# Runs a guest until its output has a line matching $1 (or it exits, or
# 180 s pass); the lines matching $2 go to stdout and to file $3.
run_until() {
  local done=$1 show=$2 out=$3 pid i
  shift 3
  "$@" < /dev/null > "$out.raw" 2>&1 &
  pid=$!
  for ((i = 0; i < 1800; i++)); do
    if grep -qE "$done" "$out.raw" || ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  tr -d '\r' < "$out.raw" | grep -E "$show" | tee "$out" || true
}

echo "== keel (servers/blk, user/bench/blk_bench.cc)"
keel_out=$work/keel.txt
run_until '^BLK BENCH DONE|^blk_bench: ' '^blk_throughput|^blk_bench: ' "$keel_out" \
  "${qemu[@]}" -kernel image_blk_bench.bin "${drive[@]}"
grep -q '^blk_throughput write qd32' "$keel_out" || { echo "bench_disk: keel's run did not finish" >&2; exit 1; }
[[ $linux == 1 ]] || exit 0

# ---- the Linux guest -----------------------------------------------------------
cache=${KEEL_CACHE:-$HOME/.cache/keel}/linux-arm64
if [[ ! -f $cache/initrd.gz ]]; then
  echo "== fetching Debian's arm64 cloud kernel and busybox-static into $cache"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [[ $(id -u) != 0 ]]; then
      echo "bench_disk: the Linux comparison needs Debian's arm64 packages: run 'sudo dpkg --add-architecture arm64 && sudo apt-get update' (or pass --no-linux)" >&2
      exit 1
    fi
    dpkg --add-architecture arm64
    apt-get update -q >/dev/null
  fi
  if ! command -v cpio >/dev/null; then
    [[ $(id -u) == 0 ]] || { echo "bench_disk: needs cpio for the Linux guest's initramfs: sudo apt-get install cpio (or pass --no-linux)" >&2; exit 1; }
    apt-get install -y -q cpio >/dev/null
  fi
  rm -rf "$cache" && mkdir -p "$cache/deb"
  pkg=$(apt-cache depends linux-image-cloud-arm64:arm64 | awk '/Depends: linux-image-6/ {print $2; exit}')
  [[ -n $pkg ]] || { echo "bench_disk: no linux-image-cloud-arm64 in the package lists (apt-get update?)" >&2; exit 1; }
  (cd "$cache/deb" && apt-get download -q "$pkg" busybox-static:arm64 >/dev/null 2>&1) ||
    { echo "bench_disk: apt-get download $pkg busybox-static:arm64 failed" >&2; exit 1; }
  dpkg-deb -x "$cache"/deb/linux-image-*.deb "$cache/k"
  dpkg-deb -x "$cache"/deb/busybox-static_*.deb "$cache/bb"
  root=$cache/root
  mkdir -p "$root"/{bin,dev,proc,sys,mod}
  cp "$cache/bb/bin/busybox" "$root/bin/busybox"
  for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_mmio drivers/block/virtio_blk; do
    cp "$cache"/k/lib/modules/*/kernel/$m.ko "$root/mod/"
  done
  # /init: the modules in dependency order, then dd at queue depth 1; the
  # elapsed time from /proc/uptime (10 ms steps, over runs of seconds).
  cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_mmio virtio_blk; do insmod /mod/$m.ko; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
n=$(cat /proc/cmdline | sed -n 's/.*keel.requests=\([0-9]*\).*/\1/p')
measure() {  # NAME DD-ARGS...
  name=$1; shift
  t0=$(cut -d' ' -f1 /proc/uptime | tr -d .)
  dd bs=4k count=$n "$@" 2>/dev/null
  t1=$(cut -d' ' -f1 /proc/uptime | tr -d .)
  cs=$((t1 - t0)); [ $cs -gt 0 ] || cs=1
  iops=$((n * 100 / cs))
  kbs=$((iops * 4096 / 1000))
  echo "linux_throughput $name qd1: $iops IOPS, $((kbs / 1000)).$(printf %02d $((kbs % 1000 / 10))) MB/s ($n requests in $((cs * 10)) ms)"
}
if [ -b /dev/vda ]; then
  measure read if=/dev/vda of=/dev/null iflag=direct
  measure write if=/dev/zero of=/dev/vda oflag=direct conv=notrunc
  echo "LINUX BENCH DONE"
else
  echo "linux_bench: no /dev/vda"
fi
poweroff -f
EOF
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$cache/initrd.gz")
  cp "$cache"/k/boot/vmlinuz-* "$cache/vmlinuz"
fi

echo "== Linux $(basename "$(ls -d "$cache"/k/lib/modules/*)") (busybox dd, O_DIRECT)"
linux_out=$work/linux.txt
run_until '^LINUX BENCH DONE|^linux_bench: ' '^linux_throughput|^linux_bench: ' "$linux_out" \
  "${qemu[@]}" -kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz" "${drive[@]}" \
  -append "console=ttyAMA0 quiet keel.requests=$requests"
grep -q '^linux_throughput write' "$linux_out" || { echo "bench_disk: Linux's run did not finish" >&2; exit 1; }

echo "== queue depth 1, keel / Linux"
for op in read write; do
  k=$(sed -n "s/^blk_throughput $op qd1: \([0-9]*\) IOPS.*/\1/p" "$keel_out")
  l=$(sed -n "s/^linux_throughput $op qd1: \([0-9]*\) IOPS.*/\1/p" "$linux_out")
  echo "$op: keel $k IOPS, Linux $l IOPS: $(awk -v k="$k" -v l="$l" 'BEGIN { printf "%.2f", k / l }')x"
done
