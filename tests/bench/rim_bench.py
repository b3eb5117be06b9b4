#!/usr/bin/python3
"""Benchmark: document 000's live TCP hand-off, seen from the receiver. Prints figures; never
passes or fails on them.

  tests/bench/rim_bench.py [--handoffs 20] [--interval 0.8]
  (root; batond from $BATON_BUILD, default the repository's build/; not part of ctest)

The lab is tests/lab/rimlab.py's (a client, a router, rim hosts a, c and e, each path 50 Mbit/s
and 5 ms each way). The client (rim_client.py) reads a 100 MB object from a at 5 MB/s and notes
every arrival; the flow is handed a -> c -> e -> a -> ... HANDOFFS times, one every INTERVAL s
(POST /rim/handoff at the host holding it). Printed:
  - the gap at the receiver per hand-off: the longest time between two arrivals in the second
    after the hand-off was asked, p50 / p99 / max (goal: 50 ms), beside the same figure for
    seconds with no hand-off (the reader's own pace);
  - the hand-off's time from asked to taken at the giver, p50 / p99;
  - the state carried per hand-off (the fixed fields and the object's name: the unacknowledged
    data is read from the taker's own copy), and the bytes in flight the taker re-read, mean and
    max, from the givers' rim_handed_off events.
--mesh: the rim hosts also share a LAN (rimlab.py's mesh), which their links and the hand-off's
state take instead of the 50 Mbit/s paths the download fills.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lab"))
import labcase  # noqa: E402
import rimlab  # noqa: E402

CLIENT_PY = os.path.join(os.path.dirname(HERE), "lab", "rim_client.py")
FIXED_STATE = 4 + 2 + 4 + 2 + 4 + 4 + 4 + 4 + 3 + 3 * 1 + 4 + 5 * 4 + 8 + 8 + 4 + 4  # rim_take's fields


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--handoffs", type=int, default=20)
    ap.add_argument("--interval", type=float, default=0.8)
    ap.add_argument("--mesh", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    work = tempfile.mkdtemp(prefix="baton-rim-bench-")
    topo = rimlab.write(work, mesh=a.mesh)
    data = os.urandom(100_000_000)
    want = hashlib.sha256(data).hexdigest()
    for name in rimlab.HOSTS:
        with open(os.path.join(work, f"www-{name}", "100M.bin"), "wb") as f:
            f.write(data)
    with labcase.LabCase("b-rim", topo) as case:
        rim = lambda n: case.console(n, "/rim")
        case.wait_until("links", lambda: all(all(m["linked"] for m in rim(n)["members"]) for n in rimlab.HOSTS),
                        timeout=30)
        arrivals_file = os.path.join(work, "arrivals")
        client = case.start("client", "/usr/bin/python3", CLIENT_PY, rimlab.HOSTS["a"], str(rimlab.SERVICE_PORT),
                            "100M.bin", "--rate", "5000000", "--arrivals", arrivals_file, stdout=subprocess.PIPE)
        flow = case.wait_until("the flow", lambda: (rim("a")["flows"] or [{}])[0].get("flow"), timeout=20).split(" ")[0]
        time.sleep(1.0)
        order = ["a", "c", "e"]
        holder, asked, taken_ms = "a", [], []
        for i in range(a.handoffs):
            to = order[(order.index(holder) + 1) % 3]
            t = time.monotonic()
            answer = json.loads(case.run(holder, "curl", "-sS", "-X", "POST", "--max-time", "5",
                                         f"http://127.0.0.1:9000/rim/handoff?flow={flow}&to={to}"))
            if answer.get("to") == to:
                asked.append(t)
                taken_ms.append(answer["ms"])
                holder = to
            else:
                print(f"hand-off {holder} -> {to} not taken: {answer}")
            time.sleep(max(0.0, a.interval - (time.monotonic() - t)))
        out, _ = client.communicate(timeout=120)
        result = json.loads(out)
        with open(arrivals_file) as f:
            times = [float(x) for x in f.read().split()]
        events = []
        for n in rimlab.HOSTS:
            events += [e for e in case.console(n, "/events?after=0") if e.get("event") == "rim_handed_off"]

    def longest_gap(t0, t1):
        inside = [t for t in times if t0 <= t <= t1]
        before = [t for t in times if t < t0]
        seq = ([before[-1]] if before else []) + inside
        return max((b - x for x, b in zip(seq, seq[1:])), default=t1 - t0)

    gaps = [longest_gap(t, t + 1.0) * 1000 for t in asked]
    quiet = [longest_gap(t + a.interval / 2 - 0.25, t + a.interval / 2 + 0.25) * 1000 for t in asked]
    in_flight = [int(e["sent_unacked"]) for e in events if "sent_unacked" in e]
    state = [FIXED_STATE + len("100M.bin") for _ in in_flight]
    print(f"rim hand-off benchmark: {len(asked)} hand-offs of a live 100 MB download read at 5 MB/s; "
          f"sha256 {'equal' if result['sha256'] == want else 'WRONG'}, "
          f"reset {result['reset']}; rim LAN {'yes' if a.mesh else 'no (the state crosses the download paths)'}")
    if gaps:
        print(f"  gap at the receiver per hand-off : p50 {pct(gaps, 50):6.1f} ms  p99 {pct(gaps, 99):6.1f} ms  "
              f"max {max(gaps):6.1f} ms   (goal 50 ms)")
        print(f"  same, half a second between     : p50 {pct(quiet, 50):6.1f} ms  p99 {pct(quiet, 99):6.1f} ms")
        print(f"  asked -> taken at the giver      : p50 {pct(taken_ms, 50):6.1f} ms  p99 {pct(taken_ms, 99):6.1f} ms")
    if state:
        print(f"  state per hand-off               : {max(state)} bytes (the receive queue adds what the client "
              f"sent and the server had not read: nothing here)")
        print(f"  in flight, re-read by the taker  : mean {statistics.mean(in_flight) / 1024:6.1f} KiB  "
              f"max {max(in_flight) / 1024:6.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
