#!/bin/bash
# bazel run //:bench_net_linux — TCP into the guest, keel beside Linux, on
# the same QEMU (virt, cortex-a72, 1 CPU, 512 MiB, TCG without -icount:
# wall time) and the same network: virtio-net-device on QEMU user
# networking with restrict=on and one forward bound to 127.0.0.1. The host
# sends 64 MiB to the guest's TCP discard port and times it (net_client
# tcp_sink), three times each, alternating:
#   keel   servers/net + servers/netstack (lwIP) + user/net/echo's discard
#   Linux  Debian's arm64 cloud kernel (6.1) with busybox: nc -l -p 9 > /dev/null
# Wall time on a shared machine: compare within one run. The Linux guest
# comes from bazel run //:bench_disk's cache (${KEEL_CACHE:-~/.cache/keel}/
# linux-arm64: Debian's packages fetched with apt-get download; run that
# first, it says what it needs).
set -euo pipefail
client=$PWD/test/net/net_client
cache=${KEEL_CACHE:-$HOME/.cache/keel}/linux-arm64
[[ -f $cache/vmlinuz && -d $cache/k ]] || {
  echo "bench_net_linux: no Linux guest in $cache: run 'bazel run //:bench_disk' once (it fetches Debian's)" >&2
  exit 1
}
command -v cpio >/dev/null || { echo "bench_net_linux: needs cpio (sudo apt-get install cpio)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The Linux guest's initramfs for the network: busybox, the virtio and
# virtio-net modules, the user network's address, nc as the sink.
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,mod}
cp "$cache/bb/bin/busybox" "$root/bin/busybox"
mods=$(ls -d "$cache"/k/lib/modules/*)/kernel
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_mmio net/core/failover \
  drivers/net/net_failover drivers/net/virtio_net; do
  cp "$mods/$m.ko" "$root/mod/"
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_mmio failover net_failover virtio_net; do insmod /mod/$m.ko; done
i=0
while [ ! -d /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "LINUX NET READY"
while true; do nc -l -p 9 > /dev/null; done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")

qemu=(qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 1 -m 512M -display none -serial stdio -monitor none
  -no-reboot -nic none -global virtio-mmio.force-legacy=false)
port=$((20000 + RANDOM % 30000))
net=(-netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:9" -device virtio-net-device,netdev=net0,bus=virtio-mmio-bus.8)

# One guest, up until READY, then the transfer; prints its MiB/s.
measure() {  # NAME READY-REGEX QEMU-ARGS...
  local name=$1 ready=$2 pid i
  shift 2
  "${qemu[@]}" "${net[@]}" "$@" < /dev/null > "$work/$name.log" 2>&1 &
  pid=$!
  for ((i = 0; i < 600; i++)); do
    grep -qE "$ready" "$work/$name.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 0.5
  local line
  line=$("$client" tcp_sink "$port" 64 2>&1 | grep '^net_tcp_mbps' || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ -n $line ]] || { cat "$work/$name.log" >&2; echo "bench_net_linux: $name's transfer failed" >&2; exit 1; }
  echo "$name $line"
}
for run in 1 2 3; do
  measure keel '^echo: TCP' -kernel image.bin -append keel.net=1
  measure linux '^LINUX NET READY' -kernel "$cache/vmlinuz" -initrd "$work/initrd.gz" -append "console=ttyAMA0 quiet"
done | tee "$work/all.txt"
k=$(awk '$1 == "keel" { s += $3; n++ } END { printf "%.2f", s / n }' "$work/all.txt")
l=$(awk '$1 == "linux" { s += $3; n++ } END { printf "%.2f", s / n }' "$work/all.txt")
echo "TCP into the guest, 64 MiB, mean of 3: keel $k MiB/s, Linux $l MiB/s: $(awk -v k="$k" -v l="$l" 'BEGIN { printf "%.2f", k / l }')x"
