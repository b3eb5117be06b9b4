#!/usr/bin/python3
"""Benchmark: CPU an idle batond uses (issue 15: "an idle node below 1% of a core").

Brings up two labs one after the other and lets them idle (no traffic, no console calls while
sampling): hello (one pass-through node, no group peers) and cluster3 (three cluster members in
one group, the 1024 units settled). For each batond it reads utime + stime from /proc/<pid>/stat
at the start and the end of a WINDOW-second window and prints the CPU used as a percentage of
one core, per daemon and in total, and beside it the run time schedstat counts in ns (exact).
Prints figures only; it never fails on them.

usage (root): BATON_BUILD=build tests/bench/idle_cpu.py [WINDOW_S] [hello|cluster|both]
"""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lab"))
import labcase  # noqa: E402
import clusterlab  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def run_ns(pid):
    """Time the process's threads have run, in ns (schedstat's first field, summed over its
    threads): exact, where utime + stime come in clock ticks (10 ms) and are sampled."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def threads(pid):
    """{tid: (name, utime + stime)} of the process's threads."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[tid] = (name, int(fields[11]) + int(fields[12]))
    return out


def sample(case, nodes, window):
    pids = {n: clusterlab.batond_pids(case, n)[0] for n in nodes}
    start = {n: cpu_ticks(p) for n, p in pids.items()}
    start_ns = {n: run_ns(p) for n, p in pids.items()}
    start_threads = {n: threads(p) for n, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(window)  # the measurement itself: nothing to wait for
    elapsed = time.monotonic() - t0
    used = {n: (cpu_ticks(p) - start[n]) / TICKS for n, p in pids.items()}
    ran = {n: (run_ns(p) - start_ns[n]) / 1e9 for n, p in pids.items()}
    for n, p in pids.items():
        busy = []
        for tid, (name, t) in threads(p).items():
            before = start_threads[n].get(tid, (name, 0))[1]
            if t > before:
                busy.append((100.0 * (t - before) / TICKS / elapsed, name, tid))
        top = ", ".join(f"{name}[{tid}] {pct:.2f} %" for pct, name, tid in sorted(busy, reverse=True)[:4])
        print(f"    {n}: busiest threads: {top or 'none above the clock tick'}", flush=True)
    return {n: (100.0 * used[n] / elapsed, 100.0 * ran[n] / elapsed) for n in pids}


def report(lab, shares):
    """shares: name -> (% of a core from utime + stime, % from schedstat's run time)."""
    for n, (pct, run) in shares.items():
        print(f"  {lab:8} {n:4} {pct:6.2f} % of a core ({run:.3f} % by schedstat)", flush=True)
    ticks = [t for t, _ in shares.values()]
    runs = [r for _, r in shares.values()]
    print(f"  {lab:8} mean {sum(ticks) / len(ticks):6.2f} % per idle batond "
          f"({len(ticks)} daemons, {sum(ticks):.2f} % in total; by schedstat {sum(runs) / len(runs):.3f} % "
          f"mean)", flush=True)


def hello(window):
    topo = os.path.join(labcase.REPO, "deploy", "topologies", "hello.json")
    with labcase.LabCase("b-idlehello", topo) as case:
        case.wait_until("the node's console", lambda: clusterlab.quiet(
            lambda: case.console("node", "/counters"))(), timeout=20)
        time.sleep(2)  # let start-up settle before the window (a measurement, not a sync)
        report("hello", sample(case, ["node"], window))


def cluster(window):
    with tempfile.TemporaryDirectory(prefix="baton-idlecpu-") as d:
        www = os.path.join(d, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("cluster lab backend\n")
        topo = clusterlab.write_setup(d, www)
        with labcase.LabCase("b-idleclus", topo) as case:
            live = list(clusterlab.MEMBERS)
            master = case.wait_until("one master", clusterlab.quiet(
                lambda: clusterlab.converged(case, live)), timeout=30)
            case.wait_until("units settled", clusterlab.quiet(
                lambda: clusterlab.settled(case, master, live)), timeout=60)
            time.sleep(3)  # replication and rebalancing quiet down (a measurement, not a sync)
            report("cluster", sample(case, live, window))


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root for the lab's network namespaces")
        sys.exit(0)
    window = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    which = sys.argv[2] if len(sys.argv) > 2 else "both"
    os.environ.setdefault("BATON_BUILD", os.path.join(labcase.REPO, "build"))
    print(f"idle CPU per batond over {window:.0f} s (utime + stime from /proc/<pid>/stat)", flush=True)
    if which in ("hello", "both"):
        hello(window)
    if which in ("cluster", "both"):
        cluster(window)
