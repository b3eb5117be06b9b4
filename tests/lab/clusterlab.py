"""Shared pieces of the cluster lab tests (test_cluster, test_cluster_churn): the cluster3 topology
with a test's own policies, certificates and served directory; the group's state as the consoles
show it; killing and restarting a member's batond; the hub-like segments.

Topology deploy/topologies/cluster3.json:
  client 10.40.0.2 -- bridge "out" -- m1, m2, m3 (eth0 10.40.0.11-13, eth1 10.41.0.11-13)
  -- bridge "in" -- backends b1 10.41.0.21, b2 10.41.0.22 (python http.server on :8080).
"""

import collections
import datetime
import ipaddress
import json
import os
import queue
import signal
import subprocess
import threading
import time

import labcase

TOPOLOGY = os.path.join(labcase.REPO, "deploy", "topologies", "cluster3.json")
CLIENT_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster_client.py")
MEMBERS = {"m1": "10.40.0.11", "m2": "10.40.0.12", "m3": "10.40.0.13"}
CLIENT = "10.40.0.2"
VIP = "10.40.0.100"
INSIDE_VIP = "10.41.0.100"
CLUSTER_MAC = "02:ba:70:00:00:01"
TRAFFIC = "unicast_mac"
TOPOLOGY_MAC = "02:ba:70:00:00:01"  # what cluster3.json's neighbour commands name


def use_multicast_mac():
    """Switches this run to the multicast cluster MAC traffic mode (document 004's mode for
    switched segments): a multicast cluster MAC, which bridges flood to every port anyway."""
    global CLUSTER_MAC, TRAFFIC
    CLUSTER_MAC = "03:ba:70:00:00:01"
    TRAFFIC = "multicast_mac"
BACKENDS = {"b1": "10.41.0.21", "b2": "10.41.0.22"}
UNITS = 1024
HTTP = {"port": 80, "backends": [{"address": a, "port": 8080} for a in BACKENDS.values()]}


def cluster_section(services=(HTTP,)):
    """The policy's "cluster" section, the same for every member. Key names live only here."""
    return {"ip": VIP, "inside_ip": INSIDE_VIP, "mac": CLUSTER_MAC, "traffic": TRAFFIC,
            "outside": "eth0", "inside": "eth1", "router": CLIENT, "mode": "nat", "hash": "document",
            "services": list(services)}


def document_unit(address, port):
    """Document 004's work-set filter for TCP: source address XOR source port (host order),
    modulo the number of units."""
    return (int(ipaddress.IPv4Address(address)) ^ port) % UNITS


def member_policy(name, address, certs, ca, peers, services=(HTTP,)):
    """A cluster member's policy: its certificate from directory `certs`, trusting `ca`, linked to
    `peers` (name -> address)."""
    return {
        "identity": {"name": name, "address": address,
                     "certificate": os.path.join(certs, f"{name}.pem"),
                     "key": os.path.join(certs, f"{name}.key"),
                     "ca": ca},
        "roles": ["cluster"],
        "console": "127.0.0.1:9000",
        "peers": [{"name": n, "address": a, "port": 4790} for n, a in peers.items() if n != name],
        "cluster": cluster_section(services),
    }


def add_member(name, address):
    """A member beyond cluster3's three (e.g. m4 10.40.0.14): write_setup wires it like m1 (eth0
    on "out", eth1 on "in" at 10.41.0.x) and gives it a certificate and policy as the others."""
    MEMBERS[name] = address


def _wire_like_m1(topo, name, address):
    node = json.loads(json.dumps(topo["nodes"]["m1"]))
    node["comment"] = f"cluster member {name}, wired as m1"
    topo["nodes"][name] = node
    inside = "10.41.0." + address.rsplit(".", 1)[1]
    topo["links"] += [
        {"a": {"node": name, "ifname": "eth0", "addresses": [f"{address}/24"]},
         "b": {"bridge": "out"}, "offloads": False},
        {"a": {"node": name, "ifname": "eth1", "addresses": [f"{inside}/24"]},
         "b": {"bridge": "in"}, "offloads": False}]


