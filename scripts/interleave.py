"""interleave.py OUT.json RUNS WARMUP [--shell] NAME CMD [NAME CMD ...]

Times commands interleaved: each round runs every command once, in an order
that rotates from round to round, so that what one runtime leaves to the
kernel (namespaces and cgroups torn down asynchronously) weighs on all of
them alike. hyperfine runs all rounds of one command before the next.
Writes hyperfine's JSON shape (command, mean, median, min, max, times, in
seconds) so that bench_report.py reads either. A command that fails stops
the run."""
import json
import os
import shlex
import statistics
import sys
import time


def spawn_wait(argv):
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        start = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        os.close(devnull)
    return elapsed, os.waitstatus_to_exitcode(status)


def main():
    args = sys.argv[1:]
    out, runs, warmup = args[0], int(args[1]), int(args[2])
    rest = args[3:]
    shell = rest[:1] == ["--shell"]
    if shell:
        rest = rest[1:]
    if len(rest) < 2 or len(rest) % 2:
        sys.exit("usage: interleave.py OUT.json RUNS WARMUP [--shell] NAME CMD ...")
    cmds = [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]
    argvs = [["bash", "-c", c] if shell else shlex.split(c) for _, c in cmds]
    times = [[] for _ in cmds]
    for r in range(warmup + runs):
        k = r % len(cmds)
        for i in list(range(k, len(cmds))) + list(range(k)):
            t, code = spawn_wait(argvs[i])
            if code != 0:
                sys.exit(f"interleave: {cmds[i][0]} exited with {code}: {cmds[i][1]}")
            if r >= warmup:
                times[i].append(t)
    results = [
        {
            "command": name,
            "mean": statistics.fmean(ts),
            "median": statistics.median(ts),
            "min": min(ts),
            "max": max(ts),
            "times": ts,
        }
        for (name, _), ts in zip(cmds, times)
    ]
    with open(out, "w") as f:
        json.dump({"results": results}, f, indent=1)


if __name__ == "__main__":
    main()
