#!/usr/bin/env bash
# tests/clients/run.sh: hull under real clients (issue #5).
#
#   sudo tests/clients/run.sh [containerd] [podman] [podman-cni] [cleanup] [k8s]
#
# Default: all parts. KEEP=1 keeps the temp dir (logs) for a look. Needs root, target/debug/hull (cargo build -p hull),
# and apt for containerd/podman/conmon/busybox-static if missing.
# Everything lives under one temp dir: containerd has its own config, socket,
# root and state; podman its own containers.conf, storage.conf, root, runroot,
# tmpdir and network dir. The system daemons are not touched. The runtime the
# clients see is tests/clients/hull-logged, which logs every invocation.
# Output: PASS/FAIL/INFO lines, the hull errors that made a client fail, the
# commands and flags the clients used, and a last line `N passed, N failed`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
HULL=${HULL:-$repo/target/debug/hull}
HULL=$(readlink -f "$HULL")
HULL_BRIDGE=$(readlink -f "${HULL_BRIDGE:-$repo/target/debug/hull-bridge}")
WRAP_SRC=$here/hull-logged
parts=${*:-containerd podman podman-cni cleanup k8s}

npass=0
nfail=0
failures=()
pass() { npass=$((npass + 1)); echo "PASS $*"; }
fail() { nfail=$((nfail + 1)); failures+=("$*"); echo "FAIL $*"; }
info() { echo "INFO $*"; }
# check NAME CMD...: PASS if CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root" >&2
	exit 2
fi
if [ ! -x "$HULL" ]; then
	echo "run.sh: $HULL missing: cargo build -p hull" >&2
	exit 2
fi

need=()
command -v busybox >/dev/null || need+=(busybox-static)
command -v containerd >/dev/null || need+=(containerd)
command -v podman >/dev/null || need+=(podman)
command -v conmon >/dev/null || need+=(conmon)
command -v script >/dev/null || need+=(bsdutils)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null || {
		echo "run.sh: apt-get install ${need[*]} failed" >&2
		exit 2
	}
fi

T=$(mktemp -d /tmp/hull-clients.XXXXXX)
# conmon (cgroup v1) writes an `oom` file into its working directory
cd "$T" || exit 2
export HULL_BIN=$HULL
export HULL_LOGGED_LOG=$T/invocations.log
: >"$HULL_LOGGED_LOG"
# podman and conmon run the runtime with a scrubbed environment: a copy of the
# wrapper with this run's hull and log file as its defaults.
mkdir -p "$T/bin"
WRAP=$T/bin/hull-logged
sed -e "s|^hull=.*|hull=\${HULL_BIN:-$HULL}|" -e "s|^log=.*|log=\${HULL_LOGGED_LOG:-$HULL_LOGGED_LOG}|" "$WRAP_SRC" >"$WRAP"
chmod 755 "$WRAP"
HULL_ROOT=$T/hull-root # for the suite's own direct hull calls
CTD_PID=
CTD_SOCK=$T/ctd/containerd.sock
NS=hulltest
IMG=docker.io/library/busybox:hull
PODMAN_IDS=()

# Host paths the clients create outside the temp dir (shim sockets, runc roots,
# netavark's IPAM db, podman's blob cache, hull's default root): removed at the
# end only if they did not exist before the suite.
HOST_DIRS="/run/containerd /run/containerd/s /run/containerd/fifo /run/containerd/runc /run/containerd/runc/$NS /run/hull /run/containers /run/containers/networks /var/lib/containers /var/lib/containers/cache /run/netns"
PREEXIST=
for d in $HOST_DIRS; do [ -e "$d" ] && PREEXIST+=" $d "; done
IP_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
NETAVARK_BEFORE=$( (iptables-save; ip6tables-save) 2>/dev/null | grep -c NETAVARK)
# /run/netns can exist without being the mount point netavark and CNI make it
NETNS_MOUNTED_BEFORE=0
mountpoint -q /run/netns 2>/dev/null && NETNS_MOUNTED_BEFORE=1
# iptables-nft (netavark's firewall driver) leaves its tables behind
NFT_TABLES_BEFORE=$(nft list tables 2>/dev/null)

# netavark adds iptables chains (NETAVARK*) for port mappings and never removes them
remove_netavark_rules() {
	local ipt t r c chains
	for ipt in iptables ip6tables; do
		command -v $ipt >/dev/null || continue
		for t in nat filter mangle; do
			$ipt -t $t -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j NETAVARK' | grep -vE '^-A NETAVARK' | sed 's/^-A/-D/' |
				while read -r r; do eval "$ipt -t $t $r" 2>/dev/null; done
			chains=$($ipt -t $t -S 2>/dev/null | awk '/^-N NETAVARK/ {print $2}')
			for c in $chains; do $ipt -t $t -F "$c" 2>/dev/null; done
			for c in $chains; do $ipt -t $t -X "$c" 2>/dev/null; done
		done
	done
}

