#!/usr/bin/python3
"""The probe client of tests/bench/cluster_failover.py: the same measurement for every system it
compares (baton's cluster IP, a keepalived VIP). Run inside the client's namespace.

  failover_probe.py --to HOST:PORT [--interval 0.01] [--timeout 3]

The service at HOST:PORT echoes what it reads (tests/lab/cluster_client.py serve). Two probe kinds,
each sending one 64-byte request every INTERVAL and logging the arrival time (CLOCK_MONOTONIC, the
same clock in every namespace) of each complete answer:
  persist  one TCP connection kept open, request / echo / wait (the stream an application sees);
           if it fails (reset, EOF) it is counted and a new connection is opened from an
           ephemeral port, so a system that cannot keep the connection is measured with a
           reconnecting client;
  fresh    a new TCP connection per request, opened every INTERVAL whether or not earlier ones
           answered (each gives up after TIMEOUT); closed with an abortive close (SO_LINGER 0)
           so local ports can be reused at once.
Commands, one per stdin line; answers are one JSON object per line on stdout:
  start PERSIST_PORT FRESH_PORTS   start both kinds: PERSIST_PORT 0 = ephemeral; FRESH_PORTS a
                                   comma list of local ports used in turn, or "any"
                                   -> {"started": {"persist_port": N}}
  status                           -> {"status": {"now": t, KIND: {"last": t, "recent": n}}}
                                      (recent: answers in the last 0.2 s)
  stop                             stop both, report what they logged since start
                                   -> {"report": {KIND: {"answers": [t...], "failures": {...}}}}
  quit                             exit
Exit status 0, 2 on bad arguments.
"""

import argparse
import asyncio
import collections
import json
import socket
import struct
import sys
import time

MESSAGE = 64
RECENT_S = 0.2


class Kind:
    def __init__(self):
        self.answers = []
        self.failures = collections.Counter()

    def figures(self, now):
        recent = 0
        for t in reversed(self.answers):
            if t < now - RECENT_S:
                break
            recent += 1
        return {"last": self.answers[-1] if self.answers else None, "recent": recent}


class Probe:
    def __init__(self, args):
        host, port = args.to.rsplit(":", 1)
        self.dest = (host, int(port))
        self.interval = args.interval
        self.timeout = args.timeout
        self.kinds = {}
        self.tasks = []
        self.running = False

    def out(self, obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    async def open(self, port):
        loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if port:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
        try:
            await loop.sock_connect(s, self.dest)
        except BaseException:
            s.close()
            raise
        return s

    @staticmethod
    async def exchange(s, seq):
        loop = asyncio.get_running_loop()
        msg = f"{seq}:".encode().ljust(MESSAGE, b".")
        await loop.sock_sendall(s, msg)
        got = b""
        while len(got) < MESSAGE:
            chunk = await loop.sock_recv(s, MESSAGE - len(got))
            if not chunk:
                raise EOFError("eof")
            got += chunk
        if got != msg:
            raise ValueError("mismatch")

    @staticmethod
    def abort(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    async def persist(self, kind, port):
        seq = 0
        s = None
        try:
            while self.running:
                if s is None:
                    try:
                        s = await self.open(port)
                    except OSError as e:
                        kind.failures[f"connect: {e.strerror or e}"] += 1
                        await asyncio.sleep(self.interval)
                        continue
                    port = 0  # a reconnect takes any port: the old one may linger
                due = time.monotonic() + self.interval
                try:
                    await self.exchange(s, seq)
                    kind.answers.append(time.monotonic())
                except (OSError, EOFError, ValueError) as e:
                    kind.failures[type(e).__name__] += 1
                    self.abort(s)
                    s = None
                seq += 1
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        finally:
            if s is not None:
                self.abort(s)

    async def one_fresh(self, kind, port, seq):
        try:
            s = await asyncio.wait_for(self.open(port), self.timeout)
        except asyncio.TimeoutError:
            kind.failures["connect timeout"] += 1
            return
        except OSError as e:
            kind.failures[f"connect: {e.strerror or e}"] += 1
            return
        try:
            await asyncio.wait_for(self.exchange(s, seq), self.timeout)
            kind.answers.append(time.monotonic())
        except asyncio.TimeoutError:
            kind.failures["answer timeout"] += 1
        except (OSError, EOFError, ValueError) as e:
            kind.failures[type(e).__name__] += 1
        finally:
            self.abort(s)

    async def fresh(self, kind, ports):
        pending = set()
        seq = 0
        next_at = time.monotonic()
        while self.running:
            port = ports[seq % len(ports)] if ports else 0
            t = asyncio.create_task(self.one_fresh(kind, port, seq))
            pending.add(t)
            t.add_done_callback(pending.discard)
            seq += 1
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        for t in list(pending):
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def command(self, line):
        words = line.split()
        if not words:
            return True
        if words[0] == "start" and len(words) == 3 and not self.running:
            port = int(words[1])
            ports = [] if words[2] == "any" else [int(p) for p in words[2].split(",")]
            self.kinds = {"persist": Kind(), "fresh": Kind()}
            self.running = True
            self.tasks = [asyncio.create_task(self.persist(self.kinds["persist"], port)),
                          asyncio.create_task(self.fresh(self.kinds["fresh"], ports))]
            self.out({"started": {"persist_port": port, "fresh_ports": len(ports)}})
        elif words[0] == "status":
            now = time.monotonic()
            self.out({"status": dict(now=now, **{k: v.figures(now)
                                                 for k, v in self.kinds.items()})})
        elif words[0] == "stop":
            self.running = False
            await asyncio.gather(*self.tasks, return_exceptions=True)
            self.tasks = []
            self.out({"report": {k: {"answers": v.answers, "failures": dict(v.failures)}
                                 for k, v in self.kinds.items()}})
        elif words[0] == "quit":
            return False
        else:
            self.out({"error": f"bad command: {line.strip()}"})
        return True

    async def run(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode()
            if not line or not await self.command(line):
                break
        self.running = False
        await asyncio.gather(*self.tasks, return_exceptions=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--to", required=True)
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=3.0)
    asyncio.run(Probe(ap.parse_args(argv)).run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
