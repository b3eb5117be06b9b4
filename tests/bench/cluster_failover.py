#!/usr/bin/python3
"""Benchmark: failover gaps of baton's cluster (document 004) against keepalived's VRRP, and
baton's replication cost per flow. It prints figures; it never passes or fails on them.

  tests/bench/cluster_failover.py [--rounds 20] [--adverts 1,0.1,0.01]
                                  [--only replication,baton,keepalived] [--interval 0.01]
                                  [--timers master_watchdog_ms=100,master_offer_ms=50]
  (root; batond from $BATON_BUILD, default the repository's build/; not part of ctest)

Both systems run in the cluster3 lab (deploy/topologies/cluster3.json: client 10.40.0.2 on bridge
"out" with m1..m3; service address 10.40.0.100) and are measured by the same probe client,
tests/bench/failover_probe.py, in the client's namespace, aimed at 10.40.0.100:9000, a TCP echo
service (tests/lab/cluster_client.py serve). Every 10 ms it sends a 64-byte request in two ways and
logs each answer's arrival: "persist", one long-lived connection (ping-pong; reconnects if the
connection breaks), and "fresh", a new connection per request (sent on schedule, whether or not
earlier ones were answered). The gap of a kill is the longest interval without an answer among
those that end after the kill (from 1 s before it on); "recovered" is the end of that interval less
the kill time. A silence of over 100 ms that ended before the kill is reported as an outage of its
own (e.g. a spurious VRRP failover). p99 of 20 rounds interpolates between the two largest.
  baton      members m1..m3 run batond (NAT to echo servers on backends b1, b2). Each round the
             member owning the persistent connection's work unit is killed with kill -9; the
             fresh connections use local ports whose units that member owns, so every probe needs
             the failover. The member is started again and the round ends when the group has one
             master over all three and all 1024 units are owned, backed up and balanced. The
             victim is the master in every other round and a non-master member otherwise
             (figures are also given per kind of victim).
  keepalived m1..m3 run keepalived (VRRPv3, vrrp only, priorities 250/150/50 with nopreempt, VIP
             10.40.0.100/24 on eth0, one config and pid files per node in a temporary directory,
             logs in the lab's logs) and the echo service themselves. Each round the MASTER's
             keepalived processes are stopped and killed with kill -9 (all stopped first: the vrrp
             child would otherwise see its parent die and resign with a priority 0 advertisement)
             and its eth0 is taken down at once: a killed keepalived leaves the VIP on its
             interface and the host would go on answering, so the host leaves the segment as a
             dead host does (a killed batond, in contrast, leaves nothing that answers).
             Run for every advert_int given (default 1 s, 0.1 s and 0.01 s, the smallest that
             keepalived 2.2.7 accepts with VRRPv3: "number '0.001' outside range
             [0.010000, 255.000000]").
Replication: during N steady curl downloads through the cluster IP, the growth of the members'
/counters cluster.replication.bytes (the gateway's deltas - and checkpoints - handed to the group
for the unit's backup) and of group.messages_sent.state_delta, per flow per second; and the bytes the
members' group links sent (tcp_info bytes_sent of the port 4790 connections, `ss -ti`) over the
idle cluster's, per flow per second.
"""

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import queue

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LABDIR = os.path.join(REPO, "tests", "lab")
sys.path.insert(0, LABDIR)
os.environ.setdefault("BATON_BUILD", os.path.join(REPO, "build"))  # as deploy/lab does
import labcase  # noqa: E402
import clusterlab  # noqa: E402
from clusterlab import (BACKENDS, CLIENT, HTTP, MEMBERS, VIP, converged,  # noqa: E402
                        document_unit, kill_batond, make_bridges_hubs, member_of, quiet, settled,
                        start_batond, static_neighbours, write_setup)

PROBE_PY = os.path.join(HERE, "failover_probe.py")
ECHO_PY = os.path.join(LABDIR, "cluster_client.py")
ECHO_PORT = 9000
ECHO = {"port": ECHO_PORT, "backends": [{"address": a, "port": ECHO_PORT}
                                        for a in BACKENDS.values()]}