cleanup() {
	set +e
	trap - EXIT INT TERM
	echo "--- cleanup"
	if [ -n "$CTD_PID" ] && kill -0 "$CTD_PID" 2>/dev/null; then
		for c in $(ctr --address "$CTD_SOCK" -n $NS containers ls -q 2>/dev/null); do
			timeout 10 ctr --address "$CTD_SOCK" -n $NS task kill -s SIGKILL "$c" >/dev/null 2>&1
			sleep 0.2
			timeout 10 ctr --address "$CTD_SOCK" -n $NS task delete -f "$c" >/dev/null 2>&1
			timeout 10 ctr --address "$CTD_SOCK" -n $NS containers delete "$c" >/dev/null 2>&1
		done
		kill "$CTD_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$CTD_PID" 2>/dev/null
	fi
	# shims started by our containerd (their sockets are in /run/containerd/s,
	# their command line names our address)
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTD_SOCK" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "${PODMAN_OK:-}" ]; then
		for c in "${PODMAN_IDS[@]}"; do
			timeout 20 "${PODMAN[@]}" rm -f -t 0 "$c" >/dev/null 2>&1
		done
		timeout 20 "${PODMAN[@]}" rm -a -f -t 0 >/dev/null 2>&1
		timeout 20 "${PODMAN[@]}" system reset -f >/dev/null 2>&1 || true
	fi
	for c in $("$HULL" --root "$HULL_ROOT" list -q 2>/dev/null); do
		"$HULL" --root "$HULL_ROOT" delete --force "$c" >/dev/null 2>&1
	done
	# cgroups of the kill test, if it was interrupted
	find /sys/fs/cgroup -maxdepth 4 -depth -type d -name "hull-kill-*-$$" -exec rmdir {} \; 2>/dev/null
	# cgroups our containers and conmon left (containerd namespace dir, podman's libpod_parent)
	for d in /sys/fs/cgroup/*/$NS /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/unified/$NS /sys/fs/cgroup/unified/libpod_parent; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	grep -F " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	cd / || true
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
	[ "$NETAVARK_BEFORE" = 0 ] && remove_netavark_rules
	# tables iptables-nft made during the run, once netavark's chains are gone
	nft list tables 2>/dev/null | while read -r _ fam name; do
		case $NFT_TABLES_BEFORE in *"table $fam $name"*) continue ;; esac
		case $name in nat | filter | mangle | raw) ;; *) continue ;; esac
		# only if no rule is left in it
		nft list table "$fam" "$name" 2>/dev/null | grep -qE '^\s+(iifname|oifname|ip |ip6 |meta |ct |counter|jump|goto|accept|drop|masquerade|dnat|snat)' ||
			nft delete table "$fam" "$name" 2>/dev/null
	done
	if [ "$NETNS_MOUNTED_BEFORE" = 0 ] && mountpoint -q /run/netns 2>/dev/null &&
		[ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
		umount -l /run/netns
	fi
	echo "$IP_FORWARD" >/proc/sys/net/ipv4/ip_forward
	for d in $(echo $HOST_DIRS | tr ' ' '\n' | sort -r); do
		case $PREEXIST in *" $d "*) ;; *)
			case $d in /run/containers/networks | /var/lib/containers/cache | /run/containerd/fifo) rm -rf "$d" ;; esac
			# netavark makes /run/netns a shared bind mount of itself
			[ "$d" = /run/netns ] && mountpoint -q "$d" && umount "$d"
			rmdir "$d" 2>/dev/null ;;
		esac
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the image
# An OCI image layout: one uncompressed layer (busybox-static + applet links),
# a config, a manifest, an index; tarred for `ctr images import` / `podman load`.
build_image() {
	local r=$T/img/rootfs o=$T/img/oci
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/proc" "$r/sys" "$r/dev" "$o/blobs/sha256"
	cp "$(command -v busybox)" "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$r" -cf "$T/img/layer.tar" .
	local ld ls cd cs md ms
	ld=$(sha256sum "$T/img/layer.tar" | cut -d' ' -f1)
	ls=$(stat -c %s "$T/img/layer.tar")
	cp "$T/img/layer.tar" "$o/blobs/sha256/$ld"
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"hull tests/clients/run.sh"}]}' "$ld" >"$T/img/config.json"
	cd=$(sha256sum "$T/img/config.json" | cut -d' ' -f1)
	cs=$(stat -c %s "$T/img/config.json")
	cp "$T/img/config.json" "$o/blobs/sha256/$cd"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$cd" "$cs" "$ld" "$ls" >"$T/img/manifest.json"
	md=$(sha256sum "$T/img/manifest.json" | cut -d' ' -f1)
	ms=$(stat -c %s "$T/img/manifest.json")
	cp "$T/img/manifest.json" "$o/blobs/sha256/$md"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"hull"}}]}' "$md" "$ms" "$IMG" >"$o/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
	tar -C "$o" -cf "$T/img/busybox-oci.tar" oci-layout index.json blobs
}

# A plain bundle for the suite's own hull calls.
mkbundle() { # DIR ARGS...
	local d=$1
	shift
	mkdir -p "$d"
	cp -a "$T/img/rootfs" "$d/rootfs"
	rm -f "$d/config.json"
	"$HULL" spec --bundle "$d" || return 1
	python3 - "$d/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
c["process"]["terminal"] = False
if args:
    c["process"]["args"] = args
json.dump(c, open(path, "w"), indent=1)
PY
}

# ---------------------------------------------------------------- containerd
start_containerd() { # CONFIG LOG
	containerd --config "$1" >"$2" 2>&1 &
	CTD_PID=$!
	for _ in $(seq 100); do
		ctr --address "$CTD_SOCK" version >/dev/null 2>&1 && return 0
		kill -0 "$CTD_PID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
stop_containerd() {
	[ -n "$CTD_PID" ] || return 0
	kill "$CTD_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$CTD_PID" 2>/dev/null
	wait "$CTD_PID" 2>/dev/null
	CTD_PID=
}
ctd_config() { # FILE [EXTRA-TOML]
	mkdir -p "$T/ctd"
	cat >"$1" <<EOF
version = 2
root = "$T/ctd/root"
state = "$T/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD_SOCK"
[ttrpc]
  address = "$T/ctd/containerd.sock.ttrpc"
[debug]
  level = "debug"
[metrics]
  address = ""
${2:-}
EOF
}
CTR() { timeout "${TMO:-30}" ctr --address "$CTD_SOCK" -n $NS "$@"; }
ctr_bundle() { echo "$T/ctd/state/io.containerd.runtime.v2.task/$NS/$1"; }
# the hull errors the shim saw for container $1 (its log.json) and containerd's log
ctr_errors() {
	local b
	b=$(ctr_bundle "$1")
	[ -f "$b/log.json" ] && grep -E '"level":"(error|fatal)"' "$b/log.json" | tail -n 3 | sed "s/^/    log.json($1): /"
	grep -E 'level=(error|warning)' "$T/ctd/containerd.log" | grep -v 'cri\|failed to load plugin\|btrfs\|aufs\|zfs\|devmapper\|tracing' | tail -n 5 | sed 's/^/    containerd: /'
}
task_status() { CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'; }
wait_status() { # ID STATUS
	for _ in $(seq 50); do [ "$(task_status "$1")" = "$2" ] && return 0; sleep 0.1; done
	return 1
}

part_containerd() {
	echo "=== containerd $(containerd --version | awk '{print $3}')"
	ctd_config "$T/ctd/config.toml"
	if ! start_containerd "$T/ctd/config.toml" "$T/ctd/containerd.log"; then
		fail "containerd: start (private config)"
		tail -n 20 "$T/ctd/containerd.log"
		return
	fi
	pass "containerd: start (private config, address $CTD_SOCK)"
	local out rc f=$T/ctd/fifo
	mkdir -p "$f"
	if out=$(CTR images import "$T/img/busybox-oci.tar" 2>&1); then
		pass "ctr images import of the offline busybox OCI archive"
	else
		fail "ctr images import: $out"
		return
	fi
	local RUN=(run --runc-binary "$WRAP" --fifo-dir "$f")

	# run --rm: stdout and exit status
	out=$(CTR "${RUN[@]}" --rm "$IMG" c-run sh -c 'echo hi; exit 3' 2>"$T/err")
	rc=$?
	if [ "$out" = hi ] && [ $rc = 3 ]; then
		pass "ctr run --rm sh -c 'echo hi; exit 3': stdout hi, status 3"
	else
		fail "ctr run --rm: stdout '$out' status $rc (want hi, 3): $(tail -c 400 "$T/err")"
		ctr_errors c-run
	fi

	# rshared root propagation on containerd's rootfs (an overlay mount, as
	# under Kubernetes with mount propagation): the rootfs mount itself must
	# be made private, or pivot_root fails (critest's finding)
	out=$(CTR "${RUN[@]}" --rm --rootfs-propagation rshared "$IMG" c-rshared \
		awk '$5 == "/" { print ($7 ~ /^shared:/) ? "shared" : $7 }' /proc/self/mountinfo 2>"$T/err")
	rc=$?
	if [ "$out" = shared ] && [ $rc = 0 ]; then
		pass "ctr run --rootfs-propagation rshared: / is shared"
	else
		fail "ctr run --rootfs-propagation rshared: stdout '$out' status $rc: $(tail -c 400 "$T/err")"
		ctr_errors c-rshared
	fi

	# a program that does not exist: the error must come back through log.json
	out=$(CTR "${RUN[@]}" --rm "$IMG" c-noexec /no/such/program 2>&1)
	rc=$?
	if [ $rc != 0 ] && echo "$out" | grep -q 'no such file or directory'; then
		pass "ctr run of a missing program fails with 'no such file or directory': $(echo "$out" | tail -n 1 | cut -c1-200)"
	else
		fail "ctr run of a missing program: status $rc, want an error naming 'no such file or directory': $(echo "$out" | tail -n 2 | cut -c1-300)"
	fi
	CTR containers delete c-noexec >/dev/null 2>&1

	# detached task, exec, ps, pause/resume, metrics, kill, delete
	if CTR "${RUN[@]}" -d "$IMG" c-det sleep 1000 >"$T/err" 2>&1 && wait_status c-det RUNNING; then
		pass "ctr run -d: task RUNNING"
		out=$(CTR task exec --fifo-dir "$f" --exec-id e1 c-det sh -c 'echo exec-ok; exit 4' 2>"$T/err")
		rc=$?
		if [ "$out" = exec-ok ] && [ $rc = 4 ]; then
			pass "ctr task exec: stdout exec-ok, status 4"
		else
			fail "ctr task exec: stdout '$out' status $rc (want exec-ok, 4): $(tail -c 400 "$T/err")"
			ctr_errors c-det
		fi
		out=$(CTR task ps c-det 2>&1)
		if [ "$(echo "$out" | tail -n +2 | grep -c .)" -ge 1 ]; then
			pass "ctr task ps: $(echo "$out" | tail -n +2 | awk '{print $1}' | tr '\n' ' ')"
		else
			fail "ctr task ps: $out"
			ctr_errors c-det
		fi
		if CTR task pause c-det >"$T/err" 2>&1 && wait_status c-det PAUSED; then
			pass "ctr task pause: PAUSED"
		else
			fail "ctr task pause: $(cat "$T/err") status $(task_status c-det)"
			ctr_errors c-det
		fi
		if CTR task resume c-det >"$T/err" 2>&1 && wait_status c-det RUNNING; then
			pass "ctr task resume: RUNNING"
		else
			fail "ctr task resume: $(cat "$T/err") status $(task_status c-det)"
			ctr_errors c-det
		fi
		if out=$(CTR task metrics c-det 2>&1); then
			pass "ctr task metrics: $(echo "$out" | grep -E 'memory|pids|cpu' | head -n 3 | tr -s ' \n' ' ')"
		else
			fail "ctr task metrics: $out"
		fi
		# The shim runs `checkpoint` itself (go-runc); CRIU cannot work on
		# this kernel, so hull must refuse clearly and the task live on.
		out=$(CTR task checkpoint c-det 2>&1)
		if [ $? != 0 ] && echo "$out" | grep -q 'CRIU' && [ "$(task_status c-det)" = RUNNING ]; then
			pass "ctr task checkpoint: refused with hull's CRIU message, task still RUNNING"
		else
			fail "ctr task checkpoint: '$out' status $(task_status c-det)"
		fi
		# exec'd process stays until the kill; kill the whole task
		CTR task exec --fifo-dir "$f" -d --exec-id e2 c-det sleep 1000 >/dev/null 2>&1
		if CTR task kill -s SIGKILL --all c-det >"$T/err" 2>&1 && wait_status c-det STOPPED; then
			pass "ctr task kill -s SIGKILL --all: STOPPED"
		else
			fail "ctr task kill --all: $(cat "$T/err") status $(task_status c-det)"
			ctr_errors c-det
		fi
		if CTR task delete c-det >"$T/err" 2>&1 && [ -z "$(task_status c-det)" ]; then
			pass "ctr task delete"
		else
			fail "ctr task delete: $(cat "$T/err")"
			ctr_errors c-det
		fi
		CTR containers delete c-det >/dev/null 2>&1
	else
		fail "ctr run -d: $(cat "$T/err") status $(task_status c-det)"
		ctr_errors c-det
	fi

	# SIGTERM via ctr task kill (default signal), exit status 143
	if CTR "${RUN[@]}" -d "$IMG" c-term sh -c 'trap "exit 7" TERM; while true; do sleep 0.1; done' >"$T/err" 2>&1 && wait_status c-term RUNNING; then
		sleep 0.3
		CTR task kill c-term >"$T/err" 2>&1
		if wait_status c-term STOPPED; then
			pass "ctr task kill (SIGTERM, trapped by the shell): STOPPED"
		else
			fail "ctr task kill: $(cat "$T/err") status $(task_status c-term)"
			ctr_errors c-term
		fi
		CTR task delete -f c-term >/dev/null 2>&1
	else
		fail "ctr run -d c-term: $(cat "$T/err")"
		ctr_errors c-term
	fi
	CTR containers delete c-term >/dev/null 2>&1

	# memory limit: the cgroup is /$NS/<id> (ctr has no /sys/fs/cgroup inside)
	if CTR "${RUN[@]}" -d --memory-limit 67108864 "$IMG" c-mem sleep 1000 >"$T/err" 2>&1 && wait_status c-mem RUNNING; then
		local lim=
		for f2 in /sys/fs/cgroup/memory/$NS/c-mem/memory.limit_in_bytes /sys/fs/cgroup/$NS/c-mem/memory.max /sys/fs/cgroup/unified/$NS/c-mem/memory.max; do
			[ -f "$f2" ] && lim=$(cat "$f2") && break
		done
		if [ "$lim" = 67108864 ]; then
			pass "ctr run --memory-limit 64M: $f2 = $lim"
		else
			fail "ctr run --memory-limit 64M: limit '$lim' (cgroups: $(ls -d /sys/fs/cgroup/*/$NS/c-mem 2>/dev/null | tr '\n' ' '))"
		fi
		CTR task kill -s SIGKILL c-mem >/dev/null 2>&1
		wait_status c-mem STOPPED
		CTR task delete -f c-mem >/dev/null 2>&1
	else
		fail "ctr run --memory-limit: $(cat "$T/err")"
		ctr_errors c-mem
	fi
	CTR containers delete c-mem >/dev/null 2>&1

	# tty: ctr -t needs a tty on stdin: run it under script(1)
	out=$(timeout 30 script -qec "ctr --address $CTD_SOCK -n $NS run --runc-binary $WRAP --fifo-dir $f --rm -t $IMG c-tty sh -c 'tty; [ -t 0 ] && echo tty-ok; exit 5'" /dev/null </dev/null 2>&1)
	rc=$?
	out=$(printf '%s' "$out" | tr -d '\r\000')
	if echo "$out" | grep -q '/dev/pts/' && echo "$out" | grep -q tty-ok && [ $rc = 5 ]; then
		pass "ctr run -t (console socket): $(echo "$out" | head -n 1 | tr -d '\r'), status 5"
	else
		fail "ctr run -t: status $rc output: $(echo "$out" | tr -d '\r' | head -c 400)"
		ctr_errors c-tty
	fi

	# exec with a tty
	if CTR "${RUN[@]}" -d "$IMG" c-exectty sleep 1000 >"$T/err" 2>&1 && wait_status c-exectty RUNNING; then
		out=$(timeout 30 script -qec "ctr --address $CTD_SOCK -n $NS task exec --fifo-dir $f -t --exec-id et c-exectty sh -c 'tty; exit 6'" /dev/null </dev/null 2>&1)
		rc=$?
		out=$(printf '%s' "$out" | tr -d '\r\000')
		if echo "$out" | grep -q '/dev/pts/' && [ $rc = 6 ]; then
			pass "ctr task exec -t: $(echo "$out" | head -n 1 | tr -d '\r'), status 6"
		else
			fail "ctr task exec -t: status $rc output: $(echo "$out" | tr -d '\r' | head -c 400)"
			ctr_errors c-exectty
		fi
		CTR task kill -s SIGKILL c-exectty >/dev/null 2>&1
		wait_status c-exectty STOPPED
		CTR task delete -f c-exectty >/dev/null 2>&1
	else
		fail "ctr run -d c-exectty: $(cat "$T/err")"
	fi
	CTR containers delete c-exectty >/dev/null 2>&1

	# no container left in hull's root for this namespace
	local left
	left=$(HULL_LOGGED_LOG=/dev/null "$HULL" --root /run/containerd/runc/$NS list -q 2>/dev/null | tr '\n' ' ')
	if [ -z "$left" ]; then
		pass "containerd: nothing left in hull list --root /run/containerd/runc/$NS"
	else
		fail "containerd: left in /run/containerd/runc/$NS: $left"
	fi
	stop_containerd
}

