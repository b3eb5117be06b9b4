#!/usr/bin/python3
"""Many long-lived TCP connections kept busy, for the cluster lab tests; and the echo service they
talk to.

  cluster_client.py serve [--bind 0.0.0.0] [--port 9000]
      A TCP echo server: every byte read is written back.

  cluster_client.py run --to HOST:PORT [--bind ADDR] [--first-port N] [--stride 1] [--count 300]
                        [--interval 0.2]
      Opens COUNT connections to HOST:PORT, connection i from local port FIRST_PORT + i * STRIDE
      (FIRST_PORT 0: ports from the kernel's ephemeral range), so a test can compute each
      connection's work unit. Each
      connection, in a loop: sends a 64-byte numbered message, reads its echo, waits INTERVAL (with
      jitter). Tracked per connection: reset (ECONNRESET/EPIPE), EOF, mismatch, other errors, and the
      longest time between two echoes (the stall; a connection still waiting counts up to now).
      A failed connection is not reopened: a reset stays counted.

      Output, one JSON object per line on stdout:
        {"ready": ...}   once every connection is established and has echoed once (or failed);
        {"mark": NAME, ...}  for each stdin line "mark NAME": the figures since the previous mark;
        {"final": ...}   on stdin "stop", stdin EOF or SIGTERM, then it exits.
      Figures: connections, alive, echoes, resets, eof, mismatches, other_errors, errors (the sum),
      longest_stall_ms, stalled (the worst few: port, stall_ms), stall_ms_percentiles (p50, p90,
      p99 of the connections' longest stalls), failed (port, kind, at_ms since start).
Exit status 0, or 2 on bad arguments.
"""

import argparse
import asyncio
import json
import random
import signal
import socket
import sys
import time

MESSAGE = 64  # bytes per message: small, as a chatty application's


def now():
    return time.monotonic()


async def serve(bind, port):
    async def echo(reader, writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, bind, port, backlog=1024, reuse_address=True)
    print(f"echo server on {bind}:{port}", flush=True)
    async with server:
        await server.serve_forever()


class Conn:
    def __init__(self, index, port):
        self.index = index
        self.port = port          # local port (known once connected)
        self.alive = False
        self.echoes = 0
        self.last = None          # time of the last echo (or of the connect)
        self.longest = 0.0        # longest stall over the whole run
        self.window_longest = 0.0  # longest stall since the last mark
        self.failure = None       # (kind, at)