BEFORE_S = 1.0        # steady traffic before each kill; also the gap window's start
RESUMED_RECENT = 5    # answers in the probe's last 0.2 s that mean "flowing again"
ROUND_TIMEOUT = 30.0
SPONTANEOUS_S = 0.1   # a silence this long before the kill is reported as an outage of its own
PERSIST_PORTS = range(40000, 50000)  # the persistent connections' local ports (units known)
FRESH_PORTS = range(20000, 40000)
FRESH_PER_ROUND = 800
REPLICATION_SETS = ((1, "20M"), (8, "2M"), (32, "500K"))
REPLICATION_WINDOW_S = 5.0
REPLICATION_PORTS = range(50000, 60000)


def log(msg):
    print(msg, flush=True)


# ---- figures ----

def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    v = sorted(values)
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def gap_of(answers, t_kill):
    """(gap, recovered, before) of one kill. gap: the longest interval without an answer among
    those that end after the kill (one that began before it, from BEFORE_S on, counts whole);
    recovered: that interval's end less the kill time; before: the longest interval without an
    answer that ended before the kill (an outage of its own, e.g. a spurious failover)."""
    a = [t for t in answers if t >= t_kill - BEFORE_S]
    pairs = list(zip(a, a[1:]))
    after = [p for p in pairs if p[1] > t_kill]
    before = max((q - p for p, q in pairs if q <= t_kill), default=0.0)
    if not after:
        return None, None, before
    p, q = max(after, key=lambda pq: pq[1] - pq[0])
    return q - p, q - t_kill, before


def summary(gaps):
    g = [x for x in gaps if x is not None]
    if not g:
        return "no rounds"
    return (f"p50 {percentile(g, 50) * 1000:7.0f} ms  p99 {percentile(g, 99) * 1000:7.0f} ms  "
            f"max {max(g) * 1000:7.0f} ms  (n={len(g)})")


# ---- the probe client ----

