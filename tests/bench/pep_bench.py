#!/usr/bin/python3
"""Benchmark: document 003's PEP against plain TCP over the same long, lossy link. It prints
figures and ratios; it never passes or fails on them.

  tests/bench/pep_bench.py [--seconds 30] [--fetches 20] [--only cubic,bbr,baton,baton-copies,baton-wire]
                           [--idle 1000]
  (root; batond from $BATON_BUILD, default the repository's build/; not part of ctest)

The lab is tests/lab/peplab.py's (client -- branch -- WAN -- hub -- server; the WAN a
baton-linkemu at 10 Mbit/s, 300 ms and 1% loss each way, the same seed for every run):
  cubic, bbr  the middle nodes only route (no batond); the congestion control of the client's and
              the server's routes is set with `ip route ... congctl` (a namespace cannot set its
              default) and checked with `ss -ti` on the server during the bulk run
  baton       both middle nodes run batond with the role pep; the backbone's TCP uses the
              policy's congestion control (bbr), checked the same way
  baton-copies  the same with redundant_kbyte 128: the first 128 KiB of each connection and
              direction also cross the second backbone (RTD copies)
  baton-wire  baton with the spoofed profile saying compress and encrypt (peplab wire=True): the
              bulk run's iperf3 payload is random (compression skips it: this is the cost of
              encryption and of trying), the text fetch is compressed
For each: bulk goodput (iperf3 -R, the server sends, SECONDS s) as a share of the link's goodput
ceiling (10 Mbit/s x 1448 / 1514 = 9.56 Mbit/s), and the fetch time of 100 KB on a new connection
(curl, time_total, FETCHES times, median and p90) against 1 RTT + size / rate = 0.68 s.
For every run also: a 16 MB log-like text (peplab.log_text) fetched once through 8080, its goodput
as a share of the ceiling (over 100% when compressed) and what the hub's backbones sent.
For baton also: the batonds' memory with IDLE spoofed connections open (RSS growth per
connection) and their CPU time per Mbit/s moved during the bulk run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lab"))
import clusterlab  # noqa: E402
import labcase  # noqa: E402
import peplab  # noqa: E402

CEILING_MBIT = 10 * 1448 / 1514
SIZE = 100_000
TEXT_SIZE = 16_000_000
IDEAL_FETCH_S = 0.6 + SIZE * 8 / 10e6


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sender_congestion(case, node):
    out = case.run(node, "ss", "-tin", "state", "established").decode()
    for word in ("bbr", "cubic", "reno"):
        if f" {word} " in out or f"\t {word}" in out or f"\t{word} " in out:
            return word
    return "?"


def measure(name, case, seconds, fetches, idle):
    result = {"name": name}
    baton = name.startswith("baton")
    pids = {n: clusterlab.batond_pids(case, n) for n in ("branch", "hub")} if baton else {}
    cpu0 = {n: cpu_seconds(p[0]) for n, p in pids.items() if p}
    out = subprocess.Popen(["ip", "netns", "exec", case.netns("client"), "iperf3", "-c", peplab.SERVER, "-R", "-t",
                            str(seconds), "--json"], stdout=subprocess.PIPE, text=True)
    time.sleep(seconds / 2)  # a sample of the sender's congestion control mid-run
    result["congestion"] = sender_congestion(case, "hub" if baton else "server")
    report = json.loads(out.communicate(timeout=seconds + 120)[0])
    mbit = report["end"]["sum_received"]["bits_per_second"] / 1e6
    result["bulk_mbit"] = mbit
    if cpu0:
        result["cpu_s_per_mbit"] = {n: round((cpu_seconds(pids[n][0]) - cpu0[n]) / (mbit * seconds), 5)
                                    for n in cpu0}
    cpu0 = {n: cpu_seconds(p[0]) for n, p in pids.items() if p}
    wire0 = sum(b["wire_bytes_out"] for b in case.console("hub", "/pep")["backbones"]) if baton else 0
    t = float(case.run("client", "curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}", "--max-time", "300",
                       f"http://{peplab.SERVER}:{peplab.HTTP}/text.log", timeout=320).decode())
    text_mbit = TEXT_SIZE * 8 / t / 1e6
    result["text_mbit"] = text_mbit
    if baton:
        hub = case.console("hub", "/pep")
        result["text_wire_share"] = round((sum(b["wire_bytes_out"] for b in hub["backbones"]) - wire0) / TEXT_SIZE, 3)
        result["text_cpu_s_per_mbit"] = {n: round((cpu_seconds(pids[n][0]) - cpu0[n]) / (text_mbit * t), 5)
                                         for n in cpu0}
    times = []
    for _ in range(fetches):
        t = case.run("client", "curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}", "--max-time", "60",
                     f"http://{peplab.SERVER}:{peplab.HTTP}/100K.bin", timeout=90)
        times.append(float(t.decode()))
    times.sort()
    result["fetch_median_s"] = statistics.median(times)
    result["fetch_p90_s"] = times[int(round(0.9 * (len(times) - 1)))]
    if baton and idle:
        rss0 = {n: rss_kib(p[0]) for n, p in pids.items()}
        holder = subprocess.Popen(
            ["ip", "netns", "exec", case.netns("client"), "/usr/bin/python3", "-c",
             "import socket,sys\nss=[]\n"
             f"for i in range({idle}):\n s=socket.create_connection(('{peplab.SERVER}',{peplab.TERM}));"
             " s.sendall(b'wait idle%d\\n' % i); ss.append(s)\n"
             "for s in ss: s.recv(6)\nprint('open', flush=True)\nsys.stdin.readline()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holder.stdout.readline()
        conns = case.console("branch", "/pep")["connections"]
        rss1 = {n: rss_kib(p[0]) for n, p in pids.items()}
        result["idle"] = {"connections": conns,
                          "kib_per_connection": {n: round((rss1[n] - rss0[n]) / max(conns, 1), 1) for n in rss0}}
        holder.communicate("", timeout=60)
    return result


def run(name, args):
    work = tempfile.mkdtemp(prefix=f"baton-pepbench-{name}-")
    baton = name.startswith("baton")
    topo = peplab.write(work, pep=baton, seed=7, redundant_kbyte=128 if name == "baton-copies" else 0,
                        wire=name == "baton-wire")
    www = os.path.join(work, "www")
    with open(os.path.join(www, "100K.bin"), "wb") as f:
        f.write(os.urandom(SIZE))
    with open(os.path.join(www, "text.log"), "wb") as f:
        f.write(peplab.log_text(TEXT_SIZE, 5))
    prefix = {"cubic": "bp-cubic", "bbr": "bp-bbr", "baton": "bp-baton", "baton-copies": "bp-copies",
              "baton-wire": "bp-wire"}[name]
    with labcase.LabCase(prefix, topo) as case:
        if baton:
            case.wait_until("backbones up", lambda: any(b["state"] == "up" for b in
                                                       case.console("branch", "/pep")["backbones"]), timeout=30)
        else:
            for node, via in (("client", peplab.BRANCH_LAN), ("server", peplab.HUB_LAN)):
                case.run(node, "ip", "route", "replace", "default", "via", via, "congctl", name)
        return measure(name, case, args.seconds, args.fetches, args.idle)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--fetches", type=int, default=20)
    ap.add_argument("--only", default="cubic,bbr,baton,baton-copies,baton-wire")
    ap.add_argument("--idle", type=int, default=1000)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    os.environ.setdefault("BATON_BUILD", os.path.join(labcase.REPO, "build"))
    results = []
    for n in args.only.split(","):
        results.append(run(n, args))
        print("RESULT " + json.dumps(results[-1]), flush=True)
    print(f"\nPEP benchmark: 10 Mbit/s, 300 ms and 1% loss each way; ceiling {CEILING_MBIT:.2f} Mbit/s, "
          f"ideal 100 KB fetch {IDEAL_FETCH_S:.2f} s")
    print(f"{'':12} {'sender cc':>9} {'bulk Mbit/s':>11} {'of ceiling':>10} {'fetch median':>12} {'x ideal':>7} "
          f"{'fetch p90':>9} {'x ideal':>7}")
    for r in results:
        print(f"{r['name']:12} {r['congestion']:>9} {r['bulk_mbit']:11.2f} {r['bulk_mbit'] / CEILING_MBIT:10.0%} "
              f"{r['fetch_median_s']:11.2f}s {r['fetch_median_s'] / IDEAL_FETCH_S:7.2f} "
              f"{r['fetch_p90_s']:8.2f}s {r['fetch_p90_s'] / IDEAL_FETCH_S:7.2f}")
    print(f"\n{'':12} {'16 MB text':>10} {'of ceiling':>10} {'WAN share':>9}  CPU s per Mbit (text)")
    for r in results:
        print(f"{r['name']:12} {r['text_mbit']:10.2f} {r['text_mbit'] / CEILING_MBIT:10.0%} "
              f"{r.get('text_wire_share', float('nan')):9.3f}  {r.get('text_cpu_s_per_mbit', '')}")
    for r in results:
        if "cpu_s_per_mbit" in r:
            print(f"{r['name']}: CPU seconds per Mbit moved: {r['cpu_s_per_mbit']}")
        if "idle" in r:
            print(f"{r['name']}: {r['idle']['connections']} idle spoofed connections: "
                  f"RSS KiB per connection {r['idle']['kib_per_connection']}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