class Client:
    def __init__(self, args):
        self.args = args
        self.start = now()
        self.conns = [Conn(i, args.first_port + i * args.stride if args.first_port else 0)
                      for i in range(args.count)]
        self.stopping = asyncio.Event()
        self.window = {"echoes": 0, "failed": []}
        self.total_echoes = 0

    def fail(self, c, kind):
        if c.failure is None:
            c.failure = (kind, now())
            c.alive = False
            self.window["failed"].append(c)

    def echoed(self, c):
        t = now()
        gap = t - c.last
        c.longest = max(c.longest, gap)
        c.window_longest = max(c.window_longest, gap)
        c.last = t
        c.echoes += 1
        self.total_echoes += 1
        self.window["echoes"] += 1

    async def connect(self, c):
        host, port = self.args.to.rsplit(":", 1)
        local = (self.args.bind, c.port) if (self.args.bind or c.port) else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), local_addr=local), timeout=20)
        except Exception as e:  # refused, timed out, address in use: this connection never ran
            self.fail(c, f"connect: {type(e).__name__}: {e}")
            return None
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.port = sock.getsockname()[1]
        c.alive = True
        c.last = now()
        return reader, writer

    async def exchange(self, c, reader, writer, seq):
        msg = f"{c.port}:{seq}:".encode().ljust(MESSAGE, b".")
        writer.write(msg)
        await writer.drain()
        got = await reader.readexactly(MESSAGE)
        if got != msg:
            self.fail(c, "mismatch")
            return False
        self.echoed(c)
        return True

    async def keep_busy(self, c, reader, writer, first_echo):
        seq = 0
        try:
            ok = await self.exchange(c, reader, writer, seq)
            first_echo.set_result(ok)
            while ok and not self.stopping.is_set():
                try:
                    await asyncio.wait_for(self.stopping.wait(),
                                           self.args.interval * random.uniform(0.5, 1.5))
                    break
                except asyncio.TimeoutError:
                    pass
                seq += 1
                ok = await self.exchange(c, reader, writer, seq)
        except asyncio.CancelledError:
            raise
        except (ConnectionResetError, BrokenPipeError):
            self.fail(c, "reset")
        except asyncio.IncompleteReadError:
            self.fail(c, "eof")
        except Exception as e:
            self.fail(c, f"{type(e).__name__}: {e}")
        finally:
            if not first_echo.done():
                first_echo.set_result(False)

    def figures(self, window):
        t = now()
        conns = [c for c in self.conns if c.last is not None]
        failed = self.window["failed"] if window else [c for c in self.conns if c.failure]
        kinds = [c.failure[0] for c in failed]
        stall = {}
        for c in conns:
            s = c.window_longest if window else c.longest
            if c.alive:  # still waiting counts up to now
                s = max(s, t - c.last)
            stall[c.port] = s
        worst = sorted(stall.items(), key=lambda kv: -kv[1])[:10]
        ranked = sorted(stall.values())

        def pct(q):  # nearest rank over the connections' longest stalls
            return round(ranked[min(len(ranked) - 1, int(q * len(ranked)))] * 1000) if ranked else 0
        out = {
            "connections": len(conns),
            "alive": sum(c.alive for c in self.conns),
            "echoes": self.window["echoes"] if window else self.total_echoes,
            "resets": kinds.count("reset"),
            "eof": kinds.count("eof"),
            "mismatches": kinds.count("mismatch"),
            "other_errors": sum(1 for k in kinds if k not in ("reset", "eof", "mismatch")),
            "errors": len(kinds),
            "longest_stall_ms": round(max(stall.values(), default=0.0) * 1000),
            "stalled": [{"port": p, "stall_ms": round(s * 1000)} for p, s in worst],
            "stall_ms_percentiles": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99)},
            "failed": [{"port": c.port, "kind": c.failure[0],
                        "at_ms": round((c.failure[1] - self.start) * 1000)} for c in failed][:50],
            "at_ms": round((t - self.start) * 1000),
        }
        if window:
            for c in self.conns:
                c.window_longest = 0.0
            self.window = {"echoes": 0, "failed": []}
        return out

    async def commands(self):
        """stdin lines: "mark NAME" or "stop"; EOF stops."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while not self.stopping.is_set():
            line = (await reader.readline()).decode().strip()
            if not line or line == "stop":
                self.stopping.set()
            elif line.startswith("mark"):
                name = line[4:].strip()
                print(json.dumps(dict(mark=name, **self.figures(window=True))), flush=True)

    async def run(self):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        tasks, firsts = [], []
        # Connect in batches: a SYN burst of hundreds would only measure the listen backlog.
        for batch in range(0, len(self.conns), 50):
            opened = await asyncio.gather(*(self.connect(c)
                                            for c in self.conns[batch:batch + 50]))
            for c, rw in zip(self.conns[batch:batch + 50], opened):
                if rw is None:
                    continue
                f = loop.create_future()
                firsts.append(f)
                tasks.append(asyncio.create_task(self.keep_busy(c, *rw, f)))
        echoed = await asyncio.gather(*firsts)
        print(json.dumps({"ready": {"connections": len(firsts), "echoing": sum(echoed),
                                    "ports": [c.port for c in self.conns if c.last is not None],
                                    "connect_failures": [c.failure[0] for c in self.conns
                                                         if c.last is None]}}), flush=True)
        self.figures(window=True)  # marks count from ready
        cmd = asyncio.create_task(self.commands())
        await self.stopping.wait()
        # A connection waiting for an echo that never comes must not hold the report back.
        _, pending = await asyncio.wait(tasks, timeout=3) if tasks else (None, [])
        for t in pending:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        cmd.cancel()
        final = self.figures(window=False)
        print(json.dumps({"final": final}), flush=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=9000)
    r = sub.add_parser("run")
    r.add_argument("--to", required=True)
    r.add_argument("--bind", default="")
    r.add_argument("--first-port", type=int, default=0)
    r.add_argument("--stride", type=int, default=1)
    r.add_argument("--count", type=int, default=300)
    r.add_argument("--interval", type=float, default=0.2)
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        asyncio.run(serve(args.bind, args.port))
    else:
        asyncio.run(Client(args).run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
