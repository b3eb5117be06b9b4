#!/usr/bin/python3
"""Benchmark: document 003's PK. Interactive round trips (one 100-byte message every 50 ms,
tests/lab/tcp_echo.py) alone and while a bulk iperf3 fills the link, through peplab's topology
(10 Mbit/s, 20 ms each way, no loss). Prints figures; never passes or fails on them.

  tests/bench/pep_priority_bench.py [--only top,split,unpaced,one,plain] [--probes 400] [--repeat 1]
  (root; batond from $BATON_BUILD, default the repository's build/; not part of ctest)

  top      baton with priorities and pep.top_backbone: the echo's port at priority 3 on backbones
           of its own, iperf3's at 0 on the shared one; both paced below the link (rate_mbit 10)
  split    the same priorities on one backbone for all (top_backbone off): strict priority in the
           PEP's queues, then the bulk's unsent bytes and its congestion window in the kernel
  unpaced  the same without rate_mbit: the backbone's BBR paces at its own estimate
  one      baton with every connection at priority 0 (paced): one queue, the bulk's backlog in front
  plain    no PEP (peplab --no-pep): plain TCP (the hosts' cubic) through the same link

For the baton runs also the backbone's path queueing (kernel srtt - min RTT, sampled during the
probes): BBR's standing queue at the emulated link, which the PEP does not control.
"""

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lab"))
import labcase  # noqa: E402
import pep_rtt  # noqa: E402
import peplab  # noqa: E402


def run(name, probes):
    work = tempfile.mkdtemp(prefix=f"baton-pepprio-{name}-")
    baton = name != "plain"
    topo = peplab.write(work, pep=baton, rate=10, delay=20, loss=0.0, seed=7,
                        priorities="one" if name == "one" else "split",
                        peer_rate_mbit=None if name == "unpaced" else 10, top_backbone=name == "top")
    result = {"name": name}
    with labcase.LabCase(f"bq-{name}", topo) as case:
        if baton:
            case.wait_until("backbones up", lambda: any(b["state"] == "up" for b in
                                                       case.console("branch", "/pep")["backbones"]), timeout=30)
        alone = pep_rtt.echo(case, probes // 2)
        samples = []

        def sample(stop):
            while baton and not stop.wait(0.2):
                up = [b for b in case.console("branch", "/pep")["backbones"] if b["state"] == "up"]
                if up:
                    b = max(up, key=lambda b: b["bytes_out"])
                    samples.append(b["rtt_ms"] - b["min_rtt_ms"])

        loaded, mbit = pep_rtt.under_bulk(case, probes, during=sample)
        samples.sort()
        result.update({"alone_p50_ms": alone["p50_ms"], "alone_p99_ms": alone["p99_ms"],
                       "bulk_p50_ms": loaded["p50_ms"], "bulk_p99_ms": loaded["p99_ms"],
                       "bulk_max_ms": loaded["max_ms"], "bulk_mbit": mbit, "bulk_probes": loaded["probes"]})
        if samples:
            result["path_queue_median_ms"] = round(samples[len(samples) // 2], 1)
            result["path_queue_max_ms"] = round(samples[-1], 1)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="top,split,unpaced,one,plain")
    ap.add_argument("--probes", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each variant (p99 moves between runs)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    os.environ.setdefault("BATON_BUILD", os.path.join(labcase.REPO, "build"))
    results = []
    for _ in range(args.repeat):
        for n in args.only.split(","):
            results.append(run(n, args.probes))
            print("RESULT " + json.dumps(results[-1]), flush=True)
    label = {"top": "baton, top backbone", "split": "baton, priorities", "unpaced": "baton, prio., unpaced", "one": "baton, one priority",
             "plain": "plain TCP"}
    print("\nInteractive round trip (ms), one 100-byte message every 50 ms; bulk iperf3 filling 10 Mbit/s")
    print(f"{'':22} {'alone p50':>9} {'alone p99':>9} {'bulk p50':>9} {'bulk p99':>9} {'bulk Mbit/s':>11}"
          f" {'path queue med/max':>19} {'probes under bulk':>17}")
    for r in results:
        pq = (f"{r['path_queue_median_ms']:.0f}/{r['path_queue_max_ms']:.0f}" if "path_queue_median_ms" in r
              else "-")
        print(f"{label[r['name']]:22} {r['alone_p50_ms']:9.1f} {r['alone_p99_ms']:9.1f} {r['bulk_p50_ms']:9.1f}"
              f" {r['bulk_p99_ms']:9.1f} {r['bulk_mbit']:11.2f} {pq:>19} {r['bulk_probes']:>17}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