class Probe(clusterlab.JsonLinesClient):
    """failover_probe.py in the client's namespace."""

    def __init__(self, case, interval):
        super().__init__(case, ["/usr/bin/python3", PROBE_PY, "--to", f"{VIP}:{ECHO_PORT}",
                                "--interval", str(interval)])

    def ask(self, command, key, timeout=20):
        self.p.stdin.write((command + "\n").encode())
        self.p.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise labcase.Failure(f"the probe did not answer {command.split()[0]!r}")
            if item is None:
                raise labcase.Failure(f"the probe exited: {self.p.stderr.read().decode()[-500:]}")
            if key in item:
                return item[key]
            if "error" in item:
                raise labcase.Failure(f"probe: {item['error']}")

    def flowing(self, since=None):
        """True when both kinds answered at least RESUMED_RECENT times in the last 0.2 s (and,
        with `since`, some time after it)."""
        s = self.ask("status", "status")
        return all(s[k]["recent"] >= RESUMED_RECENT and (since is None or s[k]["last"] > since)
                   for k in ("persist", "fresh"))

    def quit(self):
        try:
            self.p.stdin.write(b"quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()


def run_round(case, probe, persist_port, fresh_ports, kill):
    """Starts the probe, kills (kill() returns what it killed), waits until both probe kinds
    answer again, stops the probe. Returns (what, {kind: (gap, recovered, failures)})."""
    probe.ask(f"start {persist_port} {','.join(map(str, fresh_ports)) or 'any'}", "started")
    case.wait_until("probe answers before the kill", lambda: probe.flowing(), timeout=15,
                    interval=0.02)
    time.sleep(BEFORE_S)  # steady traffic to measure the gap against (not a synchronisation)
    t_kill = time.monotonic()
    what = kill()
    try:
        case.wait_until("probe answers again after the kill",
                        lambda: time.monotonic() > t_kill + 0.3 and probe.flowing(t_kill + 0.05),
                        timeout=ROUND_TIMEOUT, interval=0.02)
    finally:
        report = probe.ask("stop", "report")
    out = {}
    for kind, r in report.items():
        gap, rec, before = gap_of(r["answers"], t_kill)
        out[kind] = (gap, rec, r["failures"], before)
    return what, out


def round_line(r, what, res):
    parts = []
    for kind in ("persist", "fresh"):
        gap, rec, fails, before = res[kind]
        f = ", ".join(f"{k} {v}" for k, v in fails.items())
        if before > SPONTANEOUS_S:
            f += f"{', ' if f else ''}an outage of {before * 1000:.0f} ms before the kill"
        parts.append(f"{kind} gap {gap * 1000:6.0f} ms (recovered {rec * 1000:+6.0f} ms"
                     f"{'; ' + f if f else ''})" if gap is not None else f"{kind} no answers")
    return f"  round {r + 1:2d} {what}: " + "; ".join(parts)


# ---- baton ----

def add_echo(topo):
    for name, address in BACKENDS.items():
        topo["nodes"][name]["commands"].append({
            "name": "echo",
            "argv": ["/usr/bin/python3", ECHO_PY, "serve", "--port", str(ECHO_PORT)],
            "ready": {"tcp": f"{address}:{ECHO_PORT}", "timeout_s": 10}})


def counters_sum(case):
    """Replication-related counters summed over the members, and flows per member."""
    tot = collections.Counter()
    flows = {}
    for n in MEMBERS:
        c = case.console(n, "/counters")
        rep = c.get("cluster", {}).get("replication", {})
        tot["bytes"] += rep.get("bytes", 0)
        tot["blobs"] += rep.get("blobs", 0)
        tot["state_delta"] += c.get("group", {}).get("messages_sent", {}).get("state_delta", 0)
        tot["checkpoints"] += rep.get("checkpoints", 0)
        tot["messages"] += sum(c.get("group", {}).get("messages_sent", {}).values())
        flows[n] = c.get("cluster", {}).get("flows")
        # What the group's links (TLS over TCP, port 4790) carried: tcp_info's bytes_sent.
        ss = case.run(n, "ss", "-tinH", "state", "established",
                      "( sport = :4790 or dport = :4790 )").decode()
        tot["wire"] += sum(int(x) for x in re.findall(r"bytes_sent:(\d+)", ss))
    return tot, flows


def replication(case):
    log("\n== replication cost under steady curl downloads through the cluster IP ==")
    log("  (cluster.replication.bytes: per owned unit whose flows changed, every 100 ms, the "
        "gateway's delta - or a checkpoint - handed to the group; summed over m1..m3)")
    results = []
    master = case.wait_until("one master", quiet(lambda: converged(case, list(MEMBERS))),
                             timeout=30)
    owners = {u["unit"]: member_of(u["owner"]) for u in case.console(master, "/units")}
    # Local ports whose units belong to m1, m2, m3 in turn: the flows spread over every member.
    by_member = {m: iter([p for p in REPLICATION_PORTS if owners[document_unit(CLIENT, p)] == m])
                 for m in MEMBERS}
    for n, rate in ((0, None),) + REPLICATION_SETS:
        ports = [next(by_member[list(MEMBERS)[i % len(MEMBERS)]]) for i in range(n)]
        curls = [case.start("client", "curl", "-sS", "--limit-rate", rate, "--max-time",
                            str(int(REPLICATION_WINDOW_S + 20)), "--local-port", str(port),
                            "-o", "/dev/null", f"http://{VIP}/file") for port in ports]
        time.sleep(1.5)  # every transfer under way and its flow replicated once (warm-up window)
        before, _ = counters_sum(case)
        t0 = time.monotonic()
        time.sleep(REPLICATION_WINDOW_S)  # the measured window of steady traffic
        after, flows = counters_sum(case)
        dt = time.monotonic() - t0
        alive = sum(c.poll() is None for c in curls)
        dead = [(port, c.returncode, c.stderr.read().decode(errors="replace").strip()[-200:])
                for port, c in zip(ports, curls) if c.poll() is not None]
        for c in curls:
            c.kill()
            c.wait()
        d = {k: after[k] - before[k] for k in after}
        per = d["bytes"] / n / dt if n else None
        if not n:
            idle_wire = d["wire"] / dt
        d["wire_per_flow"] = (d["wire"] / dt - idle_wire) / n if n else None
        results.append((n, rate, d, dt, per))
        log(f"  {n:2d} flows{' at ' + rate + 'B/s each' if rate else '          '}: "
            f"{d['bytes'] / dt:8.0f} B/s replicated ({d['blobs'] / dt:5.1f} blobs/s of "
            f"{d['bytes'] / max(d['blobs'], 1):.0f} B, "
            f"{d['state_delta'] / dt:5.1f} state_delta msg/s, {d['checkpoints']} checkpoints, "
            f"all group messages "
            f"{d['messages'] / dt:5.1f}/s, group links {d['wire'] / dt / 1000:6.1f} kB/s)"
            + (f" -> {per:6.0f} B/flow/s" if per else "")
            + f"; {alive}/{n} curls running at the end; flows placed by unit owner "
            f"{dict(collections.Counter(owners[document_unit(CLIENT, p)] for p in ports))}, "
            f"in the members' tables {flows}")
        for port, rc, err in dead[:3]:
            log(f"    curl from port {port} (unit {document_unit(CLIENT, port)}, owner "
                f"{owners[document_unit(CLIENT, port)]}) ended early: exit {rc} {err}")
        # the flows of this set go idle and expire; the next set's flows are new ones
    return results


def baton_part(args, d, results):
    www = os.path.join(d, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("cluster lab backend\n")  # the topology's readiness probe asks for it
    with open(os.path.join(www, "file"), "wb") as f:
        f.truncate(4 << 30)  # sparse: the content does not matter, only a steady stream
    topology = write_setup(d, www, services=(HTTP, ECHO), adjust=add_echo, timers=args.timers)
    policies = {n: os.path.join(d, f"{n}.json") for n in MEMBERS}
    with labcase.LabCase("bf-baton", topology) as case:
        make_bridges_hubs(case)
        static_neighbours(case)
        live = list(MEMBERS)
        master = case.wait_until("one master", quiet(lambda: converged(case, live)), timeout=30)
        case.wait_until("units settled", quiet(lambda: settled(case, master, live)), timeout=90)
        log(f"baton: {master} is master of m1, m2, m3; 1024 units owned, backed up, balanced")

        if "replication" in args.only:
            results["replication"] = replication(case)
        if "baton" not in args.only:
            return
        log(f"\n== baton: kill -9 of the member owning the probe's work unit, "
            f"{args.rounds} rounds ==")
        probe = Probe(case, args.interval)
        rows = []
        fresh_at = 0
        used = set()
        try:
            for r in range(args.rounds):
                master = case.wait_until("one master", quiet(lambda: converged(case, live)),
                                         timeout=60)
                owners = {u["unit"]: member_of(u["owner"]) for u in case.console(master, "/units")}
                # The persistent connection's port is chosen so that the victim is the master in
                # every other round, and otherwise each non-master member in turn.
                others = [n for n in live if n != master]
                want = master if r % 2 == 0 else others[(r // 2) % len(others)]
                port = next(p for p in PERSIST_PORTS
                            if p not in used and owners[document_unit(CLIENT, p)] == want)
                used.add(port)
                victim = want
                pool = [p for p in FRESH_PORTS if owners[document_unit(CLIENT, p)] == victim]
                fresh = [pool[(fresh_at + i) % len(pool)] for i in range(FRESH_PER_ROUND)]
                fresh_at += FRESH_PER_ROUND

                def kill():
                    n = kill_batond(case, victim)
                    role = "master" if victim == master else "member"
                    return f"killed {victim} ({role}{'' if n == 1 else f', {n} killed'})"
                what, res = run_round(case, probe, port, fresh, kill)
                res["role"] = "master" if victim == master else "member"
                rows.append(res)
                t0 = time.monotonic()
                start_batond(case, victim, policies[victim])
                m = case.wait_until(f"{victim} rejoins", quiet(lambda: converged(case, live)),
                                    timeout=60)
                case.wait_until("units rebalanced", quiet(lambda: settled(case, m, live)),
                                timeout=120, interval=0.1)
                log(round_line(r, what, res) + f"; rebalanced {time.monotonic() - t0:.1f} s "
                    f"after the restart")
        finally:
            probe.quit()
            results["baton"] = rows


# ---- keepalived ----

KEEPALIVED_CONF = """global_defs {{
  router_id {name}
  vrrp_version 3
}}
vrrp_instance bench {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {priority}
  nopreempt
  advert_int {advert}
  virtual_ipaddress {{
    {vip}/24 dev eth0
  }}
}}
"""
STATE_RE = re.compile(r"Entering (MASTER|BACKUP|FAULT) STATE")
# Distinct priorities: equal ones give every backup the same master-down timer, so they all take
# the VIP at once and the GARPs race. nopreempt: a restarted node stays BACKUP (no second outage).
PRIORITY = {"m1": 250, "m2": 150, "m3": 50}


def keepalived_topology(d):
    """cluster3 without batond and backends: the members run the echo service themselves; the
    client resolves the VIP by ARP (no static neighbour entry)."""
    with open(clusterlab.TOPOLOGY) as f:
        topo = json.load(f)
    for b in BACKENDS:
        del topo["nodes"][b]
    topo["links"] = [l for l in topo["links"] if l["a"]["node"] not in BACKENDS]
    topo["nodes"]["client"]["commands"] = []
    for name, address in MEMBERS.items():
        node = topo["nodes"][name]
        node.pop("batond", None)
        node["commands"] = [{
            "name": "echo",
            "argv": ["/usr/bin/python3", ECHO_PY, "serve", "--port", str(ECHO_PORT)],
            "ready": {"tcp": f"{address}:{ECHO_PORT}", "timeout_s": 10}}]
    path = os.path.join(d, "keepalived3.json")
    with open(path, "w") as f:
        json.dump(topo, f, indent=1)
    return path


class Keepalived:
    """One keepalived (vrrp only) per member namespace, own config, pid files and log."""

    def __init__(self, case, d, advert):
        self.case = case
        self.d = os.path.join(d, f"keepalived-{advert}")
        os.makedirs(self.d, exist_ok=True)
        self.logdir = os.path.join(clusterlab.lab_dir(case), "logs")  # `down` keeps them
        self.advert = advert
        self.procs = {}
        self.logs = {}
        self.all_logs = []
        self.starts = collections.Counter()

    def start(self, name):
        conf = os.path.join(self.d, f"{name}.conf")
        with open(conf, "w") as f:
            f.write(KEEPALIVED_CONF.format(name=name, advert=self.advert, vip=VIP,
                                           priority=PRIORITY[name]))
        self.starts[name] += 1
        log_path = os.path.join(self.logdir,
                                f"keepalived-{self.advert}-{name}-{self.starts[name]}.log")
        self.all_logs.append(log_path)
        out = open(log_path, "wb")
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.case.netns(name), "keepalived", "-n", "-l", "-D",
             "--vrrp", "-f", conf, "-p", os.path.join(self.d, f"{name}.pid"),
             "-r", os.path.join(self.d, f"{name}-vrrp.pid"),
             "-c", os.path.join(self.d, f"{name}-checkers.pid")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.case.background.append(p)
        self.procs[name] = p
        self.logs[name] = log_path

    def states(self, name=None, path=None):
        with open(path or self.logs[name], errors="replace") as f:
            return STATE_RE.findall(f.read())

    def pids(self, name):
        """keepalived processes in the member's namespace (the parent and its vrrp child)."""
        out = subprocess.run(["ip", "netns", "pids", self.case.netns(name)],
                             stdout=subprocess.PIPE, check=True).stdout.split()
        pids = []
        for pid in map(int, out):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "keepalived":
                        pids.append(pid)
            except FileNotFoundError:
                pass
        return pids

    def holders(self, names):
        out = []
        for n in names:
            addrs = json.loads(self.case.run(n, "ip", "-j", "addr", "show", "dev", "eth0"))
            if any(a.get("local") == VIP for i in addrs for a in i.get("addr_info", [])):
                out.append(n)
        return out

    def settled(self, names):
        """The master when exactly one of `names` holds the VIP and says MASTER, and every other
        one says BACKUP (its latest state line)."""
        holders = self.holders(names)
        if len(holders) != 1:
            return None
        last = {n: (self.states(n) or [None])[-1] for n in names}
        if last[holders[0]] == "MASTER" and all(last[n] == "BACKUP" for n in names
                                                if n != holders[0]):
            return holders[0]
        return None

    def transitions(self):
        return sum(len(self.states(path=p)) for p in self.all_logs)

    def kill_node(self, name):
        """kill -9 of the node's keepalived processes, then its eth0 down (the host is gone).
        All are stopped (SIGSTOP) before any is killed: the vrrp child asks for SIGTERM when its
        parent dies and would then resign politely (a priority 0 advertisement), which a dead
        host never does."""
        pids = self.pids(name)
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        subprocess.run(["ip", "-n", self.case.netns(name), "link", "set", "eth0", "down"],
                       check=True)
        return len(pids)

    def revive(self, name):
        """eth0 up without the VIP the dead keepalived left, keepalived started again."""
        if self.procs.get(name):
            self.procs[name].wait(timeout=10)
        self.case.wait_until(f"{name}: every keepalived process gone",
                             lambda: not self.pids(name), timeout=10, interval=0.02)
        for f in ("", "-vrrp", "-checkers"):
            try:
                os.unlink(os.path.join(self.d, f"{name}{f}.pid"))
            except FileNotFoundError:
                pass
        subprocess.run(["ip", "-n", self.case.netns(name), "addr", "del", f"{VIP}/24", "dev",
                        "eth0"], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "-n", self.case.netns(name), "link", "set", "eth0", "up"],
                       check=True)
        self.start(name)

    def stop_all(self):
        for name in MEMBERS:
            for pid in self.pids(name):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for name in MEMBERS:
            subprocess.run(["ip", "-n", self.case.netns(name), "addr", "del", f"{VIP}/24", "dev",
                            "eth0"], stderr=subprocess.DEVNULL)


def keepalived_part(args, d, results):
    topology = keepalived_topology(d)
    live = list(MEMBERS)
    with labcase.LabCase("bf-kad", topology) as case:
        for advert in args.adverts:
            log(f"\n== keepalived advert_int {advert}: kill -9 of the MASTER (and its eth0 down), "
                f"{args.rounds} rounds ==")
            ka = Keepalived(case, d, advert)
            rows = []
            try:
                for n in live:
                    ka.start(n)
                case.wait_until("one keepalived MASTER holding the VIP",
                                lambda: ka.settled(live), timeout=60, interval=0.05)
                probe = Probe(case, args.interval)
                try:
                    for r in range(args.rounds):
                        master = case.wait_until("one MASTER", lambda: ka.settled(live),
                                                 timeout=60, interval=0.05)
                        flaps_before = ka.transitions()

                        def kill():
                            n = ka.kill_node(master)
                            return f"killed {master} ({n} keepalived processes)"
                        what, res = run_round(case, probe, 0, [], kill)
                        rows.append(res)
                        t0 = time.monotonic()
                        ka.revive(master)
                        case.wait_until(f"{master} back as BACKUP, one MASTER",
                                        lambda: ka.settled(live), timeout=60, interval=0.05)
                        res["transitions"] = ka.transitions() - flaps_before
                        log(round_line(r, what, res) + f"; settled {time.monotonic() - t0:.1f} s "
                            f"after the restart, {res['transitions']} state transitions logged "
                            f"this round")
                finally:
                    probe.quit()
            finally:
                ka.stop_all()
                results[f"keepalived {advert}"] = rows


def report(results):
    log("\n== failover gap: longest interval without an answer around a kill "
        "(persist: one connection; fresh: a new connection every 10 ms) ==")

    def gaps(rows, kind):
        return [row[kind][0] for row in rows if row[kind][0] is not None]

    baton = results.get("baton", [])
    for name, rows in results.items():
        if name == "replication":
            continue
        for kind in ("persist", "fresh"):
            g = gaps(rows, kind)
            recs = [row[kind][1] for row in rows if row[kind][1] is not None]
            fails = sum(sum(row[kind][2].values()) for row in rows)
            spont = sum(row[kind][3] > SPONTANEOUS_S for row in rows)
            line = f"  {name:16s} {kind:7s} {summary(g)}"
            if spont:
                line += f"; {spont} rounds with an outage before the kill"
            if recs:
                line += f"; recovered p50 {percentile(recs, 50) * 1000:.0f} ms"
            line += f"; failed probes {fails}"
            b = gaps(baton, kind)
            if name != "baton" and g and b:
                line += (f"; vs baton: p50 x{percentile(g, 50) / percentile(b, 50):.2f}, "
                         f"p99 x{percentile(g, 99) / percentile(b, 99):.2f}")
            log(line)
            extra = sum(row["transitions"] - 2 for row in rows if "transitions" in row)
            if extra and kind == "fresh":
                log(f"  {'':16s} {'':7s}   {extra} VRRP state transitions beyond the 2 a clean "
                    f"round logs (new MASTER, restarted BACKUP): spurious failovers")
            if name == "baton":
                for role in ("master", "member"):
                    r = [row for row in rows if row.get("role") == role]
                    if r and len(r) < len(rows):
                        log(f"  {'':16s} {'':7s}   killed a {role}: {summary(gaps(r, kind))}")
    for n, rate, dd, dt, per in results.get("replication", []):
        if n:
            log(f"  replication: {n:2d} flows -> {per:.0f} B/flow/s of state "
                f"({dd['state_delta'] / dt / n:.1f} state_delta msgs/flow/s); group links "
                f"{dd['wire_per_flow']:+.0f} B/flow/s over idle (TLS/TCP payload, incl. acks "
                f"and the keepalives' variation)")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--adverts", default="1,0.1,0.01",
                    help="keepalived advert_int values, comma separated (default 1,0.1,0.01)")
    ap.add_argument("--only", default="replication,baton,keepalived",
                    help="parts to run, comma separated (default all three)")
    ap.add_argument("--interval", type=float, default=0.01, help="probe interval (s)")
    ap.add_argument("--timers", default="",
                    help="the members' policy timers, e.g. master_watchdog_ms=100,master_offer_ms=50 "
                         "(default: document 004's)")
    args = ap.parse_args()
    try:
        args.timers = {k.strip(): int(v) for k, v in
                       (kv.split("=") for kv in args.timers.split(",") if kv.strip())} or None
    except ValueError:
        ap.error("--timers: NAME=MILLISECONDS[,NAME=MILLISECONDS...]")
    args.adverts = [a.strip() for a in args.adverts.split(",") if a.strip()]
    args.only = {p.strip() for p in args.only.split(",")}
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)")
        return labcase.SKIP

    def terminate(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)

    log(f"batond from {os.environ['BATON_BUILD']}; probe every {args.interval * 1000:.0f} ms to "
        f"{VIP}:{ECHO_PORT}; timers {args.timers or 'document 004'}")
    results = {}
    status = 0
    with tempfile.TemporaryDirectory(prefix="baton-failover-") as d:
        try:
            if args.only & {"baton", "replication"}:
                baton_part(args, d, results)
            if "keepalived" in args.only:
                keepalived_part(args, d, results)
        except labcase.Failure as e:
            print(f"stopped: {e}", flush=True)
            status = 1

    report(results)
    return status


if __name__ == "__main__":
    sys.exit(main())
