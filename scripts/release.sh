#!/usr/bin/env bash
# release.sh [CRATE...]: static, size-optimised binaries of hull and
# hull-bridge (and any CRATE given) in target/static/.
#
# musl when the toolchain has (or can add) the x86_64-unknown-linux-musl
# target: a musl static binary starts in half the time of a glibc static one
# (glibc's start-up probes the CPU with cpuid, and every cpuid traps to the
# hypervisor on a VM: docs/benchmarks.md). Otherwise glibc, static.
set -euo pipefail
cd "$(dirname "$0")/.."
musl=x86_64-unknown-linux-musl
gnu=x86_64-unknown-linux-gnu
target=$gnu
if rustup target list --installed 2>/dev/null | grep -qx "$musl" ||
    timeout 120 rustup target add "$musl" >/dev/null 2>&1; then
    target=$musl
fi
# `hull --version` prints it on its `commit:` line (Docker reads it).
HULL_COMMIT=${HULL_COMMIT:-$(git describe --always --dirty 2>/dev/null || true)}
export HULL_COMMIT
crates=(-p hull -p hull-bridge)
for c in "$@"; do crates+=(-p "$c"); done
# An explicit --target keeps crt-static off the build scripts and
# proc-macros; musl targets link statically already.
if [ "$target" = "$gnu" ]; then
    RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release "${crates[@]}" --target "$target"
else
    cargo build -q --release "${crates[@]}" --target "$target"
fi
mkdir -p target/static
for c in hull hull-bridge "$@"; do
    cp "target/$target/release/$c" "target/static/$c.tmp" && mv "target/static/$c.tmp" "target/static/$c"
done
echo "$target" >target/static/TARGET
echo "release: static $target binaries in target/static/"
