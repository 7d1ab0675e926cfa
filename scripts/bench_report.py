"""Turns hyperfine's JSON files into the table of docs/benchmarks.md."""
import json
import os
import platform
import subprocess
import sys

out, hull_rss, runc_rss, hull_size, runc_size = sys.argv[1:6]
rows = []
raw = {}
for name in ["run_true", "run_true_nonet", "lifecycle", "concurrent50", "exec_true", "floor"]:
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        continue
    res = {r["command"]: r for r in json.load(open(path))["results"]}
    raw[name] = {k: {"median": v["median"], "min": v["min"], "max": v["max"], "times": v["times"]} for k, v in res.items()}
    base = res.get("runc") or res.get("floor")
    for label, r in res.items():
        ratio = r["median"] / base["median"] if base and label == "hull" else None
        rows.append((name, label, r["median"] * 1e3, r["min"] * 1e3, r["max"] * 1e3, ratio))
raw["peak_rss_kib"] = {"hull": int(hull_rss), "runc": int(runc_rss)}
raw["binary_bytes"] = {"hull": int(hull_size), "runc": int(runc_size)}
json.dump(raw, open(os.path.join(out, "results.json"), "w"), indent=1)
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
lines = [
    "# Benchmarks",
    "",
    f"Made by `make bench` on {platform.node()} ({os.cpu_count()} cores, {cpu}, kernel {platform.release()}).",
    "Times in ms (hyperfine, interleaved in one run). Ratio: hull / runc (for `floor`: hull / floor).",
    "Raw numbers: `target/bench/results.json`.",
    "",
    "| benchmark | runtime | median | min | max | ratio |",
    "|---|---|---|---|---|---|",
]
for name, label, med, mn, mx, ratio in rows:
    lines.append(f"| {name} | {label} | {med:.2f} | {mn:.2f} | {mx:.2f} | {'' if ratio is None else f'{ratio:.2f}'} |")
lines += [
    "",
    f"Peak RSS of `run`: hull {int(hull_rss)} KiB, runc {int(runc_rss)} KiB.",
    f"Binary size: hull {int(hull_size) / 2**20:.2f} MiB (stripped release), runc {int(runc_size) / 2**20:.2f} MiB.",
    "",
]
text = "\n".join(lines)
open("docs/benchmarks.md", "w").write(text)
print(text)
