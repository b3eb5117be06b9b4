"""The lab: builds a topology out of network namespaces, veths, bridges and link emulators, starts
the processes it names, and takes it all down again.

Names. Node NAME lives in namespace PREFIX-NAME; bridges, emulator interfaces and emulators live in
namespace PREFIX.core (a node name cannot contain a dot, so the two never clash). Every interface
is created inside a lab namespace, never in the host's, so interface names cannot clash with the
host's either. Link i's interfaces in the core are l<i>a (towards endpoint a) and l<i>b.

State. /run/baton-lab/PREFIX/state.json records every namespace before it is created and every
process (pid and kernel start time) as it is started, so `down` removes exactly what `up` made,
even after an `up` that failed half-way. Logs are in /run/baton-lab/PREFIX/logs while the lab is
up; `down` copies them to a logs directory and prints where.
"""

import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from . import netns
from . import topology as topo_mod
from .netns import LabError, run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Lab:
    def __init__(self, prefix, state_root, build=None, logs_root=None, verbose=False,
                 without_batond=False):
        if not topo_mod.NAME_RE.match(prefix) or len(prefix) > 12:
            raise LabError(f'prefix "{prefix}" must be [A-Za-z0-9_-], at most 12 characters')
        self.prefix = prefix
        self.dir = os.path.join(state_root, prefix)
        self.state_path = os.path.join(self.dir, "state.json")
        self.logs = os.path.join(self.dir, "logs")
        self.build = build or os.environ.get("BATON_BUILD") or os.path.join(REPO, "build")
        self.logs_root = logs_root or os.environ.get("BATON_LAB_LOGS") or "/tmp/baton-lab-logs"
        self.verbose = verbose
        self.without_batond = without_batond  # ignore "batond" keys: nodes forward with the kernel
        self.core = f"{prefix}.core"
        self.state = None

    # ---- state ---------------------------------------------------------------------------------

    def ns(self, node):
        return f"{self.prefix}-{node}"

    def load_state(self):
        try:
            with open(self.state_path) as f:
                self.state = json.load(f)
        except FileNotFoundError:
            self.state = None
        except ValueError as e:
            raise LabError(f"{self.state_path} is damaged ({e}); remove the namespaces named "
                           f"{self.prefix}-* and {self.core} with `ip netns del`, then that directory")
        return self.state

    def save(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=1)
        os.replace(tmp, self.state_path)

    def say(self, msg):
        if self.verbose:
            print(f"lab: {msg}", file=sys.stderr)

    # ---- finding binaries ----------------------------------------------------------------------

    def find_binary(self, name, env_var):
        explicit = os.environ.get(env_var)
        if explicit:
            if not os.access(explicit, os.X_OK):
                raise LabError(f"{env_var}={explicit} is not an executable")
            return explicit
        if not os.path.isdir(self.build):
            raise LabError(f"build directory {self.build} does not exist "
                           f"(build baton, or point --build / BATON_BUILD at the build directory)")
        for root, dirs, files in os.walk(self.build):
            dirs[:] = [d for d in dirs if d not in ("CMakeFiles", ".cmake", "Testing")]
            if name in files and os.access(os.path.join(root, name), os.X_OK):
                return os.path.join(root, name)
        raise LabError(f"{name} not found under {self.build} (build the {name} target, "
                       f"or set --build / BATON_BUILD, or {env_var}"
                       + (", or `up --without-batond` to let the kernel forward)" if name == "batond" else ")"))

    # ---- up ------------------------------------------------------------------------------------

    def up(self, topo_path, keep_on_failure=False):
        topo = topo_mod.load(topo_path)
        if self.load_state() is not None:
            raise LabError(f'a lab is already up with prefix "{self.prefix}" (topology '
                           f'{self.state.get("topology")}, since {self.state.get("started")}); '
                           f"run `deploy/lab down` first")
        wanted = [self.core] + [self.ns(n) for n in topo["nodes"]]
        clash = [n for n in wanted if netns.ns_exists(n)]
        if clash:
            raise LabError(f"namespace(s) {', '.join(clash)} already exist but no lab state is "
                           f"recorded; remove them with `ip netns del` or use another --prefix")
        emulated = [l for l in topo.get("links", []) if "emulate" in l]
        linkemu = self.find_binary("baton-linkemu", "BATON_LINKEMU") if emulated else None
        batond = None
        if self.without_batond:
            for node in topo["nodes"].values():
                node.pop("batond", None)
        if any("batond" in n for n in topo["nodes"].values()):
            batond = self.find_binary("batond", "BATOND")
            for name, node in topo["nodes"].items():
                if "batond" in node:
                    policy = self.path(node["batond"]["policy"])
                    if not os.path.isfile(policy):
                        raise LabError(f"/nodes/{name}/batond/policy: {policy} does not exist")

        os.makedirs(self.logs, exist_ok=True)
        self.state = {"prefix": self.prefix, "topology": os.path.abspath(topo_path),
                      "started": datetime.datetime.now().isoformat(timespec="seconds"),
                      "core": self.core, "namespaces": [], "nodes": {}, "links": [],
                      "processes": [], "topo": topo}
        self.save()
        try:
            self.build_network(topo)
            for i, link in enumerate(topo.get("links", [])):
                if "emulate" in link:
                    self.start_emulator(i, link, linkemu)
            for name, node in topo["nodes"].items():
                for cmd in node.get("commands", []):
                    self.start_command(name, cmd)
            for name, node in topo["nodes"].items():
                if "batond" in node:
                    self.start_batond(name, node["batond"], batond)
        except (LabError, OSError) as e:
            if keep_on_failure:
                raise LabError(f"{e}\n(lab left up for inspection: `deploy/lab down` removes it)")
            print(f"lab: up failed: {e}", file=sys.stderr)
            where = self.down(quiet=True)
            raise LabError(f"up failed and was rolled back; logs in {where}")
        return self.summary()

    def path(self, p):
        return p if os.path.isabs(p) else os.path.join(REPO, p)

    def add_ns(self, ns):
        self.state["namespaces"].append(ns)
        self.save()
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def build_network(self, topo):
        ipv6 = topo.get("ipv6", False)
        for ns in [self.core] + [self.ns(n) for n in topo["nodes"]]:
            self.add_ns(ns)
            if not ipv6 or ns == self.core:
                # Before any interface exists, so every new one inherits it: no IPv6 chatter
                # (router solicitations, DAD) through the emulators.
                netns.write_sysctl(ns, "net.ipv6.conf.default.disable_ipv6", 1)
                netns.write_sysctl(ns, "net.ipv6.conf.all.disable_ipv6", 1)
        for name in topo.get("bridges", {}):
            run(["ip", "-n", self.core, "link", "add", f"br-{name}", "type", "bridge",
                 "forward_delay", "0", "stp_state", "0"])
            run(["ip", "-n", self.core, "link", "set", f"br-{name}", "up"])
        for name in topo["nodes"]:
            self.state["nodes"][name] = {"ns": self.ns(name), "interfaces": []}
        for i, link in enumerate(topo.get("links", [])):
            self.build_link(i, link)
        self.save()
        for name, node in topo["nodes"].items():
            for key, value in node.get("sysctls", {}).items():
                netns.write_sysctl(self.ns(name), key, value)
            for r in node.get("routes", []):
                argv = ["ip", "-n", self.ns(name), "route", "add", r["dst"]]
                if "via" in r:
                    argv += ["via", r["via"]]
                if "dev" in r:
                    argv += ["dev", r["dev"]]
                run(argv)

    def build_link(self, i, link):
        """Creates link i. Each endpoint gets one veth: a node's end lives in the node, the other end
        in the core. A bridge endpoint is the core end enslaved to the bridge. An emulated link has
        two core ends, l<i>a and l<i>b, and the emulator moves frames between them; a plain link
        between two nodes is one veth straight from node to node."""
        a, b = link["a"], link["b"]
        emulated = "emulate" in link
        offloads_off = emulated or link.get("offloads", True) is False
        mtu = str(link.get("mtu", 1500))
        made = []  # (namespace, ifname) of every interface of this link

        def core_end(ep, cname):
            """Gives endpoint `ep` an interface `cname` in the core."""
            if "node" in ep:
                ns = self.ns(ep["node"])
                run(["ip", "-n", ns, "link", "add", ep["ifname"], "type", "veth", "peer", "name",
                     cname, "netns", self.core])
                made.append((ns, ep["ifname"]))
            else:  # bridge: a veth inside the core whose other end is a bridge port
                port = cname + "p"
                run(["ip", "-n", self.core, "link", "add", cname, "type", "veth", "peer", "name", port])
                run(["ip", "-n", self.core, "link", "set", port, "master", f"br-{ep['bridge']}"])
                made.append((self.core, port))
            made.append((self.core, cname))

        if emulated:
            core_end(a, f"l{i}a")
            core_end(b, f"l{i}b")
        elif "node" in a and "node" in b:
            na, nb = self.ns(a["node"]), self.ns(b["node"])
            run(["ip", "-n", na, "link", "add", a["ifname"], "type", "veth", "peer", "name",
                 b["ifname"], "netns", nb])
            made += [(na, a["ifname"]), (nb, b["ifname"])]
        else:
            # At least one bridge: each node end gets a core end attached to its bridge; two
            # bridges are joined by one veth inside the core.
            if "node" in a or "node" in b:
                node_ep, br_ep = (a, b) if "node" in a else (b, a)
                core_end(node_ep, f"l{i}a")
                run(["ip", "-n", self.core, "link", "set", f"l{i}a", "master", f"br-{br_ep['bridge']}"])
            else:
                run(["ip", "-n", self.core, "link", "add", f"l{i}a", "type", "veth", "peer", "name", f"l{i}b"])
                run(["ip", "-n", self.core, "link", "set", f"l{i}a", "master", f"br-{a['bridge']}"])
                run(["ip", "-n", self.core, "link", "set", f"l{i}b", "master", f"br-{b['bridge']}"])
                made += [(self.core, f"l{i}a"), (self.core, f"l{i}b")]

        for ns, ifname in made:
            run(["ip", "-n", ns, "link", "set", ifname, "mtu", mtu])
            if offloads_off:
                # Plain frames: finished checksums, nothing larger than the MTU.
                run(["ip", "netns", "exec", ns, "ethtool", "-K", ifname,
                     "tso", "off", "gso", "off", "gro", "off", "tx", "off"])
        for ep in (a, b):
            if "node" not in ep:
                continue
            ns = self.ns(ep["node"])
            if "mac" in ep:
                run(["ip", "-n", ns, "link", "set", ep["ifname"], "address", ep["mac"]])
            for addr in ep.get("addresses", []):
                run(["ip", "-n", ns, "addr", "add", addr, "dev", ep["ifname"]])
            self.state["nodes"][ep["node"]]["interfaces"].append(
                {"ifname": ep["ifname"], "addresses": ep.get("addresses", []), "link": i})
        for ns, ifname in made:
            run(["ip", "-n", ns, "link", "set", ifname, "up"])
        self.state["links"].append({
            "index": i, "a": a, "b": b, "emulated": emulated, "offloads": not offloads_off,
            "mtu": int(mtu), "core_ifs": [n for s, n in made if s == self.core]})

    # ---- processes -----------------------------------------------------------------------------

    def spawn(self, kind, node, name, ns, argv, cwd=None, env=None, extra=None):
        """Starts argv inside `ns` in its own session, output to a log file; records it."""
        log = os.path.join(self.logs, f"{kind}-{node}-{name}.log")
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(log, "ab") as out:
            out.write(f"# {datetime.datetime.now().isoformat()} ns={ns}: {shlex.join(argv)}\n".encode())
            out.flush()
            # `ip netns exec` execs the command, so the pid we get is the command's own.
            p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=full_env,
                                 start_new_session=True)
        start = None
        for _ in range(100):  # the pid exists as soon as fork returns; read its start time once
            start = netns.proc_start_time(p.pid)
            if start is not None:
                break
        proc = {"kind": kind, "node": node, "name": name, "ns": ns, "pid": p.pid, "start": start,
                "argv": argv, "log": log}
        proc.update(extra or {})
        self.state["processes"].append(proc)
        self.save()
        self._popen = getattr(self, "_popen", {})
        self._popen[p.pid] = p  # keeps the child reapable while we wait on it
        return proc

    def running(self, proc):
        p = getattr(self, "_popen", {}).get(proc["pid"])
        if p is not None:
            return p.poll() is None
        return netns.alive(proc)

    def log_tail(self, proc, lines=15):
        try:
            with open(proc["log"], errors="replace") as f:
                tail = f.readlines()[-lines:]
            return "".join("    | " + l for l in tail)
        except OSError:
            return ""

    def wait_ready(self, proc, what, condition, timeout):
        try:
            netns.wait_for(what, condition, timeout, alive=lambda: self.running(proc))
        except LabError as e:
            raise LabError(f"{e}\n  log {proc['log']}:\n{self.log_tail(proc)}")

    def start_emulator(self, i, link, linkemu):
        em = link["emulate"]
        stats = os.path.join(self.logs, f"linkemu-l{i}.stats.json")
        mtu = link.get("mtu", 1500)
        control = os.path.join(self.logs, f"linkemu-l{i}.control")
        argv = [linkemu, "--a", f"l{i}a", "--b", f"l{i}b", "--stats", stats, "--control", control,
                "--max-frame", str(mtu + 18)]
        for key, opt in (("both", "--both"), ("a_to_b", "--a-to-b"), ("b_to_a", "--b-to-a")):
            if key in em:
                argv += [opt, topo_mod.direction_spec(em[key])]
        if "seed" in em:
            argv += ["--seed", str(em["seed"])]
        if "pool_frames" in em:
            argv += ["--pool", str(em["pool_frames"])]
        if em.get("realtime", True):
            # A wire does not wait for the scheduler: a loaded machine would stretch the delays.
            # The emulator sleeps in epoll between frames, so this costs others nothing when idle.
            argv += ["--realtime", "10"]
        proc = self.spawn("linkemu", "core", f"l{i}", self.core, argv,
                          extra={"stats": stats, "link": i, "control": control})
        self.wait_ready(proc, f"link emulator for /links/{i}", lambda: os.path.exists(stats), 10)

    def start_command(self, node, cmd):
        argv = cmd["argv"] if "argv" in cmd else ["/bin/sh", "-c", cmd["shell"]]
        cwd = self.path(cmd["cwd"]) if "cwd" in cmd else REPO
        proc = self.spawn("cmd", node, cmd["name"], self.ns(node), argv, cwd=cwd, env=cmd.get("env"))
        ready = cmd.get("ready")
        if ready:
            what = f'/nodes/{node}/commands "{cmd["name"]}"'
            self.wait_ready(proc, what, self.probe(self.ns(node), ready), ready.get("timeout_s", 10))

    def console_of(self, spec):
        """The console address to wait on: the topology's, else the policy's top-level "console"."""
        if "console" in spec:
            return spec["console"]
        try:
            with open(self.path(spec["policy"])) as f:
                console = json.load(f).get("console")
        except (OSError, ValueError, AttributeError):
            return None
        return console if isinstance(console, str) and ":" in console else None

    def start_batond(self, node, spec, batond):
        spec = dict(spec, console=self.console_of(spec))
        if spec["console"] is None:
            del spec["console"]
        subst = {"node": node, "ns": self.ns(node), "console": spec.get("console", ""),
                 "repo": REPO, "logs": self.logs, "prefix": self.prefix}
        args = [a.format(**subst) for a in spec.get("args", [])]
        argv = [batond, "--policy", self.path(spec["policy"])] + args
        for key, value in spec.get("sysctls", {}).items():  # e.g. kernel forwarding off
            netns.write_sysctl(self.ns(node), key, value)
        proc = self.spawn("batond", node, "batond", self.ns(node), argv, cwd=REPO,
                          extra={"console": spec.get("console")})
        if "console" in spec:
            probe = self.probe(self.ns(node), {"http": spec["console"] + "/actors"})
            self.wait_ready(proc, f"batond on {node}: console http://{spec['console']}/actors",
                            probe, spec.get("ready_timeout_s", 30))

    @staticmethod
    def probe(ns, ready):
        if "tcp" in ready:
            host, _, port = ready["tcp"].rpartition(":")

            def tcp_ok():
                s = netns.connect(ns, host, int(port))
                if s is None:
                    return False
                s.close()
                return True
            return tcp_ok
        hostport, _, path = ready["http"].partition("/")
        host, _, port = hostport.rpartition(":")
        return lambda: netns.http_status(ns, host, int(port), "/" + path) == 200

    # ---- down ----------------------------------------------------------------------------------

    def down(self, quiet=False):
        """Stops every recorded process, deletes the namespaces (which removes their veths and
        bridges), keeps the logs. Returns the logs directory, or None when no lab was up."""
        if self.load_state() is None:
            if not quiet:
                print(f'lab: no lab is up with prefix "{self.prefix}"; nothing to do')
            return None
        procs = [p for p in self.state["processes"] if p.get("start") is not None and netns.alive(p)]
        # Emulators last, so their final counters include the servers' goodbye traffic.
        for group in ([p for p in procs if p["kind"] != "linkemu"], [p for p in procs if p["kind"] == "linkemu"]):
            self.stop(group)
        # Anything a command forked lives in a lab namespace too: stop it by pid.
        strays = []
        for ns in self.state["namespaces"]:
            for pid in netns.ns_pids(ns):
                st = netns.proc_start_time(pid)
                if st is not None:
                    strays.append({"pid": pid, "start": st, "kind": "stray", "name": str(pid)})
        self.stop(strays)
        for ns in reversed(self.state["namespaces"]):
            if netns.ns_exists(ns):
                run(["ip", "netns", "del", ns], check=False)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        dest = os.path.join(self.logs_root, f"{self.prefix}-{stamp}")
        n = 1
        while os.path.exists(dest):
            n += 1
            dest = os.path.join(self.logs_root, f"{self.prefix}-{stamp}-{n}")
        os.makedirs(self.logs_root, exist_ok=True)
        if os.path.isdir(self.logs):
            shutil.copytree(self.logs, dest)
        else:
            os.makedirs(dest)
        shutil.copy(self.state_path, os.path.join(dest, "state.json"))
        if not quiet:
            for p in self.state["processes"]:
                if p["kind"] == "linkemu":
                    c = read_stats(p.get("stats"))
                    if c:
                        print(f"link {p['link']} emulator final counters: {format_counters(c)}")
        shutil.rmtree(self.dir)
        if not quiet:
            print(f"lab: down ({len(self.state['namespaces'])} namespaces removed); logs kept in {dest}")
        return dest

    def stop(self, procs, grace=5.0):
        for p in procs:
            try:
                os.kill(p["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        left = list(procs)
        while left and time.monotonic() < deadline:
            left = [p for p in left if netns.alive(p)]
            if left:
                time.sleep(0.05)
        for p in left:
            print(f"lab: {p['kind']} {p['name']} (pid {p['pid']}) ignored SIGTERM; killing it",
                  file=sys.stderr)
            try:
                os.kill(p["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ---- status / exec / summary ---------------------------------------------------------------

    def require_up(self):
        if self.load_state() is None:
            raise LabError(f'no lab is up with prefix "{self.prefix}" (deploy/lab up TOPOLOGY.json)')
        return self.state

    def summary(self):
        st = self.state
        out = [f"lab {st['prefix']}: {st['topology']} (up since {st['started']})"]
        out.append("nodes:")
        for name, node in st["nodes"].items():
            addrs = ", ".join(f"{i['ifname']} {' '.join(i['addresses']) or '(no address)'}"
                              for i in node["interfaces"])
            out.append(f"  {name:<12} ns {node['ns']:<20} {addrs}")
        out.append("links:")
        topo = st["topo"]
        for l in st["links"]:
            ends = " -- ".join(f"{e['node']}:{e['ifname']}" if "node" in e else f"bridge {e['bridge']}"
                               for e in (l["a"], l["b"]))
            em = topo["links"][l["index"]].get("emulate")
            desc = ""
            if em:
                desc = "  emulated " + "; ".join(
                    f"{k} {topo_mod.direction_spec(em[k]) or 'none'}" for k in ("both", "a_to_b", "b_to_a") if k in em)
            out.append(f"  [{l['index']}] {ends}  mtu {l['mtu']}"
                       f"{'' if l['offloads'] else ', offloads off'}{desc}")
        out.append("processes:")
        for p in st["processes"]:
            state = "running" if netns.alive(p) else "EXITED"
            extra = f"  console http://{p['console']}" if p.get("console") else ""
            out.append(f"  {p['kind']:<8} {p['node']:<10} {p['name']:<10} pid {p['pid']:<7} {state}{extra}")
            out.append(f"           log {p['log']}")
        out.append("run a command in a node: deploy/lab exec NODE -- CMD...")
        return "\n".join(out)

    def status(self):
        self.require_up()
        lines = [self.summary(), "addresses (kernel view):"]
        for name, node in self.state["nodes"].items():
            if not netns.ns_exists(node["ns"]):
                lines.append(f"  {name}: namespace {node['ns']} MISSING")
                continue
            for l in run(["ip", "-n", node["ns"], "-br", "addr"], check=False).splitlines():
                lines.append(f"  {name:<12} {l}")
        emus = [p for p in self.state["processes"] if p["kind"] == "linkemu"]
        if emus:
            lines.append("emulated links (live counters):")
        for p in emus:
            c = fresh_stats(p) if netns.alive(p) else read_stats(p.get("stats"))
            lines.append(f"  link {p['link']}: {format_counters(c) if c else 'no counters'}")
        return "\n".join(lines)

    def impair(self, link, changes):
        """Changes a running emulated link: `link` is its index in /links or the name of a node
        with exactly one emulated link; `changes` are lines "a_to_b SPEC", "b_to_a SPEC" or
        "both SPEC" (a_to_b: from the link's "a" end to its "b" end). Waits for the emulator to
        apply them; raises LabError when it does not (its log says why)."""
        self.require_up()
        emus = [p for p in self.state["processes"] if p["kind"] == "linkemu"]
        links = self.state["topo"].get("links", [])
        if str(link).isdigit():
            chosen = [p for p in emus if p["link"] == int(link)]
        else:
            chosen = [p for p in emus if link in (links[p["link"]]["a"]["node"], links[p["link"]]["b"]["node"])]
        if len(chosen) != 1:
            raise LabError(f'"{link}" names {len(chosen)} emulated links (give /links index: '
                           f'{", ".join(str(p["link"]) for p in emus)})')
        proc = chosen[0]
        if "control" not in proc:
            raise LabError(f"link {proc['link']}'s emulator was started without a control file")
        for line in changes:
            if len(line.split()) != 2 or line.split()[0] not in ("a_to_b", "b_to_a", "both"):
                raise LabError(f'"{line}" is not "a_to_b|b_to_a|both SPEC"')
        with open(proc["control"], "w") as f:
            f.write("\n".join(changes) + "\n")
        before = (read_stats(proc["stats"]) or {}).get("changes", 0)
        os.kill(proc["pid"], signal.SIGHUP)
        try:
            netns.wait_for(f"link {proc['link']} to change",
                           lambda: (read_stats(proc["stats"]) or {}).get("changes", 0) > before, 5)
        except LabError:
            raise LabError(f"link {proc['link']}'s emulator did not apply {changes}:\n{self.log_tail(proc)}")
        return proc["link"]

    def exec_argv(self, node, cmd):
        self.require_up()
        if node == "core":
            ns = self.core
        elif node in self.state["nodes"]:
            ns = self.state["nodes"][node]["ns"]
        else:
            raise LabError(f'no node "{node}" in this lab (nodes: {", ".join(self.state["nodes"])}; '
                           f'"core" is the emulators\' namespace)')
        if not cmd:
            raise LabError("nothing to run: deploy/lab exec NODE -- CMD...")
        return ["ip", "netns", "exec", ns] + cmd


def read_stats(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError, TypeError):
        return None


def fresh_stats(proc, timeout=2.0):
    """Asks a running emulator for its counters (SIGUSR1) and waits for the file to change."""
    path = proc["stats"]
    def identity():
        try:
            st = os.stat(path)
            return (st.st_ino, st.st_mtime_ns)
        except OSError:
            return None
    before = identity()
    os.kill(proc["pid"], signal.SIGUSR1)
    try:  # the emulator replaces the file (rename), so a new inode says it answered
        netns.wait_for("emulator counters", lambda: identity() not in (None, before), timeout)
    except LabError:
        pass
    return read_stats(path)


def format_counters(c):
    parts = []
    for d in ("a_to_b", "b_to_a"):
        x = c[d]
        parts.append(f"{d}: in {x['frames_in']} out {x['frames_out']} lost {x['dropped_loss']} "
                     f"queue-drop {x['dropped_queue']} pool-drop {x['dropped_pool']}"
                     + (f" reordered {x['reordered']}" if x["reordered"] else ""))
    if any(c.get("rx_socket_drops", {}).values()):
        parts.append(f"emulator too slow, kernel dropped {c['rx_socket_drops']}")
    if any(c.get("csum_partial", {}).values()):
        parts.append(f"unfinished checksums seen {c['csum_partial']} (offloads on?)")
    return "; ".join(parts)
