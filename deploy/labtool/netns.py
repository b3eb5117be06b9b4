"""Network-namespace plumbing: running ip/ethtool, opening sockets inside a namespace, probes."""

import contextlib
import ctypes
import os
import socket
import subprocess
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class LabError(Exception):
    """A step of the lab failed; the message says which and why."""


def run(argv, check=True):
    """Runs a command, returns its stdout; on failure raises LabError with the command and stderr."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def ns_exists(ns):
    return os.path.exists(f"/run/netns/{ns}")


@contextlib.contextmanager
def inside(ns):
    """Moves this thread into network namespace `ns` for the duration of the block. Sockets keep
    the namespace they were created in, so a socket made inside stays usable after the block."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    except OSError:
        os.close(own)
        raise LabError(f"network namespace {ns} does not exist")
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise LabError(f"setns({ns}): {os.strerror(e)}")
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:  # cannot go on in the wrong namespace
                os._exit(70)
    finally:
        os.close(target)
        os.close(own)


def write_sysctl(ns, key, value):
    """Sets a sysctl inside `ns` (net.* entries are per namespace). Key in dotted or slash form."""
    path = "/proc/sys/" + (key if "/" in key else key.replace(".", "/"))
    with inside(ns):
        try:
            with open(path, "w") as f:
                f.write(f"{value}\n")
        except OSError as e:
            raise LabError(f"sysctl {key}={value} in {ns}: {e.strerror}")


def connect(ns, host, port, timeout=0.5):
    """A TCP connection from inside `ns`, or None when refused/unreachable/timed out."""
    with inside(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return s
    except OSError:
        s.close()
        return None


def http_status(ns, host, port, path, timeout=1.0):
    """Status code of GET http://host:port/path made from inside `ns`, or None if no answer."""
    s = connect(ns, host, port, timeout)
    if s is None:
        return None
    try:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data and len(data) < 4096:
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
        parts = data.split(b" ", 2)
        if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
            return int(parts[1])
        return None
    except OSError:
        return None
    finally:
        s.close()


def wait_for(what, condition, timeout, alive=None, interval=0.05):
    """Polls `condition()` until it is true, for at most `timeout` seconds. `alive()`, when given,
    must stay true (e.g. the process being waited for has not exited). Raises LabError naming
    `what` on timeout or death."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if alive is not None and not alive():
            raise LabError(f"{what}: the process exited before it was ready")
        if time.monotonic() >= deadline:
            raise LabError(f"{what}: not ready after {timeout:g} s")
        time.sleep(interval)


def proc_start_time(pid):
    """The kernel's start time of `pid` (clock ticks since boot), or None if there is no such
    process. Recorded with each pid so a recycled pid is never mistaken for ours."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19])  # field 22 of stat(5), counted after the comm field


def alive(proc):
    """True when the process recorded as {pid, start} still runs (and is not a zombie)."""
    st = proc_start_time(proc["pid"])
    if st is None or st != proc["start"]:
        return False
    try:
        with open(f"/proc/{proc['pid']}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] != "Z"
    except OSError:
        return False


def ns_pids(ns):
    """Pids of every process whose network namespace is `ns`."""
    if not ns_exists(ns):
        return []
    out = run(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in out.split() if x.isdigit()]
