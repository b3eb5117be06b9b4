"""The service level routing lab (document 001), written by the test into its own directory:
topology, certificates, every node's policy, the served file and the hosts' load files.

  client 10.60.0.2 --(10 ms each way)-- edge 10.60.0.1 / 10.50.0.1 -- bridge "core" 10.50.0.0/24
  core: network SLRs nslr .10 and nslr2 .11, neighbours (the kernel routes the virtual subnet
        10.200.0.0/16 into their TUNs; the edge routes it to nslr, and to nslr2 when the test
        changes the route: document 001's third failure, a flow arriving at another SLR cluster);
        system SLRs sysA .21, sysB .22;
        site SLRs siteA1 (primary .31 + hot spare siteA1s .35, sharing tunnel address .30 through a
        macvlan with MAC 02:ba:70:00:00:30 on both), siteA2 .32, siteB1 .33, siteB2 .34;
        hosts, two per site: hA1a .41, hA1b .42, hA2a .43, hA2b .44, hB1a .45, hB1b .46,
        hB2a .47, hB2b .48, each with the virtual address 10.200.1.1 on lo and a TUN (vh0) where
        its host agent hands decapsulated datagrams to the stack; python http.server on :80.
Hosts answer the client straight through the edge (their default route), never through an SLR.
Each host's load index is the number in its load file (load source "command": cat FILE), so the
test sets loads by writing files.

Run `tests/lab/slrlab.py DIR` to write the lab into DIR for manual use (deploy/lab up DIR/slr.json).
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labcase  # noqa: E402

CLIENT = "10.60.0.2"
EDGE_OUT, EDGE_CORE = "10.60.0.1", "10.50.0.1"
VIRTUAL_SUBNETS = "10.200.0.0/16"   # routed to the network SLR
SERVICE_SUBNET = "10.200.1.0/24"    # what the hosts serve
VIP = "10.200.1.1"
UPLOAD_PORT = 9100  # upload_sink.py on every host: answers the sha256 of what it received
UPLOAD_SINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upload_sink.py")
NETWORK = {"nslr": "10.50.0.10", "nslr2": "10.50.0.11"}
SYSTEMS = {"sysA": "10.50.0.21", "sysB": "10.50.0.22"}
SITES = {"siteA1": "10.50.0.31", "siteA2": "10.50.0.32", "siteB1": "10.50.0.33",
         "siteB2": "10.50.0.34"}
SPARE = ("siteA1s", "10.50.0.35")   # siteA1's hot spare
SITE_A1_TUNNEL = "10.50.0.30"       # the address siteA1 and its spare share
SITE_A1_MAC = "03:ba:70:00:00:30"
SITE_OF_SYSTEM = {"sysA": ["siteA1", "siteA2"], "sysB": ["siteB1", "siteB2"]}
HOSTS = {"hA1a": "10.50.0.41", "hA1b": "10.50.0.42", "hA2a": "10.50.0.43", "hA2b": "10.50.0.44",
         "hB1a": "10.50.0.45", "hB1b": "10.50.0.46", "hB2a": "10.50.0.47", "hB2b": "10.50.0.48"}
SITE_OF_HOST = {h: "site" + h[1:3] for h in HOSTS}
SLR_PORT = 4792
INTERVAL_MS = 500
CLIENT_DELAY_MS = 10

ALL_SLRS = dict(NETWORK, **SYSTEMS, **SITES, **{SPARE[0]: SPARE[1]})
SLR_SYSCTLS = {"net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0,
               "net.ipv4.conf.eth0.rp_filter": 0}


def tunnel_address(node):
    """Where tunnels to `node` end."""
    if node in ("siteA1", SPARE[0]):
        return SITE_A1_TUNNEL
    return ALL_SLRS.get(node) or HOSTS[node]


def load_file(d, host):
    return os.path.join(d, f"load-{host}")


def set_load(d, host, value):
    """The host's load index from now on (its agent reads the file each update interval)."""
    with open(load_file(d, host) + ".tmp", "w") as f:
        f.write(f"{value}\n")
    os.replace(load_file(d, host) + ".tmp", load_file(d, host))


