#!/usr/bin/python3
"""Writes document 000's lab (a client and three rim hosts, each with its own path) into a
directory: the topology, one policy per rim host, and each host's copy of the content.

    client 10.40.0.2 -- router (10.40.0.1) -+- linkemu -- a 10.41.1.2  (rim host, owner)
                                            +- linkemu -- c 10.41.2.2  (rim host)
                                            +- linkemu -- e 10.41.3.2  (rim host)
                                            +- linkemu -- f 10.41.4.2  (rim host, lossy path)

With an origin (write(..., origin=True)), a fifth node d (10.41.5.2, the document's host "D",
behind the router without emulation) is the rim's origin: the rim hosts have no local copy and
fetch by range from http://10.41.5.2:8000/ (the test runs range_origin.py there); `hosts` limits
the rim to some of a, c, e, f.

Each path is RATE Mbit/s with DELAY ms each way (baton-linkemu); f's loses LOSSY % of what f
sends (the path funnel-cast is measured against). The rim hosts reach each other
through the router (their TLS links and the IP-in-IP of reverse-flow forwarding); the router does
no reverse-path filtering, so a host may send with another's address. The rim hosts are one group
(/peers), certificates from deploy/make-certs.sh (DIR/ca).

write(..., mesh=True) also joins the rim hosts pairwise (their LAN, clean, unemulated): the rim
links and the IP-in-IP between them take it, so a host's own path to the client can turn lossy
while what it masquerades through another host does not cross it.
write(..., manage=(profiles, manage)) adds the policy's "profiles" and the rim section's "manage"
(the management object's rules). The client also has CLIENT_STAY and CLIENT_CHAIN (more
addresses) for fetches a test's rules treat apart.

Usage: rimlab.py DIR [--rate M] [--delay MS] [--lossy PCT]   Prints the topology's path.
"""

import argparse
import json
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CLIENT, ROUTER = "10.40.0.2", "10.40.0.1"
CLIENT_STAY = "10.40.0.3"
CLIENT_CHAIN = "10.40.0.4"
HOSTS = {"a": "10.41.1.2", "c": "10.41.2.2", "e": "10.41.3.2", "f": "10.41.4.2"}
ROUTER_SIDE = {"a": "10.41.1.1", "c": "10.41.2.1", "e": "10.41.3.1", "f": "10.41.4.1"}
SERVICE_PORT, RIM_PORT = 8080, 7410
ORIGIN, ORIGIN_ROUTER_SIDE, ORIGIN_PORT = "10.41.5.2", "10.41.5.1", 8000


def write(directory, rate=50, delay=5, handoff_timeout_ms=1000, lossy=30, manage=None, mesh=False, origin=False,
          hosts=None, cache_bytes=16 << 20):
    os.makedirs(directory, exist_ok=True)
    members = {n: a for n, a in HOSTS.items() if hosts is None or n in hosts}
    certs = os.path.join(directory, "ca")
    subprocess.run([os.path.join(REPO, "deploy", "make-certs.sh"), certs] + list(members), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for name in members:
        os.makedirs(os.path.join(directory, f"www-{name}"), exist_ok=True)

    def policy(name):
        p = {
            "identity": {"name": name, "address": HOSTS[name], "certificate": os.path.join(certs, f"{name}.pem"),
                         "key": os.path.join(certs, f"{name}.key"), "ca": os.path.join(certs, "ca.pem")},
            "roles": ["rim"],
            "console": "127.0.0.1:9000",
            "peers": [{"name": other, "address": address, "port": 4790}
                      for other, address in members.items() if other != name],
            "rim": dict({"service_port": SERVICE_PORT, "port": RIM_PORT, "uplink": "eth0", "tun": "rim0",
                         "handoff_timeout_ms": handoff_timeout_ms},
                        **({"origin": f"http://{ORIGIN}:{ORIGIN_PORT}/", "cache_bytes": cache_bytes} if origin
                           else {"content": os.path.join(directory, f"www-{name}")})),
        }
        if manage:
            p["profiles"] = manage[0]
            p["rim"]["manage"] = manage[1]
        return p

    def emulate(lossy_path):
        path = {"delay_ms": delay, "rate_mbit": rate, "queue_frames": 1000}
        if not lossy_path:
            return {"both": path, "pool_frames": 8192}
        # Only what the rim host sends is lost: the client's ACKs reach it.
        return {"a_to_b": path, "b_to_a": dict(path, loss_pct=lossy), "pool_frames": 8192, "seed": 7}

    nodes = {
        "client": {"routes": [{"dst": "default", "via": ROUTER}]},
        "router": {"sysctls": {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 0,
                               "net.ipv4.conf.default.rp_filter": 0}},
    }
    links = [{"a": {"node": "client", "ifname": "eth0", "addresses": [f"{CLIENT}/24", f"{CLIENT_STAY}/24", f"{CLIENT_CHAIN}/24"]},
              "b": {"node": "router", "ifname": "eth0", "addresses": [f"{ROUTER}/24"]}}]
    for i, (name, address) in enumerate(HOSTS.items()):
        if name not in members:
            continue
        path = os.path.join(directory, f"{name}.json")
        with open(path, "w") as f:
            json.dump(policy(name), f, indent=1)
        nodes[name] = {"routes": [{"dst": "default", "via": ROUTER_SIDE[name]}],
                       "sysctls": {"net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0},
                       "batond": {"policy": path, "ready_timeout_s": 30}}
        links.append({"a": {"node": "router", "ifname": f"eth{i + 1}", "addresses": [f"{ROUTER_SIDE[name]}/24"]},
                      "b": {"node": name, "ifname": "eth0", "addresses": [f"{address}/24"]},
                      "emulate": emulate(name == "f")})
    if mesh:
        names = list(members)
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                k = len(links)
                xa, ya = f"10.43.{k}.1", f"10.43.{k}.2"
                links.append({"a": {"node": x, "ifname": f"mesh{y}", "addresses": [f"{xa}/30"]},
                              "b": {"node": y, "ifname": f"mesh{x}", "addresses": [f"{ya}/30"]}})
                nodes[x]["routes"].append({"dst": f"{HOSTS[y]}/32", "via": ya})
                nodes[y]["routes"].append({"dst": f"{HOSTS[x]}/32", "via": xa})
    if origin:
        nodes["d"] = {"routes": [{"dst": "default", "via": ORIGIN_ROUTER_SIDE}]}
        links.append({"a": {"node": "router", "ifname": "eth5", "addresses": [f"{ORIGIN_ROUTER_SIDE}/24"]},
                      "b": {"node": "d", "ifname": "eth0", "addresses": [f"{ORIGIN}/24"]}})
    topo = {"name": "rim", "comment": "document 000: a client and three rim hosts, each with its own path",
            "nodes": nodes, "links": links}
    path = os.path.join(directory, "rim.json")
    with open(path, "w") as f:
        json.dump(topo, f, indent=1)
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--delay", type=int, default=5)
    ap.add_argument("--lossy", type=float, default=30)
    a = ap.parse_args()
    print(write(a.dir, a.rate, a.delay, lossy=a.lossy))
