#!/usr/bin/env bash
# hull on a pure cgroup v2 host. Runs inside ../shared/tools/cgroup2-vm (see
# run-in-vm.sh); HULL is the binary built on the host.
set -u
HULL=${HULL:?HULL must point at the hull binary}
work=$(mktemp -d /tmp/hull-v2.XXXXXX)
root=$work/state
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
h() { "$HULL" --root "$root" "$@"; }
cleanup() {
    for id in $(h list -q 2>/dev/null); do h delete --force "$id" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT

bundle() { # dir, cgroupsPath, resources-json, args...
    local dir=$1 cg=$2 res=$3; shift 3
    mkdir -p "$dir/rootfs/bin"
    cp /bin/busybox "$dir/rootfs/bin/busybox"
    chroot "$dir/rootfs" /bin/busybox --install -s /bin
    rm -f "$dir/config.json"
    "$HULL" spec --bundle "$dir"
    python3 - "$dir/config.json" "$cg" "$res" "$@" <<'PY'
import json, sys
path, cg, res, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["root"]["readonly"] = False
c["linux"]["cgroupsPath"] = cg
c["linux"]["resources"].update(json.loads(res))
json.dump(c, open(path, "w"))
PY
}

# 1. Limits seen from inside the container.
bundle "$work/b1" /hull-v2/c1 '{"memory":{"limit":33554432},"pids":{"limit":16}}' \
    sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max'
out=$(h run --bundle "$work/b1" c1 2>&1)
check "memory.max and pids.max inside the container" [ "$(echo $out)" = "33554432 16" ]
check "run leaves no cgroup" [ ! -e /sys/fs/cgroup/hull-v2/c1 ]

# 2. A detached container: limits from outside, pause/resume, update, stats, delete.
bundle "$work/b2" /hull-v2/c2 '{"memory":{"limit":67108864},"cpu":{"quota":20000,"period":100000,"shares":1024}}' sleep 300
h run -d --bundle "$work/b2" c2
cg=/sys/fs/cgroup/hull-v2/c2
check "memory.max from outside" [ "$(cat $cg/memory.max 2>/dev/null)" = 67108864 ]
check "cpu.max from quota/period" [ "$(cat $cg/cpu.max 2>/dev/null)" = "20000 100000" ]
h pause c2
check "pause freezes the cgroup" [ "$(cat $cg/cgroup.freeze 2>/dev/null)" = 1 ]
check "state says paused" sh -c "'$HULL' --root '$root' state c2 | grep -q '\"paused\"'"
h resume c2
check "resume thaws" [ "$(cat $cg/cgroup.freeze 2>/dev/null)" = 0 ]
echo '{"memory":{"limit":50331648},"pids":{"limit":20}}' | h update --resources - c2
check "update changes memory.max" [ "$(cat $cg/memory.max 2>/dev/null)" = 50331648 ]
check "update changes pids.max" [ "$(cat $cg/pids.max 2>/dev/null)" = 20 ]
check "events --stats shows the limit" sh -c "'$HULL' --root '$root' events --stats c2 | grep -q 50331648"
check "ps lists the init" sh -c "'$HULL' --root '$root' ps --format json c2 | grep -q '[0-9]'"
h kill --all c2 KILL
h delete --force c2
check "delete removes the cgroup" [ ! -e $cg ]

# 3. The memory limit holds: an allocation past it is OOM-killed.
bundle "$work/b3" /hull-v2/c3 '{"memory":{"limit":16777216,"swap":16777216}}' \
    dd if=/dev/zero of=/dev/null bs=64M count=1
h run --bundle "$work/b3" c3 >/dev/null 2>&1
rc=$?
check "allocation past memory.max is OOM-killed (exit $rc)" [ "$rc" = 137 ]

# 4. A CPU quota of 20000/100000 holds a busy loop near 20% of one CPU.
bundle "$work/b4" /hull-v2/c4 '{"cpu":{"quota":20000,"period":100000}}' sh -c 'while :; do :; done'
h run -d --bundle "$work/b4" c4
cg=/sys/fs/cgroup/hull-v2/c4
u0=$(awk '/^usage_usec/ {print $2}' $cg/cpu.stat); t0=$(date +%s%N)
sleep 2
u1=$(awk '/^usage_usec/ {print $2}' $cg/cpu.stat); t1=$(date +%s%N)
thr=$(awk '/^nr_throttled/ {print $2}' $cg/cpu.stat)
pct=$(( (u1 - u0) * 100000 / ((t1 - t0) / 10) ))   # per mille of one CPU
check "busy loop throttled (nr_throttled=$thr)" [ "${thr:-0}" -gt 0 ]
check "busy loop held under 35% of a CPU (${pct} per mille)" [ "$pct" -lt 350 ]
h delete --force c4

# 5. events reports the OOM kill.
bundle "$work/b5" /hull-v2/c5 '{"memory":{"limit":16777216,"swap":16777216}}' sleep 300
h run -d --bundle "$work/b5" c5
h events --interval 200ms c5 > "$work/events.out" 2>/dev/null &
ev=$!
sleep 1
h exec c5 dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1
sleep 1
kill $ev 2>/dev/null; wait $ev 2>/dev/null
check "events reports the OOM kill" grep -q '"type":"oom"' "$work/events.out"
h delete --force c5

rmdir /sys/fs/cgroup/hull-v2 2>/dev/null
echo "hull-v2: $pass passed, $fail failed"
[ "$fail" = 0 ]
