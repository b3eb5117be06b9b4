"""Interactive round trips through peplab's topology, alone and under a bulk transfer: the
measurement both tests/lab/test_pep_priority and tests/bench/pep_priority_bench.py make.

The interactive load is tcp_echo.py's probe (one 100-byte message every 50 ms, client -> server
echo on peplab.ECHO); the bulk is iperf3 from the client to the server (peplab.IPERF), which
crosses the WAN in the same direction as the probes' requests.
"""

import json
import os
import re
import subprocess
import threading
import time

import peplab
import tcp_echo

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


def echo(case, count, interval=0.05, size=100):
    """Runs `count` probes from the client; returns tcp_echo.py's JSON (rtt_ms, p50_ms, p99_ms)."""
    out = case.run("client", PY, os.path.join(HERE, "tcp_echo.py"), "probe", peplab.SERVER, str(peplab.ECHO),
                   "--count", str(count), "--interval", str(interval), "--size", str(size),
                   timeout=count * interval * 20 + 60)
    return json.loads(out)


def under_bulk(case, count, ramp_intervals=3, before_probes=None, during=None):
    """Starts iperf3 (client -> server), waits until it has reported `ramp_intervals` one-second
    intervals (the transfer is past its start-up), calls before_probes() if given, runs `count`
    probes (with during(stop), if given, in a thread until they end: stop is a threading.Event),
    lets iperf3 finish. Returns (probe JSON, iperf3's receiver rate in Mbit/s). The probes are
    one at a time: when the bulk delays them the later ones are sent after it ended; only those
    sent while it ran count (the JSON's "probes" and "after_bulk" say how many)."""
    seconds = ramp_intervals + int(count * 0.05) + 4
    bulk = subprocess.Popen(["ip", "netns", "exec", case.netns("client"), "iperf3", "-c", peplab.SERVER, "-p",
                             str(peplab.IPERF), "-t", str(seconds), "-i", "1", "-f", "m", "--forceflush"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    case.background.append(bulk)
    lines = []
    intervals = 0
    while intervals < ramp_intervals:
        line = bulk.stdout.readline()
        if not line:
            raise RuntimeError("iperf3 ended before its transfer ramped up: " + "".join(lines[-5:]))
        lines.append(line)
        if re.search(r"\d+\.\d+-\d+\.\d+\s+sec", line):
            intervals += 1
    if before_probes:
        before_probes()
    stop = threading.Event()
    sampler = threading.Thread(target=during, args=(stop,)) if during else None
    if sampler:
        sampler.start()
    try:
        result = echo(case, count)
    finally:
        stop.set()
        if sampler:
            sampler.join()
    rest, _ = bulk.communicate(timeout=seconds + 60)
    bulk_end = started + seconds - 0.5  # iperf3 sends for `seconds` after its start-up
    keep = [(r, t) for r, t in zip(result["rtt_ms"], result["sent_s"]) if t < bulk_end]
    if keep:
        after = len(result["rtt_ms"]) - len(keep)
        result = tcp_echo.summary([r for r, _ in keep], [t for _, t in keep])
        result["after_bulk"] = after
    result["probes"] = len(keep)
    mbit = 0.0
    for line in (lines + rest.splitlines()):
        m = re.search(r"([\d.]+) Mbits/sec.*receiver", line)
        if m:
            mbit = float(m.group(1))
    return result, mbit