# ---------------------------------------------------------------- k8s shape
# containerd with the CRI plugin on and a `hull` runtime of type
# io.containerd.runc.v2 whose options.BinaryName is hull, as docs/kubernetes.md
# configures it. ctr 1.6 does not speak CRI and ignores --runtime-config-path
# for io.containerd.runc.v2, so the task goes through the same shim and the same
# runc Options field (BinaryName) via --runtime io.containerd.runc.v2
# --runc-binary; the CRI side is checked by loading the config (CRI plugin up,
# `containerd config dump` shows the runtime).
part_k8s() {
	echo "=== containerd config.toml of docs/kubernetes.md (runc.v2, BinaryName = hull)"
	local cfg=$T/ctd/k8s.toml
	mkdir -p "$T/ctd/cni-conf" "$T/ctd/cni-bin"
	ctd_config "$cfg" "[plugins.\"io.containerd.grpc.v1.cri\"]
  sandbox_image = \"$IMG\"
  [plugins.\"io.containerd.grpc.v1.cri\".cni]
    bin_dir = \"$T/ctd/cni-bin\"
    conf_dir = \"$T/ctd/cni-conf\"
  [plugins.\"io.containerd.grpc.v1.cri\".containerd]
    default_runtime_name = \"runc\"
    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]
      runtime_type = \"io.containerd.runc.v2\"
    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hull]
      runtime_type = \"io.containerd.runc.v2\"
      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hull.options]
        BinaryName = \"$WRAP\"
        SystemdCgroup = false"
	# this part keeps the CRI plugin enabled
	sed -i 's/^disabled_plugins = .*/disabled_plugins = []/' "$cfg"
	if ! start_containerd "$cfg" "$T/ctd/k8s.log"; then
		fail "containerd with the kubernetes.md config: $(tail -n 5 "$T/ctd/k8s.log")"
		return
	fi
	if containerd --config "$cfg" config dump 2>/dev/null | grep -A16 'runtimes.hull\]' | grep -q "BinaryName = \"$WRAP\""; then
		pass "containerd config dump: runtimes.hull, runtime_type io.containerd.runc.v2, BinaryName = hull"
	else
		fail "containerd config dump has no runtimes.hull with BinaryName"
	fi
	local err
	# (no CNI config here: the CRI plugin logs that and carries on)
	err=$(grep 'failed to load plugin io.containerd.grpc.v1.cri' "$T/ctd/k8s.log" | head -n 2)
	if [ -z "$err" ] && grep 'Start cri plugin with config' "$T/ctd/k8s.log" | grep -q "hull:{Type:io.containerd.runc.v2"; then
		pass "containerd: CRI plugin loaded with the hull runtime handler"
	else
		fail "containerd: CRI plugin: $err"
	fi
	CTR images import "$T/img/busybox-oci.tar" >/dev/null 2>&1
	local out rc n0
	n0=$(grep -c ' create ' "$HULL_LOGGED_LOG")
	out=$(CTR run --runtime io.containerd.runc.v2 --runc-binary "$WRAP" --fifo-dir "$T/ctd/fifo" --rm "$IMG" c-k8s sh -c 'echo via-runc-v2; exit 2' 2>"$T/err")
	rc=$?
	if [ "$out" = via-runc-v2 ] && [ $rc = 2 ] && [ "$(grep -c ' create ' "$HULL_LOGGED_LOG")" -gt "$n0" ]; then
		pass "ctr run --runtime io.containerd.runc.v2 (BinaryName = hull) under the CRI config: stdout, status 2, through hull"
	else
		fail "ctr run --runtime io.containerd.runc.v2 under the CRI config: stdout '$out' status $rc: $(tail -c 400 "$T/err")"
		ctr_errors c-k8s
	fi
	stop_containerd
}