def _policy(d, name, address, slr, roles=("slr",), io=None, peers=None, timers=None):
    certs = os.path.join(d, "ca")
    p = {
        "identity": {"name": name, "address": address,
                     "certificate": os.path.join(certs, f"{name}.pem"),
                     "key": os.path.join(certs, f"{name}.key"),
                     "ca": os.path.join(certs, "ca.pem")},
        "roles": list(roles),
        "console": "127.0.0.1:9000",
        "slr": slr,
    }
    if io:
        p["io"] = io
    if peers:
        p["peers"] = [{"name": n, "address": a, "port": 4790} for n, a in peers.items()]
    if timers:
        p["timers"] = timers
    path = os.path.join(d, f"{name}.json")
    with open(path, "w") as f:
        json.dump(p, f, indent=1)
    return path


def _upper(name, address):
    return {"name": name, "address": address, "port": SLR_PORT}


def write_policies(d, site_a1_shortcuts=False):
    """Every node's policy in d; returns node -> policy path. The siteA1 pair sends no shortcuts by
    default, so the flows it routes keep passing through it (its hot spare is then tested on
    live flows); the other sites do."""
    common = {"update_interval_ms": INTERVAL_MS, "expiry_ms": 3 * INTERVAL_MS,
              "selection": "spread", "function": {"kind": "least_load"},
              "aggregate": "min", "port": SLR_PORT}
    paths = {}
    for name, addr in NETWORK.items():
        neighbors = [_upper(n, a) for n, a in NETWORK.items() if n != name]
        paths[name] = _policy(d, name, addr, dict(common, level="network", neighbors=neighbors),
                              io={"backend": "tun", "interfaces": [{"name": "slr0", "kind": "tun"}]})
    for sysname, addr in SYSTEMS.items():
        paths[sysname] = _policy(d, sysname, addr, dict(common, level="system",
                                                        upper=[_upper(n, a) for n, a in NETWORK.items()]))
    system_of = {s: sysname for sysname, sites in SITE_OF_SYSTEM.items() for s in sites}
    for site, addr in list(SITES.items()) + [SPARE]:
        up_name = system_of["siteA1" if site == SPARE[0] else site]
        slr = dict(common, level="site", upper=[_upper(up_name, SYSTEMS[up_name])])
        peers = None
        if site in ("siteA1", SPARE[0]):
            slr["tunnel_address"] = SITE_A1_TUNNEL
            slr["hot_spare"] = {"address": SITE_A1_TUNNEL, "mac": SITE_A1_MAC}
            slr["shortcuts"] = site_a1_shortcuts
            other = SPARE if site == "siteA1" else ("siteA1", SITES["siteA1"])
            peers = {other[0]: other[1]}
        paths[site] = _policy(d, site, addr, slr, peers=peers,
                              # the pair's group has one work unit: its owner is the active SLR
                              timers={"work_units": 1} if peers else None)
    for host, addr in HOSTS.items():
        site = SITE_OF_HOST[host]
        uppers = [_upper(site, SITES[site])]
        if site == "siteA1":
            uppers.append(_upper(*SPARE))
        slr = dict(common, level="host", virtual_subnets=[SERVICE_SUBNET], upper=uppers,
                   load={"source": "command", "command": f"cat {load_file(d, host)}",
                         "command_timeout_ms": 300},
                   progress_timeout_ms=1000)
        paths[host] = _policy(d, host, addr, slr, roles=("host_agent",),
                              io={"backend": "tun", "interfaces": [{"name": "vh0", "kind": "tun"}]})
    return paths


def _core_link(node, address):
    return {"a": {"node": node, "ifname": "eth0", "addresses": [f"{address}/24"]},
            "b": {"bridge": "core"}, "offloads": False}


