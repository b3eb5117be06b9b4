#!/usr/bin/python3
"""Writes document 002's lab (replica selection) into a directory: the topology and one policy per
batond, for one configuration (A, B or C).

    client (10.1.0.2) -- cgw (client gateway; AF_PACKET between its two sides, the kernel's
      forwarding off) -- WAN (baton-linkemu, 10 ms each way) -- sgw (server gateway; the kernel
      routes, the origin's address 10.3.0.2 is routed into its TUN) -- origin 10.3.0.2 (60 ms)
                                                                      -- r1 10.4.1.2 (5 ms)
                                                                      -- r2 10.4.2.2 (40 ms)
                                                                      -- r3 10.4.3.2 (120 ms)
Every delay is one way, on the link to sgw. The replicas report their state to sgw every 250 ms
over TLS (certificates from deploy/make-certs.sh in DIR/ca); sgw marks a replica dead after 300 ms
of silence (its default: one interval and a fifth). Round trips seen from the client gateway: r1 30 ms,
r2 100 ms, origin 140 ms, r3 260 ms, so r1 should win, r2 when r1 is gone.

The replicas run batond with the role "replica": tunnels arrive on its raw IP-in-IP socket and
enter the local stack through the TUN bt0. In B and C the web server's answers (source the
replica, port 80) are routed into bt0 by a policy rule, on a route with MTU 1480 (batond sets the
TUN's own MTU to 1500 when it opens it): C's answers are encapsulated and must still fit the
links' 1500.

Usage: replicalab.py DIR CONFIG [WWW]   (CONFIG: A, B or C; WWW: the directory every web server
serves, default DIR/www). Prints the topology's path.
"""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CLIENT = "10.1.0.2"
CGW_IN, CGW_WAN = "10.1.0.1", "10.2.0.1"
SGW_WAN = "10.2.0.2"
ORIGIN = "10.3.0.2"
ORIGIN_MAC = "02:ba:70:00:03:02"
REPLICAS = {"r1": ("10.4.1.2", 5), "r2": ("10.4.2.2", 40), "r3": ("10.4.3.2", 120)}
ORIGIN_DELAY_MS = 60
WAN_DELAY_MS = 10
REPORT_INTERVAL_MS = 250  # the replicas' reports; the server gateway's default dead_after: 300 ms
NO_RP = {"net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0}


def gw(address):
    return address.rsplit(".", 1)[0] + ".1"


def write(directory, config, www=None):
    os.makedirs(directory, exist_ok=True)
    www = www or os.path.join(directory, "www")
    # Replicas report their state to the server gateway over TLS: a CA and node certificates.
    certs = os.path.join(directory, "ca")
    subprocess.run([os.path.join(REPO, "deploy", "make-certs.sh"), certs, "sgw"] + list(REPLICAS),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def identity(name, address):
        return {"name": name, "address": address, "certificate": os.path.join(certs, f"{name}.pem"),
                "key": os.path.join(certs, f"{name}.key"), "ca": os.path.join(certs, "ca.pem")}
    policies = {}
    policies["cgw"] = {
        "identity": {"name": "cgw", "address": CGW_WAN},
        "roles": ["client_gateway"],
        "console": "127.0.0.1:9000",
        "io": {"backend": "af_packet", "interfaces": [{"name": "eth0", "next_hop": CLIENT},
                                                      {"name": "eth1", "next_hop": SGW_WAN}]},
        "replica": {"configuration": config, "ports": [80]},
    }
    policies["sgw"] = {
        "identity": identity("sgw", SGW_WAN),
        "roles": ["server_gateway"],
        "console": "127.0.0.1:9000",
        "io": {"backend": "af_packet", "interfaces": [{"name": "bt0", "kind": "tun"},
                                                      {"name": "eth1", "next_hop": ORIGIN}]},
        "replica": {
            "configuration": config,
            "servers": [{"address": ORIGIN, "ports": [80], "replicas": [
                {"name": n, "address": a} for n, (a, _) in REPLICAS.items()]}],
            "client_gateways": [{"address": CGW_WAN, "clients": "10.1.0.0/24"}],
            "max_fanout": 4,
            "report_interval_ms": REPORT_INTERVAL_MS,
        },
    }
    for name, (address, _) in REPLICAS.items():
        policies[name] = {
            "identity": identity(name, address),
            "roles": ["replica"],
            "console": "127.0.0.1:9000",
            "io": {"backend": "tun", "interfaces": [{"name": "bt0", "kind": "tun"}]},
            "replica": {"configuration": config, "servers": [{"address": ORIGIN, "ports": [80]}],
                        "server_gateways": [{"address": SGW_WAN}],
                        "report_interval_ms": REPORT_INTERVAL_MS},
        }
    for name, p in policies.items():
        with open(os.path.join(directory, f"{name}.json"), "w") as f:
            json.dump(p, f, indent=1)

    def batond(name, sysctls=None):
        b = {"policy": os.path.join(directory, f"{name}.json"), "ready_timeout_s": 30}
        if sysctls:
            b["sysctls"] = sysctls
        return b

    nodes = {
        "client": {"routes": [{"dst": "default", "via": CGW_IN}]},
        "cgw": {"sysctls": dict(NO_RP, **{"net.ipv4.ip_forward": 1}),
                "routes": [{"dst": "10.0.0.0/8", "via": SGW_WAN}],
                "batond": batond("cgw", {"net.ipv4.ip_forward": 0})},
        "sgw": {"sysctls": dict(NO_RP, **{"net.ipv4.ip_forward": 1}),
                "routes": [{"dst": "10.1.0.0/24", "via": CGW_WAN}],
                "commands": [{"name": "tun", "shell":
                              "ip tuntap add dev bt0 mode tun && ip link set bt0 up && "
                              "sysctl -qw net.ipv4.conf.bt0.rp_filter=0 && "
                              f"ip neigh replace {ORIGIN} lladdr {ORIGIN_MAC} dev eth1 nud permanent && "
                              f"ip route add {ORIGIN}/32 dev bt0"}],
                "batond": batond("sgw")},
        "origin": {"routes": [{"dst": "default", "via": gw(ORIGIN)}],
                   "commands": [
                       {"name": "http", "argv": ["/usr/bin/python3", "-m", "http.server", "80",
                                                 "--directory", www],
                        "ready": {"tcp": f"{ORIGIN}:80", "timeout_s": 10}},
                       {"name": "http8080", "argv": ["/usr/bin/python3", "-m", "http.server", "8080",
                                                     "--directory", www],
                        "ready": {"tcp": f"{ORIGIN}:8080", "timeout_s": 10}}]},
    }
    for name, (address, _) in REPLICAS.items():
        setup = ("ip tuntap add dev bt0 mode tun && ip link set bt0 up && "
                 "sysctl -qw net.ipv4.conf.bt0.rp_filter=0")
        if config in ("B", "C"):
            setup += (f" && ip rule add from {address} ipproto tcp sport 80 lookup 100 && "
                      "ip route add default dev bt0 table 100 mtu 1480 advmss 1440")
        nodes[name] = {
            "sysctls": dict(NO_RP),
            "routes": [{"dst": "default", "via": gw(address)}],
            "commands": [
                {"name": "tun", "shell": setup},
                {"name": "http", "argv": ["/usr/bin/python3", "-m", "http.server", "80", "--directory", www],
                 "ready": {"tcp": f"{address}:80", "timeout_s": 10}}],
            "batond": batond(name),
        }
    links = [
        {"a": {"node": "client", "ifname": "eth0", "addresses": [f"{CLIENT}/24"]},
         "b": {"node": "cgw", "ifname": "eth0", "addresses": [f"{CGW_IN}/24"]}, "offloads": False},
        {"a": {"node": "cgw", "ifname": "eth1", "addresses": [f"{CGW_WAN}/24"]},
         "b": {"node": "sgw", "ifname": "eth0", "addresses": [f"{SGW_WAN}/24"]},
         "emulate": {"both": {"delay_ms": WAN_DELAY_MS, "queue_frames": 1000}, "seed": 2}},
        {"a": {"node": "sgw", "ifname": "eth1", "addresses": [f"{gw(ORIGIN)}/24"]},
         "b": {"node": "origin", "ifname": "eth0", "addresses": [f"{ORIGIN}/24"], "mac": ORIGIN_MAC},
         "emulate": {"both": {"delay_ms": ORIGIN_DELAY_MS, "queue_frames": 1000}, "seed": 3}},
    ]
    for i, (name, (address, delay)) in enumerate(REPLICAS.items()):
        links.append({"a": {"node": "sgw", "ifname": f"eth{i + 2}", "addresses": [f"{gw(address)}/24"]},
                      "b": {"node": name, "ifname": "eth0", "addresses": [f"{address}/24"]},
                      "emulate": {"both": {"delay_ms": delay, "queue_frames": 1000}, "seed": 10 + i}})
    topo = {"name": f"replica-{config}",
            "comment": "document 002: client, client gateway, WAN, server gateway, origin and three replicas",
            "nodes": nodes, "links": links}
    path = os.path.join(directory, "replica.json")
    with open(path, "w") as f:
        json.dump(topo, f, indent=1)
    return path


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] not in ("A", "B", "C"):
        sys.exit("usage: replicalab.py DIR A|B|C [WWW]")
    print(write(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
