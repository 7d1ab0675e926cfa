#!/usr/bin/env bash
# deps.sh demo|test: installs the Debian packages `make demo` or `make test`
# needs, if any is missing (apt-get update first). A no-op when all are
# there, as after .ci/run's own install.
set -euo pipefail
case ${1:-test} in
demo) pkgs="busybox-static iproute2 nftables util-linux python3" ;;
test) pkgs="busybox-static runc iproute2 nftables iptables procps qemu-system-x86
           linux-image-amd64 xz-utils containernetworking-plugins util-linux python3
           containerd podman conmon" ;;
*) echo "usage: deps.sh demo|test" >&2; exit 2 ;;
esac
missing=()
for p in $pkgs; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
