#!/usr/bin/env bash
# make bench: hull against runc on the same busybox bundle, interleaved in one
# run (scripts/interleave.py). Writes docs/benchmarks.md and target/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in runc busybox-static time containernetworking-plugins iproute2 nftables iptables python3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
# hull, hull-bridge and the floor, static and built alike (scripts/release.sh).
bash scripts/release.sh hull-floor
FLOOR=$PWD/target/static/hull-floor
HULL=$PWD/target/static/hull
RUNC=$(command -v runc)
out=target/bench; mkdir -p "$out"
work=$(mktemp -d /tmp/hull-bench.XXXXXX)
cleanup() {
    for rt in "$HULL" "$RUNC"; do
        for id in $("$rt" --root "$work/root-$(basename "$rt")" list -q 2>/dev/null); do
            "$rt" --root "$work/root-$(basename "$rt")" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT
bash scripts/mkbundle.sh "$work/bundle" /bin/true >/dev/null
bash scripts/mkbundle.sh "$work/bundle-nonet" /bin/true >/dev/null
python3 - "$work/bundle-nonet/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
json.dump(c, open(p, "w"))
PY
bash scripts/mkbundle.sh "$work/bundle-sleep" sleep 600 >/dev/null
# Write back what the build and the bundles left in the page cache first:
# the runtimes' state files are on this disk too, and the first benchmark
# otherwise runs during that writeback (run_true came out 0.28 instead of
# 0.16 once).
sync
H="$HULL --root $work/root-hull"
R="$RUNC --root $work/root-runc"
runs=${BENCH_RUNS:-50}

# hf NAME [-S bash] -n LABEL CMD -n LABEL CMD...: the commands interleaved
# (scripts/interleave.py; hyperfine would run all rounds of one first).
hf() {
    local name=$1; shift
    # Each benchmark starts on a quiet machine: the kernel tears network
    # namespaces and cgroups down asynchronously, and the 50 concurrent
    # containers leave seconds of that behind for whatever runs next.
    sync; sleep 2
    local a=()
    while [ $# -gt 0 ]; do
        case $1 in
        -S) a=(--shell "${a[@]}"); shift 2 ;;
        -n) a+=("$2" "$3"); shift 3 ;;
        *) echo "hf: unexpected $1" >&2; return 2 ;;
        esac
    done
    python3 scripts/interleave.py "$out/$name.json" "$runs" 3 "${a[@]}"
}
echo "bench: run /bin/true"
hf run_true -n hull "$H run --bundle $work/bundle b1" -n runc "$R run --bundle $work/bundle b1"
echo "bench: run /bin/true without a network namespace"
hf run_true_nonet -n hull "$H run --bundle $work/bundle-nonet b2" -n runc "$R run --bundle $work/bundle-nonet b2"
echo "bench: create + start + wait + delete"
hf lifecycle -S bash \
    -n hull "$H create --bundle $work/bundle c1 && $H start c1 && while [ \"\$($H state c1 | grep -c stopped)\" = 0 ]; do :; done; $H delete c1" \
    -n runc "$R create --bundle $work/bundle c1 && $R start c1 && while [ \"\$($R state c1 | grep -c stopped)\" = 0 ]; do :; done; $R delete c1"
echo "bench: 50 concurrent runs"
runs=5 hf concurrent50 -S bash \
    -n hull "for i in \$(seq 50); do $H run --bundle $work/bundle p\$i & done; wait" \
    -n runc "for i in \$(seq 50); do $R run --bundle $work/bundle p\$i & done; wait"
echo "bench: exec /bin/true"
$H run -d --bundle "$work/bundle-sleep" s1
$R run -d --bundle "$work/bundle-sleep" s1
hf exec_true -n hull "$H exec s1 /bin/true" -n runc "$R exec s1 /bin/true"
echo "bench: the floor (the same namespaces, a fresh /proc, pivot_root and exec: crates/hull-floor)"
hf floor -n floor "$FLOOR $work/bundle/rootfs /bin/true" \
    -n hull "$H run --bundle $work/bundle f1"
echo "bench: CNI ADD + DEL, hull-bridge against the reference bridge + host-local"
bash scripts/bench_cni.sh "$work/cni" "$PWD/target/static/hull-bridge" "$out"
# Peak RSS of the runtime during `create` (the init is a fork of it).
# (time's report goes to a file: the init keeps the stdio it is given.)
rss() { /usr/bin/time -o "$work/rss" -f %M "$@" </dev/null >/dev/null 2>&1; tail -n 1 "$work/rss"; }
hull_rss=$(rss $H create --bundle "$work/bundle-sleep" m1)
runc_rss=$(rss $R create --bundle "$work/bundle-sleep" m1)
$H delete --force m1 >/dev/null 2>&1 || true
$R delete --force m1 >/dev/null 2>&1 || true
hull_size=$(stat -c %s "$HULL")
runc_size=$(stat -c %s "$RUNC")
python3 scripts/bench_report.py "$out" "$hull_rss" "$runc_rss" "$hull_size" "$runc_size" "$(cat target/static/TARGET)"
