#!/usr/bin/python3
"""Benchmark: connection set-up time through 1, 2 and 3 levels of service level routing
(document 001) against a direct connection. It prints figures; it never passes or fails on them.

  tests/bench/slr_setup.py [--count 300] [--delays 0,10] [--warmup 20] [--block 50]
                           [--no-shortcuts]
  (root; batond and baton-linkemu from $BATON_BUILD, default the repository's build/; not in ctest)

The lab, written into a temporary directory (topology, certificates, policies) and brought up
under the prefix "bsb":

  client 10.61.0.2 -- edge 10.61.0.1 / 10.51.0.1 -- bridge "core" 10.51.0.0/24
  core: network SLR net .10 -> system SLR sys .20 -> site SLR site .30 -> host .41
        (one chain: each level's only upper is the one before it)

The host runs baton's host agent (static load 0.5) and python's http.server on :80, and holds the
virtual addresses 10.200.1.1, .2 and .3 on lo; all three lie in its virtual subnet 10.200.1.0/24,
which climbs the whole chain. Every SLR has a TUN (slr0) into which the kernel routes
10.200.1.0/24, so each can be the top of a path; the edge routes each virtual address to a
different top, so one lab holds every setup:
  direct    the host's real address 10.51.0.41 (no SLR),
  1 level   10.200.1.1 via site -> host,
  2 levels  10.200.1.2 via sys -> site -> host,
  3 levels  10.200.1.3 via net -> sys -> site -> host.
The host always answers the client straight through the edge (direct server return). A probe in
the client's namespace (this file, --probe) opens COUNT fresh TCP connections per setup, one at a
time, in blocks of BLOCK per setup taken in turn (so slow drifts of the shared machine hit every
setup alike), after WARMUP unmeasured ones each. "connect" is the time of connect() (SYN sent to
SYN-ACK received: the SYN crosses every level, the SYN-ACK none); "ttfb" is from the start of
connect() to the first byte of the answer to a small HTTP GET (the request follows the shortcut
to the host once the site's tunnel object has reached the top, else the pinned entries). The
figures are p50/p90/p99 in microseconds with the ratio to direct; failed connections are counted
apart. Each setup's growth of the SLRs' /slr data_path counters (new_flows, tunneled,
shortcut_hits) shows the connections took its path. The links have no delay in the first run
(the figures are baton's own cost per level); with --delays 0,10 (the default) a second lab delays
the client's link 10 ms each way (baton-linkemu). --no-shortcuts turns the sites' tunnel objects
off, so every packet of a connection crosses every level.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LABDIR = os.path.join(REPO, "tests", "lab")
sys.path.insert(0, LABDIR)
os.environ.setdefault("BATON_BUILD", os.path.join(REPO, "build"))  # as deploy/lab does
import labcase  # noqa: E402
from slrlab import SLR_SYSCTLS, _policy  # noqa: E402

PREFIX = "bsb"
CLIENT, EDGE_OUT, EDGE_CORE = "10.61.0.2", "10.61.0.1", "10.51.0.1"
HOST = ("host", "10.51.0.41")
SLRS = {"net": ("network", "10.51.0.10"), "sys": ("system", "10.51.0.20"),
        "site": ("site", "10.51.0.30")}
UPPER = {"sys": "net", "site": "sys"}
SUBNET = "10.200.1.0/24"
INTERVAL_MS = 500
SLR_PORT = 4792
# setup name -> (address the client connects to, the SLRs on its path, top first)
SETUPS = {"direct": (HOST[1], []),
          "1 level": ("10.200.1.1", ["site"]),
          "2 levels": ("10.200.1.2", ["sys", "site"]),
          "3 levels": ("10.200.1.3", ["net", "sys", "site"])}
VIPS = [a for a, path in SETUPS.values() if path]
COUNTERS = ("new_flows", "tunneled", "shortcut_hits")


# ---- the probe (runs in the client's namespace) ----

def probe_one(address, timeout):
    """One fresh connection: (connect µs, first byte µs from the start of connect)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout)
    try:
        t0 = time.perf_counter_ns()
        s.connect((address, 80))
        t1 = time.perf_counter_ns()
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: bench\r\n\r\n")
        first = s.recv(4096)
        t2 = time.perf_counter_ns()
        if not first.startswith(b"HTTP/1."):
            raise RuntimeError(f"not an HTTP answer: {first[:40]!r}")
        while s.recv(65536):  # read to the server's close, so no connection is left half-done
            pass
        return (t1 - t0) / 1000, (t2 - t0) / 1000
    finally:
        s.close()


def probe_main(a):
    samples, errors = [], []
    for _ in range(a.count):
        try:
            samples.append(probe_one(a.address, a.timeout))
        except Exception as e:  # noqa: BLE001 - every failure is counted and reported
            errors.append(repr(e))
    print(json.dumps({"samples": samples, "errors": errors}))


# ---- the lab ----

