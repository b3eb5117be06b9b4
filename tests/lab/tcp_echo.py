#!/usr/bin/python3
"""A TCP echo for interactive round trips (the PEP priority lab and benchmark).

    tcp_echo.py serve ADDRESS PORT
        echoes every byte back on each connection (TCP_NODELAY), one thread per connection
    tcp_echo.py probe ADDRESS PORT [--count N] [--interval S] [--size B]
        one connection; every INTERVAL s (on a fixed schedule; at once when the previous came back
        late) sends SIZE bytes and waits for them to come back; prints JSON {"rtt_ms": [...], "sent_s": [...], "p50_ms", "p99_ms", "max_ms"}
        (sent_s: each probe's send time on CLOCK_MONOTONIC, the same in every namespace)
"""

import argparse
import json
import socket
import sys
import threading
import time


def serve(address, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((address, port))
    ls.listen(64)

    def echo(s):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with s:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                s.sendall(data)

    while True:
        s, _ = ls.accept()
        threading.Thread(target=echo, args=(s,), daemon=True).start()


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))]


def probe(address, port, count, interval, size):
    s = socket.create_connection((address, port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = bytearray(size)
    rtts, sent = [], []
    due = time.monotonic()
    for i in range(count):
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        payload[0:4] = i.to_bytes(4, "big")
        t0 = time.monotonic()
        sent.append(t0)
        s.sendall(payload)
        got = 0
        while got < size:
            chunk = s.recv(size - got)
            if not chunk:
                sys.exit("the echo closed the connection")
            got += len(chunk)
        rtts.append((time.monotonic() - t0) * 1000)
        due += interval
    s.close()
    print(json.dumps(summary(rtts, sent)))


def summary(rtts, sent):
    ordered = sorted(rtts)
    return {"rtt_ms": [round(x, 3) for x in rtts], "sent_s": [round(x, 4) for x in sent], "p50_ms": round(percentile(ordered, 50), 3),
                      "p99_ms": round(percentile(ordered, 99), 3), "max_ms": round(ordered[-1], 3)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["serve", "probe"])
    ap.add_argument("address")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--size", type=int, default=100)
    a = ap.parse_args()
    if a.mode == "serve":
        serve(a.address, a.port)
    else:
        probe(a.address, a.port, a.count, a.interval, a.size)
