#!/usr/bin/python3
"""Writes document 003's lab (a PEP pair over a long, lossy WAN) into a directory: the topology and
one policy per PEP endpoint.

    client 10.1.0.2 -- branch PEP (lan 10.1.0.1, wan 192.168.50.1) -- WAN: baton-linkemu,
      RATE Mbit/s, DELAY ms each way, LOSS % each way -- hub PEP (wan 192.168.50.2, lan 10.2.0.1)
      -- server 10.2.0.2

Both PEPs route (ip_forward) and run batond with the role "pep"; the backbone between them is TLS
with certificates from deploy/make-certs.sh (DIR/ca). The server runs python http.server on 8080
(spoofed, three-way handshake spoofed), 8081 (a rule says spoof: false) and 8082 (spoofed, the
three-way handshake not spoofed), the termination peer (pep_peers.py) on 9000, and iperf3 on 5201;
nothing listens on 8099 (refusal checks).

With priorities ("split" or "one"), the server also runs a TCP echo (tcp_echo.py) on 7007, and
two profiles are added: "interactive" for the echo's port and "bulk" for iperf3's, at priorities
3 and 0 ("split", document 003's PK) or both at 0 ("one": every connection in one queue).

Usage: peplab.py DIR [--no-pep] [--rate M] [--delay MS] [--loss PCT] [--seed N] [--priorities split|one]
  --no-pep: the two middle nodes only route (the plain-TCP baseline of the benchmark).
Prints the topology's path.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))

CLIENT, BRANCH_LAN, BRANCH_WAN = "10.1.0.2", "10.1.0.1", "192.168.50.1"
SERVER, HUB_LAN, HUB_WAN = "10.2.0.2", "10.2.0.1", "192.168.50.2"
# With paths: a second WAN link (document 003's PSK), its own emulated delay.
BRANCH_WAN2, HUB_WAN2 = "192.168.51.1", "192.168.51.2"
HTTP, PLAIN, NO_3WHS, CLOSED, TERM, IPERF, ECHO = 8080, 8081, 8082, 8099, 9000, 5201, 7007


def log_text(size, seed, marker=b"pep-log"):
    """`size` bytes of log-like lines (repeated structure, varying numbers: compresses like a real
    log), each line ending with `marker`."""
    r = random.Random(seed)
    hosts = [f"edge-{i:02d}.branch.example" for i in range(12)]
    events = ["pep_backbone_up", "syn_spoofed", "ccb_freed", "window_advance", "keepalive_rtt"]
    out, n, t = [], 0, 1764759600
    while n < size:
        t += r.randint(0, 3)
        line = (f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t))}.{r.randint(0, 999999):06d}Z "
                f"{r.choice(hosts)} batond[{r.randint(1000, 1100)}]: {r.choice(events)} "
                f"peer=hub cid={r.randint(0, 4095)} bytes={r.randint(0, 1 << 20)} "
                f"rtt_ms={r.uniform(1, 400):.3f} {marker.decode()}\n").encode()
        out.append(line)
        n += len(line)
    return b"".join(out)[:size]


def write(directory, pep=True, rate=10, delay=300, loss=1.0, seed=3, www=None, keepalive_ms=250,
          backbone_timeout_ms=3000, user_timeout_ms=15000, redundant_kbyte=0, wire=False, priorities=None,
          paths=None, unsent_ms=None, peer_rate_mbit=None, top_backbone=False):
    """wire: the "spoofed" profile (8080 and the default rule) also says compress and encrypt;
    8082's stays without compression (the same path, uncompressed, for comparison).
    paths: {"fast": (delay_ms, cost), "slow": (delay_ms, cost)}: two WAN links, "fast" on eth1
    (192.168.50.0/24, the one without paths) and "slow" on eth2 (192.168.51.0/24), each PEP listing
    both as paths of its peer (document 003's PSK); `delay` is then unused.
    top_backbone: priority 3 on backbones of its own (pep.top_backbone) at both PEPs."""
    os.makedirs(directory, exist_ok=True)
    www = www or os.path.join(directory, "www")
    os.makedirs(www, exist_ok=True)
    certs = os.path.join(directory, "ca")
    subprocess.run([os.path.join(REPO, "deploy", "make-certs.sh"), certs, "branch", "hub"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def policy(name, address, lan, peer, peer_address, prefix, path_ends=None):
        p = {
            "identity": {"name": name, "address": address, "certificate": os.path.join(certs, f"{name}.pem"),
                         "key": os.path.join(certs, f"{name}.key"), "ca": os.path.join(certs, "ca.pem")},
            "roles": ["pep"],
            "console": "127.0.0.1:9000",
            "profiles": [
                dict({"name": "spoofed", "spoof": True, "three_way_handshake": True},
                     **({"compress": True, "encrypt": True} if wire else {})),
                {"name": "handshake-end-to-end", "spoof": True, "three_way_handshake": False},
                {"name": "unspoofed"},
            ],
            "pep": {
                "lan": lan,
                "peers": [{"name": peer, "address": peer_address, "prefixes": [prefix]}],
                "keepalive_ms": keepalive_ms,
                "backbone_timeout_ms": backbone_timeout_ms,
                "user_timeout_ms": user_timeout_ms,
                "redundant_kbyte": redundant_kbyte,
                "rules": [
                    {"name": "plain", "protocol": "tcp", "dst_port": PLAIN, "profile": "unspoofed"},
                    {"name": "end-to-end-handshake", "protocol": "tcp",
                     "any": [{"dst_port": NO_3WHS}, {"dst_port": CLOSED}], "profile": "handshake-end-to-end"},
                    {"name": "rest", "default": True, "profile": "spoofed"},
                ],
            },
        }
        if paths:
            p["pep"]["peers"][0]["paths"] = [
                {"name": n, "local": path_ends[n][0], "address": path_ends[n][1], "rate_mbit": rate, "cost": paths[n][1]}
                for n in ("fast", "slow")]
        if unsent_ms is not None:
            p["pep"]["unsent_ms"] = unsent_ms
        if peer_rate_mbit:
            p["pep"]["peers"][0]["rate_mbit"] = peer_rate_mbit
        if top_backbone:
            p["pep"]["top_backbone"] = True
        if priorities:
            top = 3 if priorities == "split" else 0
            p["profiles"] += [{"name": "interactive", "spoof": True, "priority": top},
                              {"name": "bulk", "spoof": True, "priority": 0}]
            p["pep"]["rules"][:0] = [
                {"name": "echo", "protocol": "tcp", "dst_port": ECHO, "profile": "interactive"},
                {"name": "iperf", "protocol": "tcp", "dst_port": IPERF, "profile": "bulk"}]
        return p

    policies = {"branch": policy("branch", BRANCH_WAN, "eth0", "hub", HUB_WAN, "10.2.0.0/24",
                                 {"fast": (BRANCH_WAN, HUB_WAN), "slow": (BRANCH_WAN2, HUB_WAN2)}),
                "hub": policy("hub", HUB_WAN, "eth1", "branch", BRANCH_WAN, "10.1.0.0/24",
                              {"fast": (HUB_WAN, BRANCH_WAN), "slow": (HUB_WAN2, BRANCH_WAN2)})}
    for name, p in policies.items():
        with open(os.path.join(directory, f"{name}.json"), "w") as f:
            json.dump(p, f, indent=1)

    router = {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0}

    def middle(name, route, via):
        node = {"sysctls": router, "routes": [{"dst": route, "via": via}]}
        if pep:
            node["batond"] = {"policy": os.path.join(directory, f"{name}.json"), "ready_timeout_s": 30}
        return node

    py = "/usr/bin/python3"
    # Python's http.server, with an accept queue of 1024 instead of its 5: under 200 connections at
    # once its accepting thread waits for the GIL, the queue of 5 overflows, and SYNs dropped past
    # the 20 s connect timeout came back to the client as resets (CT no_response), in a CI run.
    server_code = ("import functools, http.server as h, sys\n"
                   "h.ThreadingHTTPServer.request_queue_size = 1024\n"
                   "handler = functools.partial(h.SimpleHTTPRequestHandler, directory=sys.argv[3])\n"
                   "h.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), handler).serve_forever()\n")
    serve = lambda port: {"name": f"http{port}", "argv": [py, "-c", server_code, SERVER, str(port), www],
                          "ready": {"tcp": f"{SERVER}:{port}", "timeout_s": 10}}
    nodes = {
        "client": {"routes": [{"dst": "default", "via": BRANCH_LAN}]},
        "branch": middle("branch", "10.2.0.0/24", HUB_WAN),
        "hub": middle("hub", "10.1.0.0/24", BRANCH_WAN),
        "server": {"routes": [{"dst": "default", "via": HUB_LAN}],
                   "commands": [serve(HTTP), serve(PLAIN), serve(NO_3WHS),
                                {"name": "peers", "argv": [py, os.path.join(HERE, "pep_peers.py"), "serve", SERVER,
                                                           str(TERM), os.path.join(directory, "peers.log")],
                                 "ready": {"tcp": f"{SERVER}:{TERM}", "timeout_s": 10}},
                                {"name": "iperf3", "argv": ["iperf3", "--server", "--bind", SERVER, "--port",
                                                            str(IPERF)],
                                 "ready": {"tcp": f"{SERVER}:{IPERF}", "timeout_s": 10}}]},
    }
    if priorities:
        nodes["server"]["commands"].append(
            {"name": "echo", "argv": [py, os.path.join(HERE, "tcp_echo.py"), "serve", SERVER, str(ECHO)],
             "ready": {"tcp": f"{SERVER}:{ECHO}", "timeout_s": 10}})
    links = [
        {"a": {"node": "client", "ifname": "eth0", "addresses": [f"{CLIENT}/24"]},
         "b": {"node": "branch", "ifname": "eth0", "addresses": [f"{BRANCH_LAN}/24"]}},
        {"a": {"node": "branch", "ifname": "eth1", "addresses": [f"{BRANCH_WAN}/24"]},
         "b": {"node": "hub", "ifname": "eth0", "addresses": [f"{HUB_WAN}/24"]},
         "emulate": {"both": {"delay_ms": paths["fast"][0] if paths else delay, "loss_pct": loss, "rate_mbit": rate,
                              "queue_frames": 1000},
                     "seed": seed, "pool_frames": 16384}},
        {"a": {"node": "hub", "ifname": "eth1", "addresses": [f"{HUB_LAN}/24"]},
         "b": {"node": "server", "ifname": "eth0", "addresses": [f"{SERVER}/24"]}},
    ]
    if paths:
        links.append({"a": {"node": "branch", "ifname": "eth2", "addresses": [f"{BRANCH_WAN2}/24"]},
                      "b": {"node": "hub", "ifname": "eth2", "addresses": [f"{HUB_WAN2}/24"]},
                      "emulate": {"both": {"delay_ms": paths["slow"][0], "loss_pct": loss, "rate_mbit": rate,
                                           "queue_frames": 1000},
                                  "seed": seed + 1, "pool_frames": 16384}})
    topo = {"name": "pep" if pep else "pep-baseline",
            "comment": "document 003: client, branch PEP, long lossy WAN, hub PEP, server",
            "nodes": nodes, "links": links}
    path = os.path.join(directory, "pep.json")
    with open(path, "w") as f:
        json.dump(topo, f, indent=1)
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--no-pep", action="store_true")
    ap.add_argument("--rate", type=float, default=10)
    ap.add_argument("--delay", type=int, default=300)
    ap.add_argument("--loss", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--priorities", choices=["split", "one"])
    a = ap.parse_args()
    print(write(a.dir, not a.no_pep, a.rate, a.delay, a.loss, a.seed, priorities=a.priorities))
