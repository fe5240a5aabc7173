#!/usr/bin/env bash
# Installs the Debian packages seam builds and tests with, only those that are missing.
# Called by `make deps`; safe to run again.
set -euo pipefail
pkgs=(build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libcjson-dev
      libcmocka-dev libsodium-dev python3 python3-venv clang libclang-rt-dev tcpdump help2man
      g++ libmicrohttpd-dev prometheus curl chromium iproute2 iptables ethtool
      libnetfilter-queue-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all Debian packages present"
    exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "deps: done"