# ---------------------------------------------------------------- podman
# podman_conf DIR NETWORK-TOML: a private containers.conf and storage.conf in
# DIR (root, runroot, tmp and events all under it; hull-logged as runtime).
podman_conf() {
	local d=$1 network=$2 hard
	hard=$(ulimit -Hn)
	cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$hard:$hard", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
tmp_dir = "$d/tmp"
volume_path = "$d/volumes"
static_dir = "$d/root/libpod"
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HULL_BIN=$HULL", "HULL_LOGGED_LOG=$HULL_LOGGED_LOG"]
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "hull", "hull-logged"]
[network]
$network
EOF
	cat >"$d/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$d/runroot"
graphroot = "$d/root"
EOF
}

part_podman() {
	echo "=== podman $(podman --version | awk '{print $3}') / conmon $(conmon --version 2>/dev/null | head -n 1 | awk '{print $3}')"
	local P=$T/podman
	mkdir -p "$P/networks" "$P/tmp"
	podman_conf "$P" "network_config_dir = \"$P/networks\""
	export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf
	PODMAN=(timeout 60 podman --root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp"
		--cgroup-manager cgroupfs --events-backend file --runtime "$WRAP" --storage-driver overlay)
	PODMAN_OK=1
	local out rc
	if out=$("${PODMAN[@]}" load -i "$T/img/busybox-oci.tar" 2>&1); then
		pass "podman load of the OCI archive ($(echo "$out" | grep '^Loaded image' | tr '\n' ' '))"
	elif out=$("${PODMAN[@]}" import --change 'CMD ["sh"]' "$T/img/layer.tar" "$IMG" 2>&1); then
		pass "podman import of the layer tar (load failed)"
	else
		fail "podman load/import: $out"
		return
	fi
	local PI="--pull=never $IMG"
	podman_err() { # the last lines of stderr and the wrapper's hull errors for this run
		tail -c 600 "$T/err" | tr '\n' ' '
	}

	out=$("${PODMAN[@]}" run --rm --network none $PI sh -c 'echo hi; exit 3' 2>"$T/err")
	rc=$?
	if [ "$out" = hi ] && [ $rc = 3 ]; then
		pass "podman run --rm --network none sh -c 'echo hi; exit 3': hi, status 3"
	else
		fail "podman run --rm: stdout '$out' status $rc: $(podman_err)"
	fi
	out=$("${PODMAN[@]}" run --rm $PI echo hi 2>"$T/err")
	rc=$?
	if [ "$out" = hi ] && [ $rc = 0 ]; then
		pass "podman run --rm busybox echo hi (default network)"
	else
		fail "podman run --rm (default network): stdout '$out' status $rc: $(podman_err)"
	fi

	# --read-only: podman mounts tmpfs on /tmp, /var/tmp and /run with
	# tmpcopyup (what the image has there is copied in)
	out=$("${PODMAN[@]}" run --rm --read-only --network none $PI \
		sh -c 'touch /tmp/w && echo tmp-rw; touch /w 2>/dev/null || echo root-ro' 2>"$T/err")
	rc=$?
	if [ "$out" = "$(printf 'tmp-rw\nroot-ro')" ] && [ $rc = 0 ]; then
		pass "podman run --read-only: tmpfs /tmp writable (tmpcopyup), root read-only"
	else
		fail "podman run --read-only: stdout '$out' status $rc: $(podman_err)"
	fi

	# podman maps the runtime's error text to 127 (not found) / 126 (not executable)
	"${PODMAN[@]}" run --rm --network none $PI /no/such/program >/dev/null 2>"$T/err"
	rc=$?
	if [ $rc = 127 ]; then
		pass "podman run of a missing program: status 127"
	else
		fail "podman run of a missing program: status $rc (want 127): $(podman_err)"
	fi
	"${PODMAN[@]}" run --rm --network none $PI /etc/passwd >/dev/null 2>"$T/err"
	rc=$?
	if [ $rc = 126 ]; then
		pass "podman run of a non-executable file: status 126"
	else
		fail "podman run of a non-executable file: status $rc (want 126): $(podman_err)"
	fi

	PODMAN_IDS+=(p-det)
	if "${PODMAN[@]}" run -d --name p-det --network none $PI sleep 1000 >"$T/err" 2>&1; then
		pass "podman run -d"
		out=$("${PODMAN[@]}" exec p-det sh -c 'echo exec-ok; exit 4' 2>"$T/err")
		rc=$?
		if [ "$out" = exec-ok ] && [ $rc = 4 ]; then
			pass "podman exec: exec-ok, status 4"
		else
			fail "podman exec: stdout '$out' status $rc: $(podman_err)"
		fi
		out=$(timeout 30 script -qec "${PODMAN[*]:2} exec -t p-det sh -c 'tty; exit 6'" /dev/null </dev/null 2>&1)
		rc=$?
		if echo "$out" | tr -d '\r' | grep -q '/dev/pts/' && [ $rc = 6 ]; then
			pass "podman exec -t: $(echo "$out" | head -n 1 | tr -d '\r'), status 6"
		else
			fail "podman exec -t: status $rc output $(echo "$out" | tr -d '\r' | head -c 400)"
		fi
		out=$("${PODMAN[@]}" top p-det 2>&1)
		if echo "$out" | grep -q sleep; then pass "podman top"; else fail "podman top: $out"; fi
		if "${PODMAN[@]}" pause p-det >"$T/err" 2>&1 && [ "$("${PODMAN[@]}" inspect -f '{{.State.Status}}' p-det)" = paused ]; then
			pass "podman pause"
		else
			fail "podman pause: $(podman_err)"
		fi
		if "${PODMAN[@]}" unpause p-det >"$T/err" 2>&1 && [ "$("${PODMAN[@]}" inspect -f '{{.State.Status}}' p-det)" = running ]; then
			pass "podman unpause"
		else
			fail "podman unpause: $(podman_err)"
		fi
		if "${PODMAN[@]}" update --memory 64m p-det >"$T/err" 2>&1; then
			local cid lim
			cid=$("${PODMAN[@]}" inspect -f '{{.Id}}' p-det)
			lim=$(cat /sys/fs/cgroup/memory/libpod_parent/libpod-"$cid"/memory.limit_in_bytes 2>/dev/null)
			if [ "$lim" = 67108864 ]; then
				pass "podman update --memory 64m: memory.limit_in_bytes $lim"
			else
				fail "podman update --memory 64m: succeeded, cgroup limit '$lim'"
			fi
		else
			fail "podman update --memory: $(podman_err)"
		fi
		if out=$("${PODMAN[@]}" stats --no-stream --format '{{.MemUsage}}' p-det 2>&1); then
			pass "podman stats: $out"
		else
			fail "podman stats: $out"
		fi
		if "${PODMAN[@]}" stop -t 2 p-det >"$T/err" 2>&1 && [ "$("${PODMAN[@]}" inspect -f '{{.State.Status}}' p-det)" = exited ]; then
			pass "podman stop (SIGTERM ignored by pid 1, SIGKILL after 2 s): exited"
		else
			fail "podman stop: $(podman_err)"
		fi
		if "${PODMAN[@]}" rm p-det >"$T/err" 2>&1; then pass "podman rm"; else fail "podman rm: $(podman_err)"; fi
	else
		fail "podman run -d: $(podman_err)"
	fi

	out=$("${PODMAN[@]}" run --rm --network host $PI sh -c 'ls /sys/class/net | tr "\n" " "' 2>"$T/err")
	rc=$?
	if [ $rc = 0 ] && [ "$out" = "$(ls /sys/class/net | tr '\n' ' ')" ]; then
		pass "podman run --network host: host links seen"
	else
		fail "podman run --network host: status $rc '$out': $(podman_err)"
	fi
	out=$("${PODMAN[@]}" run --rm --network none $PI sh -c 'ls /sys/class/net | tr "\n" " "' 2>"$T/err")
	rc=$?
	if [ $rc = 0 ] && [ "$out" = "lo " ]; then
		pass "podman run --network none: only lo"
	else
		fail "podman run --network none: status $rc '$out': $(podman_err)"
	fi

	# -t under script, without PODMAN's own `timeout`: that would put podman in
	# a background process group of the pty, where setting raw mode stops it
	# with SIGTTOU (the outer timeout bounds the run).
	out=$(timeout 30 script -qec "${PODMAN[*]:2} run --rm -t --network none $PI sh -c 'tty; exit 5'" /dev/null </dev/null 2>&1)
	rc=$?
	if echo "$out" | tr -d '\r' | grep -q '/dev/pts/' && [ $rc = 5 ]; then
		pass "podman run -t: $(echo "$out" | head -n 1 | tr -d '\r'), status 5"
	else
		fail "podman run -t: status $rc output $(echo "$out" | tr -d '\r' | head -c 400)"
	fi

	# port mapping on the default (netavark/CNI) bridge: the server answers once
	PODMAN_IDS+=(p-port)
	local port=18080
	if "${PODMAN[@]}" run -d --name p-port -p 127.0.0.1:$port:8080 $PI sh -c 'echo port-ok | nc -l -p 8080' >"$T/err" 2>&1; then
		sleep 1
		out=$(timeout 5 busybox nc 127.0.0.1 $port </dev/null 2>&1)
		if [ "$out" = port-ok ]; then
			pass "podman run -p 127.0.0.1:$port:8080: reply through the port mapping"
		else
			fail "podman run -p: reply '$out' (network backend: $("${PODMAN[@]}" info -f '{{.Host.NetworkBackend}}' 2>/dev/null))"
		fi
		"${PODMAN[@]}" rm -f -t 0 p-port >/dev/null 2>&1
	else
		fail "podman run -p (default bridge network): $(podman_err)"
	fi

	# OOM under a memory limit: the container is killed, podman says so
	out=$("${PODMAN[@]}" run --rm --network none --memory 32m $PI sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' 2>"$T/err")
	if [ "$out" = 33554432 ]; then
		pass "podman run --memory 32m: limit seen in the container"
	else
		fail "podman run --memory 32m: '$out': $(podman_err)"
	fi
	# OOM kill under a limit: status 137. podman's OOMKilled (conmon's oom
	# eventfd) stays false here with runc as well: reported, not tested.
	PODMAN_IDS+=(p-oom)
	"${PODMAN[@]}" run --name p-oom --network none --memory 16m --memory-swap 16m $PI tail /dev/zero >/dev/null 2>"$T/err"
	rc=$?
	local oom
	oom=$("${PODMAN[@]}" inspect -f '{{.State.OOMKilled}}' p-oom 2>/dev/null)
	if [ $rc = 137 ]; then
		pass "podman run --memory 16m of a memory hog: status 137 (OOMKilled '$oom')"
	else
		fail "podman run --memory 16m of a memory hog: status $rc (want 137), OOMKilled '$oom': $(podman_err)"
	fi
	"${PODMAN[@]}" rm -f p-oom >/dev/null 2>&1

	local left
	left=$("$HULL" list -q 2>/dev/null | grep -c . || true)
	info "hull list (default root, podman's) after the podman part: $left containers"
	"${PODMAN[@]}" rm -a -f -t 0 >/dev/null 2>&1
	"${PODMAN[@]}" system reset -f >/dev/null 2>&1 || true
	PODMAN_OK=
}

# ---------------------------------------------------------------- podman, CNI backend, hull-bridge network
# podman with its CNI backend puts containers on a hull-bridge network. All of
# it runs in a private network namespace (unshare --net): the bridge, the
# veths, the nftables table and the forwarding sysctl die with it.
part_podman_cni() {
	echo "=== podman (CNI backend) on a hull-bridge network"
	local C=$T/podman-cni out rc
	local bridge_bin=$HULL_BRIDGE
	if [ ! -x "$bridge_bin" ]; then
		fail "podman CNI: $bridge_bin missing (cargo build -p hull-bridge)"
		return
	fi
	mkdir -p "$C/net" "$C/bin" "$C/tmp"
	ln -s "$(readlink -f "$bridge_bin")" "$C/bin/hull-bridge"
	podman_conf "$C" "network_backend = \"cni\"
network_config_dir = \"$C/net\"
cni_plugin_dirs = [\"$C/bin\", \"/usr/lib/cni\"]"
	cat >"$C/net/hullnet.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hullnet",
  "plugins": [
    {
      "type": "hull-bridge",
      "bridge": "hullcni0",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.77.0/24"}]], "dataDir": "$C/leases"}
    }
  ]
}
EOF
	# The steps, as one script in the private namespace; each prints a tagged line.
	cat >"$C/steps.sh" <<'EOF'
P() { timeout 60 podman --root "$C/root" --runroot "$C/runroot" --tmpdir "$C/tmp" --cgroup-manager cgroupfs --events-backend file --runtime "$WRAP" --storage-driver overlay "$@"; }
ip link set lo up
echo "backend: $(P info -f '{{.Host.NetworkBackend}}' 2>&1)"
P load -i "$T/img/busybox-oci.tar" >/dev/null 2>&1 || { echo "load: failed"; exit 1; }
P run -d --name cni-a --cap-add NET_RAW --network hullnet --pull=never "$IMG" sleep 300 >/dev/null 2>"$C/err-a" || { echo "run-a: $(tail -c 300 "$C/err-a")"; exit 1; }
a=$(P inspect -f '{{(index .NetworkSettings.Networks "hullnet").IPAddress}}' cni-a 2>&1)
echo "addr-a: $a"
echo "in-a: $(P exec cni-a ip -4 -o addr show dev eth0 2>&1 | awk '{print $4}')"
echo "ping-b-a: $(P run --rm --cap-add NET_RAW --network hullnet --pull=never "$IMG" sh -c "ping -c1 -W2 $a >/dev/null && echo ok" 2>&1 | tail -n 1)"
echo "host-a: $(busybox ping -c1 -W2 "$a" >/dev/null 2>&1 && echo ok)"
echo "veths-up: $(ip -o link show master hullcni0 2>/dev/null | grep -c veth)"
P rm -f -t 0 cni-a >/dev/null 2>&1
echo "veths-after: $(ip -o link show master hullcni0 2>/dev/null | grep -c veth)"
echo "leases-after: $(find "$C/leases/hullnet" -type f -name '10.*' 2>/dev/null | wc -l)"
P system reset -f >/dev/null 2>&1
EOF
	out=$(C=$C T=$T WRAP=$WRAP IMG=$IMG CONTAINERS_CONF=$C/containers.conf CONTAINERS_STORAGE_CONF=$C/storage.conf \
		timeout 200 unshare --net bash "$C/steps.sh" 2>&1)
	rc=$?
	field() { echo "$out" | sed -n "s/^$1: //p" | head -n 1; }
	if [ "$(field backend)" = cni ]; then pass "podman network backend: cni"; else fail "podman network backend: '$(field backend)' (rc $rc): $out"; fi
	local a
	a=$(field addr-a)
	case $a in
	10.89.77.*) pass "podman run --network hullnet: address $a from hull-bridge + host-local" ;;
	*) fail "podman run --network hullnet: address '$a': $out" ;;
	esac
	if [ "$(field in-a)" = "$a/24" ]; then pass "the container's eth0 has $a/24"; else fail "eth0 in the container: '$(field in-a)'"; fi
	if [ "$(field ping-b-a)" = ok ]; then pass "a second container pings the first on the bridge"; else fail "container to container ping: '$(field ping-b-a)'"; fi
	if [ "$(field host-a)" = ok ]; then pass "the host pings the container"; else fail "host to container ping"; fi
	if [ "$(field veths-up)" = 1 ] && [ "$(field veths-after)" = 0 ] && [ "$(field leases-after)" = 0 ]; then
		pass "podman rm: the veth and the lease are gone (DEL through podman)"
	else
		fail "after podman rm: veths before/after '$(field veths-up)'/'$(field veths-after)', leases '$(field leases-after)'"
	fi
}

