#!/usr/bin/env python3
"""UDP echo for the cluster's UDP service checks (real peers: the kernel's UDP, no baton code).

  udp_echo.py serve --port P            echo every datagram to its sender; one log line each
                                        ("<sender ip>:<port> <bytes>") on stdout
  udp_echo.py probe --to HOST:PORT      send until one datagram comes back (exit 0), or fail
                                        after --timeout seconds (exit 1)
  udp_echo.py flow --to HOST:PORT --sport S --interval 0.01 --duration D [--size 64]
                                        one flow from source port S: a datagram every interval
                                        (8-byte sequence number, then random bytes to --size; a
                                        size above the MTU leaves in IP fragments), each reply
                                        compared with what was sent; prints a JSON summary:
                                        sent, received, mismatched, the longest gap between two
                                        replies and when it began (CLOCK_MONOTONIC, shared with
                                        the lab), and each reply's arrival time
"""

import argparse
import json
import os
import select
import socket
import struct
import sys
import time


def endpoint(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def serve(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", args.port))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)
        print(f"{peer[0]}:{peer[1]} {len(data)}", flush=True)


def probe(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        s.sendto(b"probe", endpoint(args.to))
        if select.select([s], [], [], 0.1)[0]:
            if s.recv(65535) == b"probe":
                return 0
    print(f"no echo from {args.to} in {args.timeout} s", file=sys.stderr)
    return 1


def flow(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", args.sport))
    s.connect(endpoint(args.to))
    sent = {}
    replies = []
    mismatched = 0
    start = time.monotonic()
    next_send = start
    end = start + args.duration
    seq = 0
    while True:
        now = time.monotonic()
        if now >= next_send and now < end:
            payload = struct.pack("!Q", seq) + os.urandom(args.size - 8)
            sent[seq] = payload
            s.send(payload)
            seq += 1
            next_send += args.interval
        # After the last send, wait one more second for late replies.
        if now >= end + 1.0:
            break
        wait = max(0.0, min(next_send, end + 1.0) - time.monotonic())
        if select.select([s], [], [], wait)[0]:
            try:
                data = s.recv(65535)
            except ConnectionRefusedError:  # an ICMP port unreachable came back
                continue
            t = time.monotonic()
            n = struct.unpack("!Q", data[:8])[0] if len(data) >= 8 else None
            if n is None or sent.get(n) != data:
                mismatched += 1
                continue
            replies.append((n, t))
    times = [start] + [t for _, t in replies]
    gaps = [(b - a, a) for a, b in zip(times, times[1:])]
    longest, since = max(gaps) if gaps else (args.duration, start)
    print(json.dumps({"sent": seq, "received": len(replies), "distinct": len({n for n, _ in replies}),
                      "mismatched": mismatched, "longest_gap_ms": round(longest * 1000, 1),
                      "gap_began": since, "start": start, "reply_times": [t for _, t in replies]}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("serve")
    a.add_argument("--port", type=int, required=True)
    a = sub.add_parser("probe")
    a.add_argument("--to", required=True)
    a.add_argument("--timeout", type=float, default=10)
    a = sub.add_parser("flow")
    a.add_argument("--to", required=True)
    a.add_argument("--sport", type=int, required=True)
    a.add_argument("--interval", type=float, default=0.01)
    a.add_argument("--duration", type=float, required=True)
    a.add_argument("--size", type=int, default=64, help="bytes per datagram (at least 8)")
    args = p.parse_args()
    return {"serve": serve, "probe": probe, "flow": flow}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
