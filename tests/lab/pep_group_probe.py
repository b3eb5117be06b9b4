#!/usr/bin/python3
"""New connections, one after another, to an HTTP server (lab.pep_group): each attempt opens a new
TCP connection, GETs PATH, and checks the body's sha256. One JSON line per attempt on stdout:
{"start": t, "end": t, "ok": bool, "error": "..."} with CLOCK_MONOTONIC times (one clock for every
namespace of the machine, so the test compares them with the moment it killed a member).

Usage: pep_group_probe.py HOST PORT PATH SHA256 [--gap-ms 20] [--timeout-s 2]
Runs until killed or stdin closes.
"""

import argparse
import hashlib
import json
import select
import socket
import sys
import time


def attempt(host, port, path, timeout):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200") and not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"status {head[:40]!r}")
    return hashlib.sha256(body).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("sha256")
    ap.add_argument("--gap-ms", type=float, default=20)
    ap.add_argument("--timeout-s", type=float, default=2)
    a = ap.parse_args()
    while True:
        start = time.monotonic()
        line = {"start": start}
        try:
            got = attempt(a.host, a.port, a.path, a.timeout_s)
            line["ok"] = got == a.sha256
            if not line["ok"]:
                line["error"] = "sha256 differs"
        except Exception as e:  # noqa: BLE001 (each failure is reported, the loop goes on)
            line["ok"] = False
            line["error"] = f"{type(e).__name__}: {e}"
        line["end"] = time.monotonic()
        print(json.dumps(line), flush=True)
        r, _, _ = select.select([sys.stdin], [], [], a.gap_ms / 1000)
        if r and not sys.stdin.buffer.read1(1):
            return


if __name__ == "__main__":
    main()