def write_setup(d, www, services=(HTTP,), adjust=None, extra_peers=None, timers=None, group=None):
    """Certificates for m1..m3 in d/ca, their policies in d (linked to each other and to
    `extra_peers`, name -> address), and a copy of cluster3.json whose members use them and whose
    backends serve `www`. `adjust(topology)` may change the topology before it is written;
    `timers` (the policy's timers section) replaces document 004's defaults; `group` (the policy's
    group section, e.g. {"quorum": 2}) is added to each member's policy.
    Returns the topology's path."""
    subprocess.run([os.path.join(labcase.REPO, "deploy", "make-certs.sh"), os.path.join(d, "ca"),
                    *MEMBERS], check=True, stdout=subprocess.DEVNULL)
    with open(TOPOLOGY) as f:
        topo = json.load(f)
    certs = os.path.join(d, "ca")
    for name, address in MEMBERS.items():
        if name not in topo["nodes"]:
            _wire_like_m1(topo, name, address)
        path = os.path.join(d, f"{name}.json")
        policy = member_policy(name, address, certs, os.path.join(certs, "ca.pem"),
                               dict(MEMBERS, **(extra_peers or {})), services)
        if timers:
            policy["timers"] = timers
        if group:
            policy["group"] = group
        with open(path, "w") as f:
            json.dump(policy, f, indent=1)
        topo["nodes"][name]["batond"]["policy"] = path
    for name in BACKENDS:
        http = [c for c in topo["nodes"][name]["commands"] if c["name"] == "http"][0]
        http["argv"][http["argv"].index("--directory") + 1] = www
    if CLUSTER_MAC != TOPOLOGY_MAC:  # the client's and backends' static neighbour entries
        for node in topo["nodes"].values():
            for c in node.get("commands", []):
                if "shell" in c:
                    c["shell"] = c["shell"].replace(TOPOLOGY_MAC, CLUSTER_MAC)
    if adjust:
        adjust(topo)
    path = os.path.join(d, "cluster3.json")
    with open(path, "w") as f:
        json.dump(topo, f, indent=1)
    return path


# ---- group state ----

def member_of(address):
    return next((n for n, a in MEMBERS.items() if a == address), None)


def converged(case, nodes):
    """The common master when every node in `nodes` follows the same one and it lists them all."""
    seen = {n: case.console(n, "/group")["master"] for n in nodes}
    chosen = set(seen.values())
    if len(chosen) != 1 or "" in chosen:
        return None
    name = [n for n in nodes if MEMBERS[n] == next(iter(chosen))]
    if not name:
        return None
    listed = {m["address"] for m in case.console(name[0], "/group")["members"]}
    return name[0] if listed == {MEMBERS[n] for n in nodes} else None


def settled(case, master, nodes):
    """The master's /units when all 1024 units are owned by exactly `nodes`, each backed up, and the
    spread is at most one; else None."""
    units = case.console(master, "/units")
    by_owner = collections.Counter(u["owner"] for u in units)
    if (len(units) == UNITS and set(by_owner) == {MEMBERS[n] for n in nodes}
            and all(u["backup"] for u in units)
            and max(by_owner.values()) - min(by_owner.values()) <= 1):
        return units
    return None


def quiet(predicate):
    """`predicate` with a console that does not answer (a node starting or cut off) read as
    "not yet"."""
    def wrapped():
        try:
            return predicate()
        except (labcase.Failure, ValueError, KeyError):
            return None
    return wrapped


# ---- batond processes ----

def batond_pids(case, node):
    """PIDs of the batond processes in `node`'s namespace (namespaces share the host's PID space)."""
    pids = subprocess.run(["ip", "netns", "pids", case.netns(node)], stdout=subprocess.PIPE,
                          check=True).stdout.split()
    out = []
    for pid in map(int, pids):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "batond":
                    out.append(pid)
        except FileNotFoundError:
            continue
    return out


def kill_batond(case, node):
    """SIGKILLs the batond in `node`'s namespace; returns how many were killed."""
    killed = 0
    for pid in batond_pids(case, node):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
    return killed


def lab_dir(case):
    return f"/run/baton-lab/{case.prefix}"


def batond_binary(case):
    """The batond the lab started (recorded in the lab's state)."""
    with open(os.path.join(lab_dir(case), "state.json")) as f:
        state = json.load(f)
    return next(p["argv"][0] for p in state["processes"] if p["kind"] == "batond")


def start_batond(case, node, policy):
    """Starts batond in `node`'s namespace as the lab does (own session, output to a log in the
    lab's logs directory, which `down` keeps; `down` also stops it). Returns the Popen."""
    log = os.path.join(lab_dir(case), "logs", f"batond-{node}-restart.log")
    argv = [batond_binary(case), "--policy", policy, "-q"]
    with open(log, "ab") as out:
        out.write(f"# {datetime.datetime.now().isoformat()} started by the test: "
                  f"{' '.join(argv)}\n".encode())
        out.flush()
        p = subprocess.Popen(["ip", "netns", "exec", case.netns(node)] + argv,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             cwd=labcase.REPO, start_new_session=True)
    case.background.append(p)
    return p


