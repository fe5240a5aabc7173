#!/usr/bin/env bash
# Runs a command under Debian's stock kernel, which has tc netem, where this machine's kernel has
# none (seam bench --netns then falls back to tbf + an NFQUEUE delay line). A KVM guest boots
# Debian's linux-image-amd64 with a small busybox initramfs whose only work is to mount this
# machine's / over virtio-9p and switch to it: the guest runs the same files, binaries and models,
# as root, in the current directory, and what it writes lands here. The guest has no network card
# (loopback and the namespaces seam bench makes are all it has).
#
#   tools/netem_vm.sh -- bash tests/netns.sh
#   tools/netem_vm.sh -- env NETNS=1 bash bench/sweep_partition.sh
#   CPUS=2 MEM=6G tools/netem_vm.sh -- build/seam bench --netns -l 100mbit,20ms --cuts 8 -o md
#
# Needs root and the Debian packages qemu-system-x86, linux-image-amd64, busybox-static and
# cpio (installed when missing). Exit status: the command's; 3 when the guest did not
# come up or report back (its console is in build/netem-vm/console.log).
set -euo pipefail
usage() {
    sed -n '2,16s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}
[ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && usage 0
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "netem_vm: no command; see --help" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "netem_vm: needs root (the guest's 9p root passes file owners through)" >&2; exit 2; }

pkgs=(qemu-system-x86 linux-image-amd64 busybox-static cpio)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "netem_vm: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# the newest installed Debian kernel (the one with its modules here)
KVER=$(ls /lib/modules | grep -E -- '-amd64$' | sort -V | tail -1)
[ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] || { echo "netem_vm: no Debian kernel in /boot" >&2; exit 2; }
modinfo -k "$KVER" -n sch_netem >/dev/null || { echo "netem_vm: $KVER has no sch_netem module" >&2; exit 2; }

DIR=$(pwd)/build/netem-vm
mkdir -p "$DIR"
STAMP=$DIR/initrd-$KVER.cpio.gz
if [ ! -s "$STAMP" ]; then
    t=$(mktemp -d)
    mkdir -p "$t/bin" "$t/mods" "$t/proc" "$t/sys" "$t/dev" "$t/newroot"
    cp /bin/busybox "$t/bin/busybox"
    n=0
    # the modules a 9p root needs, in the order modprobe would load them
    while read -r _ ko _; do
        grep -qx "$ko" "$t/order" 2>/dev/null && continue
        n=$((n + 1))
        cp "$ko" "$t/mods/$(printf %02d $n)-$(basename "$ko")"
        echo "$ko" >>"$t/order"
    done < <(modprobe -S "$KVER" -a --show-depends virtio_pci 9pnet_virtio 9p | grep '^insmod')
    # the kernel hands init the command line's seam_guest=PATH as $seam_guest
    cat >"$t/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for m in /mods/*.ko; do /bin/busybox insmod "$m" || echo "initrd: insmod $m failed"; done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,cache=loose hostroot /newroot ||
    { echo "initrd: cannot mount the host's root"; /bin/busybox poweroff -f; }
/bin/busybox umount /proc /dev
exec /bin/busybox switch_root /newroot /bin/bash "$seam_guest"
EOF
    chmod +x "$t/init"
    (cd "$t" && rm -f order && find . | cpio -o -H newc --quiet | gzip -1) >"$STAMP.tmp"
    mv "$STAMP.tmp" "$STAMP"
    rm -rf "$t"
fi

# what the guest runs once it is on the host's root
rm -f "$DIR/rc"
printf '%q ' "$@" >"$DIR/cmd"
cat >"$DIR/guest.sh" <<EOF
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs run /run
mount -t tmpfs shm /dev/shm
# the guest's scratch space: a tmpfs of its own, but /tmp itself stays the host's, where the
# checkout may be (a clean clone in mktemp -d, as CI makes)
mkdir -p /run/tmp
export TMPDIR=/run/tmp
hostname netem-vm
modprobe -a sch_netem sch_tbf veth ip_tables iptable_raw iptable_mangle xt_statistic xt_NFQUEUE nfnetlink_queue
ip link set lo up
cd $(printf %q "$(pwd)")
echo "netem_vm: guest up, kernel \$(uname -r), \$(nproc) CPUs: running \$(cat $DIR/cmd)"
rc=0
bash -c "\$(cat $DIR/cmd)" </dev/null || rc=\$?
echo \$rc >$DIR/rc
sync
echo o >/proc/sysrq-trigger
sleep 10
EOF

CPUS=${CPUS:-$(nproc)}
MEM=${MEM:-6G}
# KVM where the CPU offers virtualisation (a nested guest without vmx/svm hangs at boot even
# though /dev/kvm answers); else QEMU's emulator, correct but 10-50x slower: timings taken in
# it are not this machine's
if [ -z "${ACCEL:-}" ]; then
    ACCEL=tcg
    [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && ACCEL=kvm
fi
case $ACCEL in
kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
tcg) ACCEL_ARGS=(-accel tcg,thread=multi -cpu max) ;;
*) echo "netem_vm: ACCEL=$ACCEL is not kvm or tcg" >&2; exit 2 ;;
esac
echo "netem_vm: booting $KVER ($ACCEL, $CPUS CPUs, $MEM) for: $*" >&2
# the console carries the command's output; the kernel's own messages stay quiet
qemu-system-x86_64 "${ACCEL_ARGS[@]}" -smp "$CPUS" -m "$MEM" -nodefaults -no-reboot \
    -display none -serial stdio -monitor none -nic none \
    -kernel "/boot/vmlinuz-$KVER" -initrd "$STAMP" \
    -append "console=ttyS0 quiet loglevel=1 panic=-1 seam_guest=$DIR/guest.sh" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,multidevs=remap,id=hostroot \
    </dev/null 2>&1 | tr -d '\r' | tee "$DIR/console.log" | grep -v '^\[ *[0-9.]*\] ' || true
[ -s "$DIR/rc" ] || { echo "netem_vm: the guest did not report back; its console: $DIR/console.log" >&2; exit 3; }
exit "$(cat "$DIR/rc")"
