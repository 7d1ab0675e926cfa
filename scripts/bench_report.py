"""Turns the timing JSON files (interleave.py, in hyperfine's shape) into the
table of docs/benchmarks.md.

Only the part between the `bench:begin` and `bench:end` markers is
rewritten; the analysis around it is kept."""
import json
import os
import platform
import subprocess
import sys

out, hull_rss, runc_rss, hull_size, runc_size, target = sys.argv[1:7]
rows = []
raw = {}
for name in ["run_true", "run_true_nonet", "lifecycle", "concurrent50", "exec_true", "floor", "cni_add_del"]:
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        continue
    res = {r["command"]: r for r in json.load(open(path))["results"]}
    raw[name] = {k: {"median": v["median"], "min": v["min"], "max": v["max"], "times": v["times"]} for k, v in res.items()}
    base = res.get("runc") or res.get("floor") or res.get("reference")
    for label, r in res.items():
        ratio = r["median"] / base["median"] if base and label in ("hull", "hull-bridge") else None
        rows.append((name, label, r["median"] * 1e3, r["min"] * 1e3, r["max"] * 1e3, ratio))
raw["peak_rss_kib"] = {"hull": int(hull_rss), "runc": int(runc_rss)}
raw["binary_bytes"] = {"hull": int(hull_size), "runc": int(runc_size)}
raw["hull_target"] = target
json.dump(raw, open(os.path.join(out, "results.json"), "w"), indent=1)
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
lines = [
    BEGIN,
    f"Made by `make bench` on {platform.node()} ({os.cpu_count()} cores, {cpu}, kernel {platform.release()}).",
    "Times in ms (interleaved in one run: scripts/interleave.py). Ratio: hull / runc (for `floor`: hull / floor;",
    "for `cni_add_del`: hull-bridge / the reference `bridge` + `host-local`).",
    "Raw numbers: `target/bench/results.json`.",
    "",
    "| benchmark | runtime | median | min | max | ratio |",
    "|---|---|---|---|---|---|",
]
for name, label, med, mn, mx, ratio in rows:
    lines.append(f"| {name} | {label} | {med:.2f} | {mn:.2f} | {mx:.2f} | {'' if ratio is None else f'{ratio:.2f}'} |")
lines += [
    "",
    f"Peak RSS of `create`: hull {int(hull_rss)} KiB, runc {int(runc_rss)} KiB.",
    f"Binary size: hull {int(hull_size) / 2**20:.2f} MiB (stripped, static, {target}), runc {int(runc_size) / 2**20:.2f} MiB.",
    END,
]
table = "\n".join(lines)
doc = "docs/benchmarks.md"
old = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
if BEGIN in old and END in old:
    head, rest = old.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
else:
    head, tail = "# Benchmarks\n\n", "\n" + old
open(doc, "w").write(head + table + tail)
print(table)
