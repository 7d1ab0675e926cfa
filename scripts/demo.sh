#!/usr/bin/env bash
# make demo: build hull, make a busybox bundle, and run containers.
set -euo pipefail
cd "$(dirname "$0")/.."
HULL=${HULL:-$PWD/target/debug/hull}
work=$(mktemp -d /tmp/hull-demo.XXXXXX)
root="$work/state"
cleanup() {
    for id in $("$HULL" --root "$root" list -q 2>/dev/null); do
        "$HULL" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

if ! command -v busybox >/dev/null; then
    echo "demo: busybox-static is missing: apt-get install -y busybox-static" >&2
    exit 1
fi
bash scripts/mkbundle.sh "$work/bundle" sh -c 'echo "I am PID $$ in a container named $(hostname)"; ps'

echo "== hull run: PID 1 with its own hostname"
"$HULL" --root "$root" run --bundle "$work/bundle" demo1

echo "== hull create / start / state / delete"
bash scripts/mkbundle.sh "$work/bundle2" sleep 30
"$HULL" --root "$root" create --bundle "$work/bundle2" demo2
"$HULL" --root "$root" state demo2 | grep -E '"(id|status|pid)"'
"$HULL" --root "$root" start demo2
"$HULL" --root "$root" exec demo2 sh -c 'echo "exec joined: hostname $(hostname), processes:"; ps'
"$HULL" --root "$root" list
"$HULL" --root "$root" kill demo2 KILL
"$HULL" --root "$root" delete --force demo2
if [ -x scripts/demo-network.sh ]; then
    bash scripts/demo-network.sh
fi
echo "demo: done"
