#!/usr/bin/env bash
# seam bench --netns's netem path, which this machine's kernel cannot run (no sch_netem): a guest
# booted from Debian's stock kernel (tools/netem_vm.sh, on this machine's own files over 9p) runs
# tests/netns.sh on a tiny fixture, and that must find netem and shape with it: the round trip
# shows, 10% loss makes TCP retransmit (a tiny model's steps are few packets). Where the CPU offers no virtualisation the guest is
# emulated (QEMU TCG), which the tiny model keeps to about 2 minutes. Root only; skipped with the
# reason where the guest's packages cannot be had.
set -u
cd "$(dirname "$0")/.."
B=${SEAM_BUILD:-build}
if [ "$(id -u)" -ne 0 ]; then
    echo "netem: skipped: the guest's 9p root and tc need root"
    exit 77
fi
for p in qemu-system-x86 linux-image-amd64 busybox-static cpio; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        { echo "netem: skipped: $p is not installed (make deps installs it)"; exit 77; }
done
. tests/check.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
timeout 540 tools/netem_vm.sh -- env SEAM_BUILD="$B" SEAM_MODEL="$B/fixtures/tiny-llama-q8_0.gguf" CUT=1 \
    PLAN=0 LOSS=10% NETNS_EXPECT=netem bash tests/netns.sh > "$TMP/out.log" 2> "$TMP/err.log"
rc=$?
sed -n 's/^  \(ok\|FAIL\) *\(.*\)/    in the guest: \1 \2/p' "$TMP/out.log"
check "tests/netns.sh under Debian's kernel, shaped by netem" $rc \
    "exit $rc; $(grep -m1 -o 'guest up, kernel [^:]*' "$TMP/out.log")"
[ $rc -eq 0 ] || { tail -5 "$TMP/err.log"; tail -20 "$TMP/out.log"; }
[ $fail -eq 0 ] && echo "netem: all passed" || echo "netem: FAILED"
exit $fail
