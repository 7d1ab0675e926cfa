#!/usr/bin/env bash
# The whole cgroup v2 suite in ONE VM boot (each boot costs seconds under
# emulation): the hull-cgroups crate's v2 checks, then hull itself.
# Binaries are built on the host first; the VM sees the host's files.
set -euo pipefail
cd "$(dirname "$0")/../.."
vm=${CGROUP2_VM:-../shared/tools/cgroup2-vm}
cargo build -q -p hull -p hull-cgroups --example v2_check
export HULL=$PWD/target/debug/hull
"$vm" --timeout 900 -- bash -c '
    rc=0
    ./target/debug/examples/v2_check || rc=1
    bash tests/v2/hull-v2.sh || rc=1
    exit $rc'