# ---- the segments ----

def make_bridges_hubs(case):
    """Ageing time 0: the bridges forget every MAC at once and flood all unicast, so each member
    sees every frame even after one has sent with the cluster MAC as source.
    (The topology format has no bridge options; see the topology's comment.)"""
    core = f"{case.prefix}.core"
    for bridge in ("br-out", "br-in"):
        subprocess.run(["ip", "netns", "exec", core, "ip", "link", "set", "dev", bridge, "type",
                        "bridge", "ageing_time", "0"], check=True)
        info = json.loads(subprocess.run(["ip", "-n", core, "-d", "-j", "link", "show", bridge],
                                         stdout=subprocess.PIPE, check=True).stdout)
        ageing = info[0]["linkinfo"]["info_data"]["ageing_time"]
        case.check(ageing == 0, f"{bridge} floods every frame (ageing time {ageing})")


def static_neighbours(case):
    """The topology's one-shot commands point the cluster addresses at the cluster MAC."""
    for node, address in (("client", VIP), ("b1", INSIDE_VIP), ("b2", INSIDE_VIP)):
        def entry():
            for n in json.loads(case.run(node, "ip", "-j", "neigh", "show", address) or b"[]"):
                if n.get("lladdr") == CLUSTER_MAC and "PERMANENT" in n.get("state", []):
                    return n
            return None
        case.wait_until(f"{node}: neighbour {address} -> {CLUSTER_MAC}", entry, timeout=10)
        case.check(True, f"{node}: {address} is the cluster MAC {CLUSTER_MAC}")


# ---- the forwarding traffic mode (tests/lab/test_cluster_forwarding) ----

def use_forwarding():
    """Switches this run to the forwarding traffic mode (document 004's method 1): the master
    answers ARP for the cluster addresses with its own MAC and forwards each datagram to its unit's
    owner. (The policy still names CLUSTER_MAC; forwarding does not use it.)"""
    global TRAFFIC
    TRAFFIC = "forwarding"


def without_static_neighbours(topo):
    """A write_setup `adjust`: drops the topology's cluster-neigh commands, so the client and the
    backends resolve the cluster addresses by ARP."""
    for node in topo["nodes"].values():
        if "commands" in node:
            node["commands"] = [c for c in node["commands"] if c.get("name") != "cluster-neigh"]


def interface_mac(case, node, ifname):
    """The MAC of `node`'s interface `ifname`."""
    return json.loads(case.run(node, "ip", "-j", "link", "show", ifname))[0]["address"]


def neighbour(case, node, address):
    """(lladdr, states) of `node`'s neighbour entry for `address`, or None when it has none with
    a link-layer address."""
    for n in json.loads(case.run(node, "ip", "-j", "neigh", "show", address) or b"[]"):
        if n.get("dst") == address and "lladdr" in n:
            return n["lladdr"], n.get("state", [])
    return None


# ---- clients in the client's namespace ----

class JsonLinesClient:
    """A process run in the client's namespace (`argv`) whose stdout is JSON lines, read into
    `lines` by a thread (a line that is not JSON becomes {"noise": text}; None at its end)."""

    def __init__(self, case, argv):
        self.p = subprocess.Popen(["ip", "netns", "exec", case.netns("client")] + argv,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        case.background.append(self.p)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"noise": line.decode(errors="replace")})
        self.lines.put(None)


class EchoClient(JsonLinesClient):
    """cluster_client.py (`count` connections to `to` from local ports first_port,
    first_port + stride, ...)."""

    def __init__(self, case, to, first_port, stride, count):
        super().__init__(case, ["/usr/bin/python3", CLIENT_PY, "run", "--to", to, "--bind", CLIENT,
                                "--first-port", str(first_port), "--stride", str(stride),
                                "--count", str(count)])

    def next(self, key, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                item = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise labcase.Failure(f"the echo client said no {key!r} within {timeout:.0f} s")
            if item is None:
                err = self.p.stderr.read().decode(errors="replace")[-800:]
                raise labcase.Failure(f"the echo client exited ({self.p.poll()}): {err}")
            if key in item:
                return item

    def mark(self, name):
        self.p.stdin.write(f"mark {name}\n".encode())
        self.p.stdin.flush()
        return self.next("mark", 15)

    def stop(self):
        self.p.stdin.write(b"stop\n")
        self.p.stdin.flush()
        final = self.next("final", 20)["final"]
        self.p.wait(timeout=10)
        return final
