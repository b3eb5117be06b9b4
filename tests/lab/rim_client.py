#!/usr/bin/python3
"""An HTTP/1.1 client that watches the stream: fetches http://HOST:PORT/NAME, prints one JSON line
with the body's sha256, its length, the status, whether the connection was reset, and the longest
gaps between two arrivals (each with the time since the start), so a lab can see what a hand-off
looks like from the receiver. Reads at most RATE bytes/s when --rate is given (a slow reader keeps
a download going long enough to hand it off several times).

    rim_client.py HOST PORT NAME [--rate BYTES_PER_S] [--progress FILE] [--bind ADDRESS]
--progress: the byte count is written there about every 100 ms (for a test to wait on).
--arrivals: every arrival's time (time.monotonic(), one per line) is written there at the end.
--timeline: "seconds_since_start bytes_received" about every 100 ms, written there at the end
(goodput over any stretch of the download).
"""

import argparse
import hashlib
import json
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("name")
ap.add_argument("--rate", type=float, default=0)
ap.add_argument("--progress")
ap.add_argument("--arrivals")
ap.add_argument("--timeline")
ap.add_argument("--bind", help="the client's source address")
a = ap.parse_args()

start = time.monotonic()
s = socket.create_connection((a.host, a.port), timeout=30, source_address=(a.bind, 0) if a.bind else None)
s.sendall(f"GET /{a.name} HTTP/1.1\r\nHost: {a.host}\r\nConnection: close\r\n\r\n".encode())
head = b""
body_start = b""
h = hashlib.sha256()
received = 0
gaps = []
arrivals = []
reset = False
error = ""
last = time.monotonic()
last_progress = 0.0
timeline = []
status = 0
length = -1
try:
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        if not chunk:
            break
        head += chunk
    head, _, body_start = head.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    h.update(body_start)
    received = len(body_start)
    last = time.monotonic()
    while True:
        chunk = s.recv(65536)
        now = time.monotonic()
        if not chunk:
            break
        gaps.append((now - last, last - start))
        arrivals.append(now)
        last = now
        h.update(chunk)
        received += len(chunk)
        if now - last_progress > 0.1:
            if a.progress:
                with open(a.progress, "w") as f:
                    f.write(str(received))
            timeline.append((now - start, received))
            last_progress = now
        if a.rate:
            # Stay behind the rate: sleep until the bytes so far are due.
            due = start + received / a.rate
            if due > now:
                time.sleep(due - now)
                last = time.monotonic()
except ConnectionResetError as e:
    reset = True
    error = str(e)
except OSError as e:
    error = str(e)
timeline.append((time.monotonic() - start, received))
if a.timeline:
    with open(a.timeline, "w") as f:
        f.write("\n".join(f"{t:.3f} {n}" for t, n in timeline))
if a.arrivals:
    with open(a.arrivals, "w") as f:
        f.write("\n".join(f"{t:.6f}" for t in arrivals))
gaps.sort(reverse=True)
print(json.dumps({"status": status, "length": length, "received": received, "sha256": h.hexdigest(),
                  "reset": reset, "error": error, "seconds": time.monotonic() - start, "started": start,
                  "longest_gaps_ms": [[round(g * 1000, 1), round(t, 2)] for g, t in gaps[:5]]}), flush=True)
