#!/usr/bin/env bash
# demo-network.sh: docker0-style networking with hull alone. hull-bridge runs
# as OCI hooks (createRuntime: `hook add`, poststop: `hook del`) written into
# each container's config.json.
#
# Everything happens inside a private "host" network namespace, so the demo's
# bridges, nftables table and forwarding sysctl never touch the real host's
# network. Needs root, busybox-static, iproute2, nftables, util-linux.
set -euo pipefail
cd "$(dirname "$0")/.."
HULL=${HULL:-$PWD/target/debug/hull}
BRIDGE=${HULL_BRIDGE:-$PWD/target/debug/hull-bridge}
start=$(date +%s.%N)

for t in "$HULL" "$BRIDGE"; do
    [ -x "$t" ] || { echo "demo-network: $t is missing: cargo build -p hull -p hull-bridge" >&2; exit 1; }
done
for t in busybox ip nft nsenter python3; do
    command -v "$t" >/dev/null || { echo "demo-network: $t is missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/hull-netdemo.XXXXXX)
root="$work/state"
hostns=hull-demo-host-$$
outns=hull-demo-out-$$
ids=(web c2 c3)
failed=0
# `ip netns add` makes /run/netns a mount point the first time: undo that too.
netns_was_mounted=0
mountpoint -q /run/netns 2>/dev/null && netns_was_mounted=1

cleanup() {
    for id in "${ids[@]}"; do
        H "$HULL" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    ip netns del "$outns" 2>/dev/null || true
    # Bridges, veth host ends, the nftables table and sysctls all live in
    # this namespace and go with it.
    ip netns del "$hostns" 2>/dev/null || true
    if [ "$netns_was_mounted" = 0 ] && mountpoint -q /run/netns 2>/dev/null &&
        [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
        umount /run/netns 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# (busybox 1.35's `wget -T` crashes: timeouts come from `timeout`.)
# Run in the demo's host namespace. nsenter, not `ip netns exec`: the latter
# remounts /sys, which would hide /sys/fs/cgroup from hull.
H() { nsenter --net="/var/run/netns/$hostns" "$@"; }
X() { H "$HULL" --root "$root" exec "$@"; }

ok() { echo "  $1: ok"; }
fail() { echo "  $1: FAILED" >&2; failed=1; }
check() { # check LABEL CMD...: ok when CMD succeeds
    local label=$1; shift
    if "$@" >/dev/null 2>&1; then ok "$label"; else fail "$label"; fi
}
refuse() { # refuse LABEL CMD...: ok when CMD fails (a path that must be closed)
    local label=$1; shift
    if "$@" >/dev/null 2>&1; then fail "$label (it answered)"; else echo "  $label: blocked (ok)"; fi
}
retry() { # three tries, for a loaded machine
    "$@" || "$@" || "$@"
}

ip netns add "$hostns"
ip -n "$hostns" link set lo up

# A network config per container; a shared dataDir under the temp dir keeps
# the leases away from /var/lib/cni.
netconf() { # netconf FILE NETWORK BRIDGE SUBNET [PORTMAPPINGS-JSON]
    python3 - "$@" "$work/leases" <<'PY'
import json, sys
path, name, bridge, subnet, *rest = sys.argv[1:]
ports, data = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
plugin = {"type": "hull-bridge", "bridge": bridge, "isGateway": True,
          "isDefaultGateway": True, "ipMasq": True, "hairpinMode": True,
          "ipam": {"subnet": subnet, "dataDir": data}}
if ports:
    plugin["capabilities"] = {"portMappings": True}
    plugin["runtimeConfig"] = {"portMappings": json.loads(ports)}
json.dump({"cniVersion": "1.1.0", "name": name, "plugins": [plugin]}, open(path, "w"), indent=1)
PY
}

# bundle ID CONFIG ARGS...: a busybox bundle with the two hooks.
bundle() {
    local id=$1 conf=$2; shift 2
    bash scripts/mkbundle.sh "$work/$id" "$@" >/dev/null
    python3 - "$work/$id/config.json" "$BRIDGE" "$conf" "$id" <<'PY'
import json, sys
path, bridge, conf, id = sys.argv[1:]
c = json.load(open(path))
c["hostname"] = id
# ping needs CAP_NET_RAW (docker grants it by default; `hull spec` does not).
for k, caps in c["process"].get("capabilities", {}).items():
    if k != "ambient" and "CAP_NET_RAW" not in caps:
        caps.append("CAP_NET_RAW")
ns = c["linux"].setdefault("namespaces", [])
if not any(n["type"] == "network" for n in ns):
    ns.append({"type": "network"})
hook = lambda op: [{"path": bridge, "args": ["hull-bridge", "hook", op, "--config", conf]}]
c["hooks"] = {"createRuntime": hook("add"), "poststop": hook("del")}
json.dump(c, open(path, "w"), indent=1)
PY
}

echo "== networking: hull + hull-bridge hooks (in netns $hostns)"
netconf "$work/web.conflist" demo-a hdemo-a 10.77.1.0/24 \
    '[{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]'
netconf "$work/a.conflist" demo-a hdemo-a 10.77.1.0/24
netconf "$work/b.conflist" demo-b hdemo-b 10.77.2.0/24
bundle web "$work/web.conflist" httpd -f -p 80 -h /www
mkdir -p "$work/web/rootfs/www"
echo "hello from the web container" >"$work/web/rootfs/www/index.html"
bundle c2 "$work/a.conflist" sleep 300
bundle c3 "$work/b.conflist" sleep 300
for id in "${ids[@]}"; do
    H "$HULL" --root "$root" run -d --bundle "$work/$id" "$id" </dev/null >/dev/null 2>"$work/$id.err" ||
        { cat "$work/$id.err" >&2; echo "demo-network: hull run $id failed" >&2; exit 1; }
done

addr() { X "$1" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1; }
web=$(addr web); c2=$(addr c2); c3=$(addr c3)
echo "  web = $web, c2 = $c2 (bridge hdemo-a, 10.77.1.0/24); c3 = $c3 (bridge hdemo-b, 10.77.2.0/24)"
[ -n "$web" ] && [ -n "$c2" ] && [ -n "$c3" ] || { echo "demo-network: a container has no address" >&2; exit 1; }

# httpd starts in the background of `run -d`: wait for it (up to ~2 s).
for _ in $(seq 20); do
    H timeout 3 busybox wget -q -O /dev/null "http://$web/" 2>/dev/null && break
    sleep 0.1
done

echo "-- same bridge"
check "ping c2 -> web ($web)" retry X c2 ping -c1 -W1 "$web"
check "ping web -> c2 ($c2)" retry X web ping -c1 -W1 "$c2"
check "c2 fetches http://$web/ " retry X c2 timeout 3 wget -q -O /dev/null "http://$web/"
echo "-- host side"
page=$(H timeout 3 busybox wget -q -O - "http://$web/" 2>/dev/null || true)
if [ "$page" = "hello from the web container" ]; then ok "host fetches http://$web/ -> \"$page\""; else fail "host fetches http://$web/"; fi
check "host pings c3 ($c3) on bridge hdemo-b" retry H busybox ping -c1 -W1 "$c3"

echo "-- published port 8080 -> web:80"
# An "outside" machine: one more namespace on a veth to the host, 192.0.2.0/24.
ip netns add "$outns"
ip -n "$outns" link set lo up
ip -n "$hostns" link add hdemo-up type veth peer name eth0 netns "$outns"
ip -n "$hostns" addr add 192.0.2.1/24 dev hdemo-up
ip -n "$hostns" link set hdemo-up up
ip -n "$outns" addr add 192.0.2.2/24 dev eth0
ip -n "$outns" link set eth0 up
page=$(H timeout 3 busybox wget -q -O - "http://192.0.2.1:8080/" 2>/dev/null || true)
if [ -n "$page" ]; then ok "host fetches its own 192.0.2.1:8080"; else fail "host fetches its own 192.0.2.1:8080"; fi
page=$(ip netns exec "$outns" timeout 3 busybox wget -q -O - "http://192.0.2.1:8080/" 2>/dev/null || true)
if [ -n "$page" ]; then ok "outside client fetches 192.0.2.1:8080"; else fail "outside client fetches 192.0.2.1:8080"; fi
check "c2 fetches the gateway's 10.77.1.1:8080 (hairpin)" retry X c2 timeout 3 wget -q -O /dev/null "http://10.77.1.1:8080/"

echo "-- isolation between bridges"
check "c3 pings its own gateway 10.77.2.1" retry X c3 ping -c1 -W1 10.77.2.1
refuse "ping c3 -> web ($web)" X c3 ping -c1 -W1 "$web"
refuse "c3 fetches http://$web/" X c3 timeout 2 wget -q -O /dev/null "http://$web/"
refuse "ping web -> c3 ($c3)" X web ping -c1 -W1 "$c3"

echo "-- delete: poststop hooks release addresses and rules"
[ -z "${DEMO_PAUSE:-}" ] || { echo "paused: $root in $hostns"; sleep "$DEMO_PAUSE"; }
for id in "${ids[@]}"; do H "$HULL" --root "$root" delete --force "$id"; done
left=$(find "$work/leases" -type f -name '10.*' | wc -l)
rules=$(H nft -a list table inet hull-bridge 2>/dev/null | grep -c 'comment "demo-' || true)
if [ "$left" = 0 ]; then ok "no lease left"; else fail "$left lease(s) left"; fi
if [ "$rules" = 0 ]; then ok "no container nftables rule left"; else fail "$rules nftables rule(s) left"; fi
links=$(ip -n "$hostns" -o link show type veth | grep -c veth || true)
if [ "$links" = 0 ]; then ok "no container veth left"; else fail "$links veth(s) left"; fi

secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || python3 -c "print(round($(date +%s.%N) - $start, 1))")
if [ "$failed" = 0 ]; then
    printf 'networking demo: all checks passed in %.1f s\n' "$secs"
else
    echo "networking demo: some checks FAILED" >&2
    exit 1
fi
