#!/usr/bin/env bash
# bench_cni.sh WORKDIR HULL_BRIDGE OUTDIR: ADD + DEL of one container on a
# bridge network, hull-bridge (built-in IPAM) against Debian's reference
# `bridge` + `host-local`, same options, interleaved by
# scripts/interleave.py. Runs in a private "host" network namespace
# (unshare), so no bridge, rule or sysctl
# reaches the real host; everything goes with that namespace.
set -euo pipefail
work=$1 bridge_bin=$2 out=$3
ref=/usr/lib/cni
[ -x "$ref/bridge" ] && [ -x "$ref/host-local" ] || {
    echo "bench_cni: $ref/bridge and host-local missing (containernetworking-plugins)" >&2
    exit 1
}
mkdir -p "$work/bin"
ln -sf "$bridge_bin" "$work/bin/hull-bridge"
conf() { # TYPE BRIDGE SUBNET IPAM-JSON
    cat <<JSON
{"cniVersion": "1.0.0", "name": "bench-$1", "type": "$1", "bridge": "$2",
 "isGateway": true, "ipMasq": true, "ipam": $4}
JSON
}
conf hull-bridge hbench0 10.123.1.0/24 \
    "{\"subnet\": \"10.123.1.0/24\", \"dataDir\": \"$work/leases\"}" >"$work/hull.json"
conf bridge rbench0 10.123.2.0/24 \
    "{\"type\": \"host-local\", \"subnet\": \"10.123.2.0/24\", \"dataDir\": \"$work/leases\"}" >"$work/ref.json"
# One cycle: ADD then DEL of container "b" with netns $work/ctr.
cat >"$work/cycle.sh" <<'SH'
export CNI_CONTAINERID=b CNI_NETNS=$NETNS CNI_IFNAME=eth0 CNI_PATH=$CNI_BIN
CNI_COMMAND=ADD "$PLUGIN" <"$CONF" >/dev/null || exit 1
CNI_COMMAND=DEL "$PLUGIN" <"$CONF" >/dev/null || exit 1
SH
# Inside the private host namespace: a container namespace held by a sleeper
# and bind-mounted on a file (unmounted at the end), then the timing.
cat >"$work/inner.sh" <<'SH'
set -e
ip link set lo up
touch "$W/ctr"
unshare --net=$W/ctr true
trap 'umount "$W/ctr" 2>/dev/null || true' EXIT
run() { # PLUGIN CONF
    echo "NETNS=$W/ctr CNI_BIN=$W/bin:/usr/lib/cni PLUGIN=$1 CONF=$2 bash $W/cycle.sh"
}
python3 "$REPO/scripts/interleave.py" "$OUT/cni_add_del.json" "${RUNS:-50}" 3 \
    hull-bridge "env $(run "$W/bin/hull-bridge" "$W/hull.json")" \
    reference "env $(run /usr/lib/cni/bridge "$W/ref.json")"
SH
REPO=$(cd "$(dirname "$0")/.." && pwd) W=$work OUT=$out RUNS=${BENCH_RUNS:-50} unshare --net --mount --propagation private bash "$work/inner.sh"
