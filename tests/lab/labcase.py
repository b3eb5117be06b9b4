"""Helpers for lab tests: bring a topology up under a test's own prefix, run commands in nodes,
ask a node's console, and always take the lab down. They hide namespace plumbing, not assertions.
"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(REPO, "deploy", "lab")
SKIP = 77


class Failure(AssertionError):
    pass


class LabCase:
    """One lab test's lab. Use as a context manager: the lab is taken down on any exit."""

    def __init__(self, prefix, topology):
        self.prefix = prefix
        self.topology = topology
        self.failures = []
        self.background = []

    # ---- lifecycle ----
    def __enter__(self):
        self.lab("down", check=False)  # a run killed hard may have left its lab behind
        self.lab("up", self.topology)
        return self

    def __exit__(self, *exc):
        for p in self.background:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("BATON_LAB_KEEP") and (exc[0] is not None or self.failures):
            print(f"lab {self.prefix} kept for inspection (BATON_LAB_KEEP); "
                  f"deploy/lab --prefix {self.prefix} down removes it")
            return False
        self.lab("down", check=False)
        return False

    def lab(self, *args, check=True, capture=False, timeout=300):
        p = subprocess.run([LAB, "--prefix", self.prefix] + list(args), timeout=timeout,
                           stdout=subprocess.PIPE if capture else None)
        if check and p.returncode != 0:
            raise Failure(f"deploy/lab {' '.join(args)} exited {p.returncode}")
        return p.stdout

    def netns(self, node):
        return f"{self.prefix}-{node}"

    def run(self, node, *argv, check=True, timeout=120, stdin=None):
        """Runs argv in `node`'s namespace; returns stdout bytes."""
        p = subprocess.run(["ip", "netns", "exec", self.netns(node)] + list(argv), input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if check and p.returncode != 0:
            said = p.stderr.decode(errors="replace").strip()[-400:]
            body = p.stdout.decode(errors="replace").strip()[-400:]
            raise Failure(f"{node}: {' '.join(argv)} exited {p.returncode}: {said}"
                          + (f" ({body})" if body else ""))
        return p.stdout

    def start(self, node, *argv, stdout=subprocess.DEVNULL, stdin=None):
        """Starts argv in `node`'s namespace in the background; killed when the case ends."""
        p = subprocess.Popen(["ip", "netns", "exec", self.netns(node)] + list(argv),
                             stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        self.background.append(p)
        return p

    def console(self, node, path, method="GET", address="127.0.0.1:9000"):
        """The node's introspection API answer, parsed from JSON."""
        args = ["curl", "-sS", "--fail-with-body", "--max-time", "5", f"http://{address}{path}"]
        if method != "GET":
            args[1:1] = ["-X", method]
        return json.loads(self.run(node, *args))

    def wait_until(self, what, predicate, timeout=20.0, interval=0.05):
        """Polls `predicate` (bounded) until it returns a true value, which is returned."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)

    # ---- assertions that report and go on ----
    def check(self, ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def main(body, prefix, topology):
    """Runs body(case) with root and tool checks, mapping the outcome to an exit status."""
    if os.geteuid() != 0:
        print("SKIP: lab tests need root to create network namespaces")
        sys.exit(SKIP)

    def terminate(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    if len(sys.argv) > 1:
        os.environ.setdefault("BATON_BUILD", sys.argv[1])
    try:
        with LabCase(prefix, topology) as case:
            body(case)
            failures = case.failures
    except Failure as e:
        print(f"FAIL {e}")
        sys.exit(1)
    if failures:
        print(f"{len(failures)} check(s) failed: {', '.join(failures)}")
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)
