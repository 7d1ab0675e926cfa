#!/usr/bin/env bash
# mkbundle.sh DIR [ARGS...]: a busybox bundle at DIR (rootfs from Debian's
# busybox-static, config.json from `hull spec` with terminal off and ARGS).
set -euo pipefail
dir=$1; shift
here=$(cd "$(dirname "$0")/.." && pwd)
hull=${HULL:-$here/target/debug/hull}
busybox=$(command -v busybox)
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/root"
cp "$busybox" "$dir/rootfs/bin/busybox"
chroot "$dir/rootfs" /bin/busybox --install -s /bin
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
rm -f "$dir/config.json"
if [ -x "$hull" ]; then "$hull" spec --bundle "$dir"; else (cd "$dir" && runc spec); fi
python3 - "$dir/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
c["process"]["terminal"] = False
if args:
    c["process"]["args"] = args
json.dump(c, open(path, "w"), indent=1)
PY