def write_setup(d, www, delay_ms, shortcuts):
    """Certificates, policies and the topology in d; returns the topology's path."""
    subprocess.run([os.path.join(REPO, "deploy", "make-certs.sh"), os.path.join(d, "ca"),
                    *SLRS, HOST[0]], check=True, stdout=subprocess.DEVNULL)
    common = {"update_interval_ms": INTERVAL_MS, "expiry_ms": 3 * INTERVAL_MS,
              "selection": "spread", "function": {"kind": "least_load"}, "aggregate": "min",
              "port": SLR_PORT}
    tun = {"backend": "tun", "interfaces": [{"name": "slr0", "kind": "tun"}]}
    default = [{"dst": "default", "via": EDGE_CORE}]
    nodes = {
        "client": {"routes": [{"dst": "default", "via": EDGE_OUT}]},
        "edge": {"comment": "each virtual address to a different top SLR; the rest direct",
                 "sysctls": {"net.ipv4.ip_forward": 1},
                 "routes": [{"dst": f"{a}/32", "via": SLRS[path[0]][1]}
                            for a, path in SETUPS.values() if path]},
    }
    for name, (level, address) in SLRS.items():
        slr = dict(common, level=level, shortcuts=shortcuts)
        if name in UPPER:
            up = UPPER[name]
            slr["upper"] = [{"name": up, "address": SLRS[up][1], "port": SLR_PORT}]
        policy = _policy(d, name, address, slr, io=tun)
        nodes[name] = {
            "comment": f"{level} SLR: the kernel routes {SUBNET} into slr0",
            "sysctls": dict(SLR_SYSCTLS, **{"net.ipv4.ip_forward": 1}),
            "routes": default,
            "commands": [{"name": "tun", "shell":
                          "ip tuntap add dev slr0 mode tun && ip link set slr0 up && "
                          f"ip route add {SUBNET} dev slr0"}],
            "batond": {"policy": policy, "args": ["-q"], "ready_timeout_s": 60}}
    slr = dict(common, level="host", virtual_subnets=[SUBNET],
               upper=[{"name": "site", "address": SLRS["site"][1], "port": SLR_PORT}],
               load={"source": "static", "value": 0.5}, progress_timeout_ms=1000)
    policy = _policy(d, HOST[0], HOST[1], slr, roles=("host_agent",),
                     io={"backend": "tun", "interfaces": [{"name": "vh0", "kind": "tun"}]})
    nodes[HOST[0]] = {
        # direct server return: never answer ARP for, nor announce ARP from, the virtual addresses
        "sysctls": dict(SLR_SYSCTLS, **{"net.ipv4.conf.all.arp_ignore": 1,
                                        "net.ipv4.conf.all.arp_announce": 2}),
        "routes": default,
        "commands": [
            {"name": "virtual-addresses", "shell":
             " && ".join(f"ip addr add {a}/32 dev lo" for a in VIPS)
             + " && ip tuntap add dev vh0 mode tun && ip link set vh0 up && "
               "sysctl -qw net.ipv4.conf.vh0.rp_filter=0"},
            {"name": "http", "argv": ["/usr/bin/python3", "-m", "http.server", "80", "--bind",
                                      "0.0.0.0", "--directory", www],
             "ready": {"http": f"{HOST[1]}:80/index.html", "timeout_s": 10}}],
        "batond": {"policy": policy, "args": ["-q"], "ready_timeout_s": 60}}
    client_link = {"a": {"node": "client", "ifname": "eth0", "addresses": [f"{CLIENT}/24"]},
                   "b": {"node": "edge", "ifname": "eth0", "addresses": [f"{EDGE_OUT}/24"]},
                   "offloads": False}
    if delay_ms:
        client_link["emulate"] = {"both": {"delay_ms": delay_ms, "queue_frames": 1000}}
    links = [client_link,
             {"a": {"node": "edge", "ifname": "eth1", "addresses": [f"{EDGE_CORE}/24"]},
              "b": {"bridge": "core"}, "offloads": False}]
    for node, address in [(n, a) for n, (_, a) in SLRS.items()] + [HOST]:
        links.append({"a": {"node": node, "ifname": "eth0", "addresses": [f"{address}/24"]},
                      "b": {"bridge": "core"}, "offloads": False})
    topo = {"name": "slr-setup", "comment": "tests/bench/slr_setup.py: direct vs 1, 2, 3 SLR levels",
            "nodes": nodes, "bridges": {"core": {}}, "links": links}
    path = os.path.join(d, "slr-setup.json")
    with open(path, "w") as f:
        json.dump(topo, f, indent=1)
    return path


def quiet(f):
    def g():
        try:
            return f()
        except (labcase.Failure, ValueError, KeyError, StopIteration):
            return None
    return g


def next_hops(case, node):
    view = case.console(node, "/slr")
    r = next(r for r in view["routes"] if r["subnet"] == SUBNET)
    return {c["next_hop"] for c in r["candidates"]}


def counters(case):
    return {n: case.console(n, "/slr")["data_path"] for n in SLRS}


