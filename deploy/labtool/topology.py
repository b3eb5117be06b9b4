"""Topology files: loading and validation. Every error names the JSON pointer of the bad value.

The format is described in deploy/topologies/README.md. Relative paths in a topology (policy
files, command working directories) are relative to the repository root, so the same file works
from any current directory.
"""

import ipaddress
import json
import re

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")
IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
BRIDGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,11}$")
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
SYSCTL_RE = re.compile(r"^[A-Za-z0-9_]+([./][A-Za-z0-9_-]+)+$")


class TopologyError(Exception):
    """A bad topology: `pointer` is the JSON pointer of the offending value."""

    def __init__(self, pointer, reason):
        super().__init__(f"{pointer or '/'}: {reason}")
        self.pointer = pointer
        self.reason = reason


def ptr(base, key):
    """Appends one reference token to a JSON pointer (RFC 6901 escaping)."""
    return f"{base}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _obj(v, p, allowed, required=()):
    if not isinstance(v, dict):
        raise TopologyError(p, f"expected an object, got {json.dumps(v)[:60]}")
    for k in v:
        if k not in allowed:
            raise TopologyError(ptr(p, k), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for k in required:
        if k not in v:
            raise TopologyError(ptr(p, k), "missing")
    return v


def _str(v, p, regex=None, what="a string"):
    if not isinstance(v, str) or (regex is not None and not regex.match(v)):
        raise TopologyError(p, f"{json.dumps(v)[:60]} is not {what}")
    return v


def _num(v, p, lo=None, hi=None, integer=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise TopologyError(p, f"{json.dumps(v)[:60]} is not {'an integer' if integer else 'a number'}")
    if lo is not None and v < lo:
        raise TopologyError(p, f"{v} is below the minimum {lo}")
    if hi is not None and v > hi:
        raise TopologyError(p, f"{v} is above the maximum {hi}")
    return v


def _bool(v, p):
    if not isinstance(v, bool):
        raise TopologyError(p, f"{json.dumps(v)[:60]} is not true or false")
    return v


def _list(v, p):
    if not isinstance(v, list):
        raise TopologyError(p, f"expected an array, got {json.dumps(v)[:60]}")
    return v


def _hostport(v, p):
    _str(v, p, what="HOST:PORT")
    host, sep, port = v.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
        ok = sep == ":" and port.isdigit() and 0 < int(port) < 65536
    except ValueError:
        ok = False
    if not ok:
        raise TopologyError(p, f'"{v}" is not IPV4:PORT')
    return host, int(port)


def _cidr(v, p):
    _str(v, p, what="an address with prefix length")
    try:
        iface = ipaddress.ip_interface(v)
    except ValueError:
        raise TopologyError(p, f'"{v}" is not an address with prefix length such as 10.0.0.1/24')
    if "/" not in v:
        raise TopologyError(p, f'"{v}" needs a prefix length, e.g. {v}/24')
    return iface


def _argv(v, p):
    _list(v, p)
    if not v:
        raise TopologyError(p, "empty command")
    for i, a in enumerate(v):
        _str(a, ptr(p, i))
    return v


DIRECTION_KEYS = {"delay_ms", "jitter_ms", "jitter_reorder", "loss_pct", "gilbert_elliott",
                  "rate_mbit", "burst_bytes", "queue_frames", "reorder_pct"}


def _direction(v, p):
    _obj(v, p, DIRECTION_KEYS)
    for k in ("delay_ms", "jitter_ms", "rate_mbit"):
        if k in v:
            _num(v[k], ptr(p, k), lo=0)
    for k in ("loss_pct", "reorder_pct"):
        if k in v:
            _num(v[k], ptr(p, k), lo=0, hi=100)
    if "jitter_reorder" in v:
        _bool(v["jitter_reorder"], ptr(p, "jitter_reorder"))
    if "burst_bytes" in v:
        _num(v["burst_bytes"], ptr(p, "burst_bytes"), lo=1, integer=True)
    if "queue_frames" in v:
        _num(v["queue_frames"], ptr(p, "queue_frames"), lo=1, integer=True)
    if "gilbert_elliott" in v:
        gp = ptr(p, "gilbert_elliott")
        ge = _obj(v["gilbert_elliott"], gp, {"p", "r", "loss_good", "loss_bad"}, ("p", "r"))
        for k in ge:
            _num(ge[k], ptr(gp, k), lo=0, hi=1)
        if ge["p"] + ge["r"] <= 0:
            raise TopologyError(ptr(gp, "p"), "p + r must be > 0")
        if "loss_pct" in v:
            raise TopologyError(ptr(p, "loss_pct"), "give loss_pct or gilbert_elliott, not both")
    return v


def direction_spec(d):
    """The baton-linkemu SPEC string for one direction object (already validated)."""
    parts = []
    if "delay_ms" in d:
        parts.append(f"delay={d['delay_ms']}ms")
    if "jitter_ms" in d:
        parts.append(f"jitter={d['jitter_ms']}ms")
    if d.get("jitter_reorder"):
        parts.append("jitter_reorder=1")
    if "loss_pct" in d:
        parts.append(f"loss={d['loss_pct']}%")
    ge = d.get("gilbert_elliott")
    if ge:
        parts += [f"ge_p={ge['p']}", f"ge_r={ge['r']}",
                  f"ge_loss_good={ge.get('loss_good', 0)}", f"ge_loss_bad={ge.get('loss_bad', 1)}"]
    if d.get("rate_mbit"):
        parts.append(f"rate={d['rate_mbit']}mbit")
    if "burst_bytes" in d:
        parts.append(f"burst={d['burst_bytes']}")
    if "queue_frames" in d:
        parts.append(f"queue={d['queue_frames']}")
    if "reorder_pct" in d:
        parts.append(f"reorder={d['reorder_pct']}%")
    return ",".join(parts)


def _emulate(v, p):
    _obj(v, p, {"both", "a_to_b", "b_to_a", "seed", "pool_frames", "realtime"})
    if "realtime" in v:
        _bool(v["realtime"], ptr(p, "realtime"))
    for k in ("both", "a_to_b", "b_to_a"):
        if k in v:
            _direction(v[k], ptr(p, k))
    if "seed" in v:
        _num(v["seed"], ptr(p, "seed"), lo=0, integer=True)
    if "pool_frames" in v:
        _num(v["pool_frames"], ptr(p, "pool_frames"), lo=16, integer=True)
    return v


def _command(v, p):
    _obj(v, p, {"name", "argv", "shell", "cwd", "ready", "env"}, ("name",))
    _str(v["name"], ptr(p, "name"), NAME_RE, "a name ([A-Za-z0-9_-], at most 24)")
    if ("argv" in v) == ("shell" in v):
        raise TopologyError(p, 'give exactly one of "argv" (array) or "shell" (string)')
    if "argv" in v:
        _argv(v["argv"], ptr(p, "argv"))
    else:
        _str(v["shell"], ptr(p, "shell"))
    if "cwd" in v:
        _str(v["cwd"], ptr(p, "cwd"))
    if "env" in v:
        ep = ptr(p, "env")
        _obj(v["env"], ep, set(v["env"]))
        for k, val in v["env"].items():
            _str(val, ptr(ep, k))
    if "ready" in v:
        _ready(v["ready"], ptr(p, "ready"))
    return v


def _ready(v, p):
    _obj(v, p, {"tcp", "http", "timeout_s"})
    if ("tcp" in v) == ("http" in v):
        raise TopologyError(p, 'give exactly one of "tcp" (HOST:PORT) or "http" (HOST:PORT/PATH)')
    if "tcp" in v:
        _hostport(v["tcp"], ptr(p, "tcp"))
    else:
        hp, _, _ = _str(v["http"], ptr(p, "http")).partition("/")
        _hostport(hp, ptr(p, "http"))
    if "timeout_s" in v:
        _num(v["timeout_s"], ptr(p, "timeout_s"), lo=0.1, hi=600)
    return v


def _batond(v, p):
    _obj(v, p, {"policy", "console", "args", "ready_timeout_s", "sysctls"}, ("policy",))
    if "sysctls" in v:
        _sysctls(v["sysctls"], ptr(p, "sysctls"))
    _str(v["policy"], ptr(p, "policy"))
    if "console" in v:
        _hostport(v["console"], ptr(p, "console"))
    if "args" in v:
        _list(v["args"], ptr(p, "args"))
        for i, a in enumerate(v["args"]):
            _str(a, ptr(ptr(p, "args"), i))
    if "ready_timeout_s" in v:
        _num(v["ready_timeout_s"], ptr(p, "ready_timeout_s"), lo=0.1, hi=600)
    return v


def _sysctls(v, p):
    _obj(v, p, set(v) if isinstance(v, dict) else set())
    for k, val in v.items():
        if not SYSCTL_RE.match(k):
            raise TopologyError(ptr(p, k), "not a sysctl name such as net.ipv4.ip_forward")
        if isinstance(val, bool) or not isinstance(val, (int, str)):
            raise TopologyError(ptr(p, k), "value must be an integer or a string")


def _node(v, p):
    _obj(v, p, {"sysctls", "routes", "commands", "batond", "comment"})
    if "sysctls" in v:
        _sysctls(v["sysctls"], ptr(p, "sysctls"))
    for i, r in enumerate(_list(v.get("routes", []), ptr(p, "routes"))):
        rp = ptr(ptr(p, "routes"), i)
        _obj(r, rp, {"dst", "via", "dev"}, ("dst",))
        if r["dst"] != "default":
            try:
                ipaddress.ip_network(_str(r["dst"], ptr(rp, "dst")))
            except ValueError:
                raise TopologyError(ptr(rp, "dst"), f'"{r["dst"]}" is not a prefix or "default"')
        if "via" not in r and "dev" not in r:
            raise TopologyError(rp, 'a route needs "via" or "dev"')
        if "via" in r:
            try:
                ipaddress.IPv4Address(_str(r["via"], ptr(rp, "via")))
            except ValueError:
                raise TopologyError(ptr(rp, "via"), f'"{r["via"]}" is not an IPv4 address')
        if "dev" in r:
            _str(r["dev"], ptr(rp, "dev"), IFNAME_RE, "an interface name")
    names = set()
    for i, c in enumerate(_list(v.get("commands", []), ptr(p, "commands"))):
        _command(c, ptr(ptr(p, "commands"), i))
        if c["name"] in names:
            raise TopologyError(ptr(ptr(ptr(p, "commands"), i), "name"), f'duplicate command "{c["name"]}"')
        names.add(c["name"])
    if "batond" in v:
        _batond(v["batond"], ptr(p, "batond"))
    return v


def _endpoint(v, p, topo):
    if isinstance(v, dict) and "bridge" in v:
        _obj(v, p, {"bridge"})
        if v["bridge"] not in topo.get("bridges", {}):
            raise TopologyError(ptr(p, "bridge"), f'no bridge named "{v["bridge"]}" in /bridges')
        return v
    _obj(v, p, {"node", "ifname", "addresses", "mac"}, ("node", "ifname"))
    if v["node"] not in topo["nodes"]:
        raise TopologyError(ptr(p, "node"), f'no node named "{v["node"]}" in /nodes')
    _str(v["ifname"], ptr(p, "ifname"), IFNAME_RE, "an interface name (at most 15 characters)")
    for i, a in enumerate(_list(v.get("addresses", []), ptr(p, "addresses"))):
        _cidr(a, ptr(ptr(p, "addresses"), i))
    if "mac" in v:
        _str(v["mac"], ptr(p, "mac"), MAC_RE, "a MAC address")
    return v


def validate(topo):
    """Checks a parsed topology; returns it unchanged or raises TopologyError."""
    _obj(topo, "", {"name", "comment", "ipv6", "nodes", "bridges", "links"}, ("nodes",))
    if "name" in topo:
        _str(topo["name"], "/name")
    if "ipv6" in topo:
        _bool(topo["ipv6"], "/ipv6")
    _obj(topo["nodes"], "/nodes", set(topo["nodes"]))
    if not topo["nodes"]:
        raise TopologyError("/nodes", "a topology needs at least one node")
    for name, node in topo["nodes"].items():
        if not NAME_RE.match(name):
            raise TopologyError(ptr("/nodes", name), "node names are [A-Za-z0-9_-], at most 24 characters")
        _node(node, ptr("/nodes", name))
    bridges = _obj(topo.get("bridges", {}), "/bridges", set(topo.get("bridges", {})))
    for name, b in bridges.items():
        if not BRIDGE_RE.match(name):
            raise TopologyError(ptr("/bridges", name), "bridge names are [A-Za-z0-9_-], at most 12 characters")
        _obj(b, ptr("/bridges", name), {"comment"})
    used = {}
    for i, link in enumerate(_list(topo.get("links", []), "/links")):
        lp = ptr("/links", i)
        _obj(link, lp, {"a", "b", "mtu", "offloads", "emulate", "comment"}, ("a", "b"))
        for side in ("a", "b"):
            e = _endpoint(link[side], ptr(lp, side), topo)
            if "node" in e:
                key = (e["node"], e["ifname"])
                if key in used:
                    raise TopologyError(ptr(ptr(lp, side), "ifname"),
                                        f'node "{e["node"]}" already has {e["ifname"]} (at {used[key]})')
                used[key] = ptr(ptr(lp, side), "ifname")
        if "mtu" in link:
            _num(link["mtu"], ptr(lp, "mtu"), lo=576, hi=9000, integer=True)
        if "offloads" in link:
            _bool(link["offloads"], ptr(lp, "offloads"))
        if "emulate" in link:
            _emulate(link["emulate"], ptr(lp, "emulate"))
    for name, node in topo["nodes"].items():
        for i, r in enumerate(node.get("routes", [])):
            if "dev" in r and (name, r["dev"]) not in used:
                raise TopologyError(ptr(ptr(ptr(ptr("/nodes", name), "routes"), i), "dev"),
                                    f'node "{name}" has no interface {r["dev"]}')
    return topo


def load(path):
    """Reads and validates a topology file. Raises TopologyError (JSON syntax errors included,
    with the line and column) or OSError."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        topo = json.loads(text)
    except json.JSONDecodeError as e:
        raise TopologyError("", f"not JSON: {e.msg} at line {e.lineno} column {e.colno}")
    return validate(topo)