def write_setup(d, www, site_a1_shortcuts=False):
    """Certificates, policies, load files (every host 0.5) and the topology; returns its path."""
    names = list(ALL_SLRS) + list(HOSTS)
    subprocess.run([os.path.join(labcase.REPO, "deploy", "make-certs.sh"), os.path.join(d, "ca"),
                    *names], check=True, stdout=subprocess.DEVNULL)
    for host in HOSTS:
        set_load(d, host, 0.5)
    policies = write_policies(d, site_a1_shortcuts)
    batond = lambda node: {"policy": policies[node], "args": ["-q"], "ready_timeout_s": 60}
    default = [{"dst": "default", "via": EDGE_CORE}]
    nodes = {
        "client": {"routes": [{"dst": "default", "via": EDGE_OUT}]},
        "edge": {"comment": "the client's access router: virtual subnets to the network SLR",
                 "sysctls": {"net.ipv4.ip_forward": 1},
                 "routes": [{"dst": VIRTUAL_SUBNETS, "via": NETWORK["nslr"]}]},
    }
    for name in NETWORK:
        nodes[name] = {"comment": "network SLR: the kernel routes the virtual subnets into slr0",
                       "sysctls": dict(SLR_SYSCTLS, **{"net.ipv4.ip_forward": 1}),
                       "routes": default,
                       "commands": [{"name": "tun", "shell":
                                     "ip tuntap add dev slr0 mode tun && ip link set slr0 up && "
                                     f"ip route add {VIRTUAL_SUBNETS} dev slr0"}],
                       "batond": batond(name)}
    for sysname in SYSTEMS:
        nodes[sysname] = {"sysctls": SLR_SYSCTLS, "routes": default, "batond": batond(sysname)}
    nodes["sysA"]["commands"] = [{"name": "site-a1-neigh", "shell":
                                  f"ip neigh replace {SITE_A1_TUNNEL} lladdr {SITE_A1_MAC} "
                                  "dev eth0 nud permanent"}]
    for site in list(SITES) + [SPARE[0]]:
        nodes[site] = {"sysctls": SLR_SYSCTLS, "routes": default, "batond": batond(site)}
    for site in ("siteA1", SPARE[0]):
        nodes[site]["comment"] = ("siteA1's SLR cluster: primary and hot spare both accept "
                                  f"{SITE_A1_TUNNEL} (on lo; arp_ignore keeps ARP quiet about it) "
                                  f"at the multicast MAC {SITE_A1_MAC}, which the bridge floods")
        nodes[site]["sysctls"] = dict(SLR_SYSCTLS, **{"net.ipv4.conf.all.arp_ignore": 1})
        nodes[site]["commands"] = [{"name": "cluster-address", "shell":
                                    f"ip addr add {SITE_A1_TUNNEL}/32 dev lo && "
                                    f"ip maddr add {SITE_A1_MAC} dev eth0"}]
    for host, addr in HOSTS.items():
        nodes[host] = {
            # The usual direct-server-return host settings: never answer ARP for, nor announce
            # ARP from, the virtual address on lo.
            "sysctls": dict(SLR_SYSCTLS, **{"net.ipv4.conf.all.arp_ignore": 1,
                                            "net.ipv4.conf.all.arp_announce": 2}),
            "routes": default,
            "commands": [
                {"name": "virtual-address", "shell":
                 f"ip addr add {VIP}/32 dev lo && ip tuntap add dev vh0 mode tun && "
                 "ip link set vh0 up && sysctl -qw net.ipv4.conf.vh0.rp_filter=0"},
                {"name": "http", "argv": ["/usr/bin/python3", "-m", "http.server", "80", "--bind",
                                          "0.0.0.0", "--directory", www],
                 "ready": {"http": f"{addr}:80/index.html", "timeout_s": 10}},
                {"name": "upload-sink", "argv": ["/usr/bin/python3", UPLOAD_SINK, str(UPLOAD_PORT)]}],
            "batond": batond(host)}
    links = [{"a": {"node": "client", "ifname": "eth0", "addresses": [f"{CLIENT}/24"]},
              "b": {"node": "edge", "ifname": "eth0", "addresses": [f"{EDGE_OUT}/24"]},
              "emulate": {"both": {"delay_ms": CLIENT_DELAY_MS, "queue_frames": 1000}}},
             {"a": {"node": "edge", "ifname": "eth1", "addresses": [f"{EDGE_CORE}/24"]},
              "b": {"bridge": "core"}, "offloads": False}]
    for node, address in list(ALL_SLRS.items()) + list(HOSTS.items()):
        links.append(_core_link(node, address))
    topo = {"name": "slr", "comment": __doc__.split("\n\n")[1], "nodes": nodes,
            "bridges": {"core": {}}, "links": links}
    path = os.path.join(d, "slr.json")
    with open(path, "w") as f:
        json.dump(topo, f, indent=1)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: slrlab.py DIR  (writes the SLR lab's topology, policies and certificates)")
    os.makedirs(sys.argv[1], exist_ok=True)
    www = os.path.join(sys.argv[1], "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("slr lab host\n")
    print(write_setup(sys.argv[1], www))