def probe(case, address, count, timeout=5.0):
    out = case.run("client", "/usr/bin/python3", os.path.abspath(__file__), "--probe",
                   "--address", address, "--count", str(count), "--timeout", str(timeout),
                   timeout=60 + count * 2 * timeout)
    return json.loads(out)


def percentile(sorted_xs, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_xs:
        return float("nan")
    k = (len(sorted_xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (k - lo)


def run(case, a, delay_ms):
    # The hierarchy forms: each SLR's table lists the next level for the service subnet.
    t0 = time.monotonic()
    want = {"net": {SLRS["sys"][1]}, "sys": {SLRS["site"][1]}, "site": {HOST[1]}}
    for node, hops in want.items():
        case.wait_until(f"{node}'s table to list {sorted(hops)}",
                        quiet(lambda: next_hops(case, node) == hops), timeout=30)
    print(f"  hierarchy formed in {time.monotonic() - t0:.1f} s", flush=True)
    for name, (address, _) in SETUPS.items():
        r = probe(case, address, a.warmup)
        if r["errors"]:
            print(f"  warm-up {name}: {len(r['errors'])} errors, first {r['errors'][0]}")
    samples = {name: [] for name in SETUPS}
    errors = {name: [] for name in SETUPS}
    grown = {name: {n: dict.fromkeys(COUNTERS, 0) for n in SLRS} for name in SETUPS}
    names = list(SETUPS)
    rounds = (a.count + a.block - 1) // a.block
    for i in range(rounds):
        n = min(a.block, a.count - i * a.block)
        for name in names[i % len(names):] + names[:i % len(names)]:
            before = counters(case)
            r = probe(case, SETUPS[name][0], n)
            after = counters(case)
            samples[name] += r["samples"]
            errors[name] += r["errors"]
            for node in SLRS:
                for k in COUNTERS:
                    grown[name][node][k] += after[node][k] - before[node][k]
    report(a, delay_ms, samples, errors, grown)


def report(a, delay_ms, samples, errors, grown):
    ps = (50, 90, 99)
    stats = {}
    for name, xs in samples.items():
        stats[name] = {m: [percentile(sorted(x[i] for x in xs), p) for p in ps]
                       for i, m in enumerate(("connect", "ttfb"))}
    print(f"\n  client link delay {delay_ms} ms each way; {a.count} connections per setup; "
          f"shortcuts {'off' if a.no_shortcuts else 'on'}; µs (ratio to direct)")
    head = "  {:9} {:>5}".format("setup", "ok")
    for m in ("connect", "ttfb"):
        head += "".join(f" {m + ' p' + str(p):>20}" for p in ps)
    print(head)
    for name in SETUPS:
        line = f"  {name:9} {len(samples[name]):5}"
        for m in ("connect", "ttfb"):
            for j in range(len(ps)):
                v, d = stats[name][m][j], stats["direct"][m][j]
                line += f" {v:11.0f} ({v / d:4.2f}x)" if d else f" {v:20.0f}"
        if errors[name]:
            line += f"  {len(errors[name])} failed, first: {errors[name][0]}"
        print(line)
    print("\n  growth of the SLRs' /slr data_path counters per setup "
          "(new_flows / tunneled / shortcut_hits):")
    print("  {:9} ".format("setup") + "".join(f"{n:>22}" for n in SLRS))
    for name in SETUPS:
        print(f"  {name:9} " + "".join(
            f"{' / '.join(str(grown[name][n][k]) for k in COUNTERS):>22}" for n in SLRS))
    print(flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=300, help="measured connections per setup")
    ap.add_argument("--warmup", type=int, default=20, help="unmeasured connections per setup first")
    ap.add_argument("--block", type=int, default=50, help="connections per setup in one turn")
    ap.add_argument("--delays", default="0,10", help="client link delays (ms), one lab each")
    ap.add_argument("--no-shortcuts", action="store_true", help="sites send no tunnel objects")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--address", help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=5.0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.probe:
        return probe_main(a)
    if os.geteuid() != 0:
        print("SKIP: the benchmark needs root to create network namespaces")
        sys.exit(labcase.SKIP)

    def terminate(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    print(f"batond from {os.environ['BATON_BUILD']}", flush=True)
    for delay_ms in [int(x) for x in a.delays.split(",") if x.strip()]:
        with tempfile.TemporaryDirectory(prefix="baton-slr-setup-") as d:
            www = os.path.join(d, "www")
            os.makedirs(www)
            with open(os.path.join(www, "index.html"), "w") as f:
                f.write("slr setup bench\n")
            os.chmod(d, 0o755)
            topology = write_setup(d, www, delay_ms, not a.no_shortcuts)
            print(f"lab with the client link delayed {delay_ms} ms each way", flush=True)
            try:
                with labcase.LabCase(PREFIX, topology) as case:
                    run(case, a, delay_ms)
            except labcase.Failure as e:
                print(f"FAIL {e}")
                sys.exit(1)


if __name__ == "__main__":
    main()
