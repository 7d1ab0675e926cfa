# hull: build, test, demo and benchmark entry points.
# `make test` is what CI runs (.ci/run installs the Debian packages first).

CARGO ?= cargo
HULL := target/debug/hull
PROBE := target/probe/hull-probe
CGROUP2_VM ?= ../shared/tools/cgroup2-vm
export HULL_RUNTIME ?= $(CURDIR)/$(HULL)
export HULL_PROBE ?= $(CURDIR)/$(PROBE)

.PHONY: all build release probe deps deps-demo test lint unit conformance conformance-release clients test-v2 demo bench clean

all: build

build:
	$(CARGO) build --workspace --bins

# The binaries to install: static (no dynamic loader, no libc.so mapped:
# faster to start and under 3 MiB of RSS), size-optimised (Cargo.toml), with
# musl where the toolchain has it (scripts/release.sh says why), in
# target/static/.
release:
	bash scripts/release.sh

# The probe runs inside busybox root filesystems: link it statically.
probe:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build -p hull-probe \
	    --target x86_64-unknown-linux-gnu --target-dir target/probe-build
	mkdir -p target/probe
	cp target/probe-build/x86_64-unknown-linux-gnu/debug/hull-probe $(PROBE)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: build
	$(CARGO) test --workspace --exclude hull-conformance

conformance: build probe
	$(CARGO) test -p hull-conformance

# The same suite against the static release binary (musl where available),
# the one `make release` and `make bench` give.
conformance-release: release probe
	HULL_RUNTIME=$(CURDIR)/target/static/hull $(CARGO) test -p hull-conformance

# cgroup v2 suite: one VM boot runs every v2 test (crate checks and hull).
test-v2: build
	bash tests/v2/run-in-vm.sh

# containerd and podman driving hull, as in production (tests/clients/README.md).
clients: build
	bash tests/clients/run.sh

# Debian packages, installed only when missing (a fresh machine).
deps:
	bash scripts/deps.sh test
deps-demo:
	bash scripts/deps.sh demo

test: deps
	$(MAKE) lint unit conformance conformance-release clients test-v2 demo

demo: deps-demo build
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh

clean:
	$(CARGO) clean
