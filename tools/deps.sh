#!/usr/bin/env bash
# Installs the Debian packages seam builds and tests with, only those that are missing; safe to
# run again. `deps.sh build`: what `make all` and `make demo` need (the compiler, the libraries,
# the venv's Python); `deps.sh` or `deps.sh test` (`make deps`, `make test`): also what the tests
# start for real (Prometheus, Chromium, tcpdump, network namespaces' tools, the netem guest).
set -euo pipefail
what=${1:-test}
case $what in build | test) ;; *) echo "deps: '$what' is not build or test" >&2; exit 2 ;; esac
pkgs=(build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libcjson-dev
      libcmocka-dev libsodium-dev python3 python3-venv help2man libmicrohttpd-dev
      libnetfilter-queue-dev)
vm_pkgs=()
if [ "$what" = test ]; then
    pkgs+=(clang libclang-rt-dev tcpdump g++ prometheus curl chromium iproute2 iptables ethtool)
    # tests/netem.sh's guest (tools/netem_vm.sh): a stock kernel with netem, booted by QEMU;
    # without their recommendations (firmware, GUI front ends): the guest has no devices
    vm_pkgs=(qemu-system-x86 linux-image-amd64 busybox-static cpio)
fi
missing=()
vm_missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for p in ${vm_pkgs[@]+"${vm_pkgs[@]}"}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || vm_missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && [ ${#vm_missing[@]} -eq 0 ]; then
    echo "deps: all Debian packages present"
    exit 0
fi
echo "deps: installing ${missing[*]} ${vm_missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
[ ${#missing[@]} -eq 0 ] || $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
[ ${#vm_missing[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${vm_missing[@]}" >/dev/null
echo "deps: done"