# ---------------------------------------------------------------- cleanup of half-created containers
part_cleanup() {
	echo "=== hull create killed with SIGKILL, then delete --force"
	local b=$T/bundle-kill ms id pid left
	mkbundle "$b" sleep 1000 || { fail "cleanup: mkbundle"; return; }
	for ms in 1 2 3 5 8 12 20 50; do
		id=hull-kill-$ms-$$
		"$HULL" --root "$HULL_ROOT" --log "$T/kill-$ms.json" --log-format json create --bundle "$b" --pid-file "$T/kill-$ms.pid" "$id" >/dev/null 2>&1 &
		pid=$!
		sleep "$(printf '0.%03d' "$ms")"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		sleep 0.1
		local st
		st=$("$HULL" --root "$HULL_ROOT" state "$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)
		if ! "$HULL" --root "$HULL_ROOT" delete --force "$id" >"$T/err" 2>&1; then
			# no state dir at all is fine: "does not exist"
			grep -q 'does not exist' "$T/err" || { fail "cleanup ${ms}ms: delete --force: $(cat "$T/err")"; continue; }
		fi
		sleep 0.1
		left=
		[ -e "$HULL_ROOT/$id" ] && left+="state dir $HULL_ROOT/$id; "
		local cg
		cg=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "*$id*" 2>/dev/null | tr '\n' ' ')
		[ -n "$cg" ] && left+="cgroups: $cg; "
		grep -qF "$b" /proc/self/mountinfo && left+="mounts: $(grep -F "$b" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' '); "
		local procs=
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" = "$b/rootfs" ] && procs+="${p#/proc/} "
			{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "create --bundle $b .*$id" && procs+="${p#/proc/} "
		done
		[ -n "$procs" ] && left+="processes: $procs"
		if [ -z "$left" ]; then
			pass "cleanup: create SIGKILLed after ${ms} ms (status was '${st:-none}'), delete --force left nothing"
		else
			fail "cleanup: create SIGKILLed after ${ms} ms (status '${st:-none}'), delete --force left: $left"
			for p in $procs; do kill -9 "$p" 2>/dev/null; done
			for c in $cg; do rmdir "$c" 2>/dev/null; done
		fi
	done
	# the normal path too: create, delete without --force (runc deletes a created container)
	id=hull-created-$$
	if "$HULL" --root "$HULL_ROOT" create --bundle "$b" "$id" >"$T/err" 2>&1; then
		if "$HULL" --root "$HULL_ROOT" delete "$id" >"$T/err" 2>&1 && [ ! -e "$HULL_ROOT/$id" ]; then
			pass "delete (no --force) of a created container"
		else
			fail "delete of a created container: $(cat "$T/err")"
			"$HULL" --root "$HULL_ROOT" delete --force "$id" >/dev/null 2>&1
		fi
	else
		fail "create: $(cat "$T/err")"
	fi
}

# ---------------------------------------------------------------- report
report_invocations() {
	echo "=== hull invocations by the clients ($(grep -vc '^  ->' "$HULL_LOGGED_LOG") calls)"
	# the command is the first word that is not a global flag or its value
	python3 - "$HULL_LOGGED_LOG" <<'PY'
import shlex, sys, collections
globals_with_value = {"--root", "--log", "--log-format", "--rootless", "--criu"}
cmds = collections.Counter()
flags = collections.defaultdict(set)
gflags = set()
errors = []
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("  ->"):
        errors.append(line.rstrip())
        continue
    try:
        words = shlex.split(line.split(" ", 2)[2])
    except (ValueError, IndexError):
        continue
    i, cmd = 0, None
    while i < len(words):
        w = words[i]
        if w.startswith("-"):
            name = w.split("=", 1)[0]
            if cmd is None:
                gflags.add(name)
                if name in globals_with_value and "=" not in w:
                    i += 1
            else:
                flags[cmd].add(name)
        elif cmd is None:
            cmd = w
        i += 1
    cmds[cmd or "(none)"] += 1
print("globals: " + " ".join(sorted(gflags)))
for c, n in sorted(cmds.items(), key=lambda x: -x[1]):
    print(f"  {c:10} x{n:<3} {' '.join(sorted(flags[c]))}")
want = {"create": {"--bundle", "--pid-file", "--console-socket"}, "start": set(), "exec": {"--process", "--detach", "--pid-file", "--console-socket", "--tty"},
        "kill": {"--all"}, "delete": {"--force"}, "pause": set(), "resume": set(), "ps": {"--format"}, "update": {"--resources"}, "state": set(), "features": set(),
        "checkpoint": set(), "restore": set()}
missing = [f"{c}" for c in want if c not in cmds] + [f"{c} {f}" for c in want if c in cmds for f in sorted(want[c] - flags[c])]
print("clients.md commands/flags not exercised: " + (", ".join(missing) or "none"))
if errors:
    print("hull failures seen by the clients (exit status, argv, log.json error):")
    seen = set()
    for e in errors:
        if e not in seen:
            seen.add(e)
            print(e)
PY
}

build_image || { echo "run.sh: building the image failed" >&2; exit 2; }
echo "hull: $HULL ($("$HULL" --version 2>/dev/null | head -n 1)); temp dir $T"
for part in $parts; do
	start=$(date +%s)
	case $part in
	containerd) part_containerd ;;
	k8s) part_k8s ;;
	podman) part_podman ;;
	podman-cni) part_podman_cni ;;
	cleanup) part_cleanup ;;
	*) echo "unknown part $part" >&2 ;;
	esac
	info "$part took $(($(date +%s) - start)) s"
done
report_invocations
cleanup
if [ ${#failures[@]} -gt 0 ]; then
	echo "=== failures"
	printf '  %s\n' "${failures[@]}"
fi
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
