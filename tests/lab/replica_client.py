#!/usr/bin/python3
"""The lab client of document 002's test: opens N connections to URL's host one after the other
(HTTP GET, reads to the end) while watching its own interface with an AF_PACKET socket, and
prints JSON: how many fetches succeeded, and what arrived from the server side — SYN-ACKs per
connection (a second one would be a second answer) and RSTs. A connection is its client port and
the acknowledgement number its SYN-ACKs carry (the client's initial sequence number + 1): sequential
connections may reuse a client port, and every answer to one SYN acknowledges the same number.

    replica_client.py IFACE HOST PORT PATH N [TIMEOUT_S]
"""

import json
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def watch(iface, stop, seen):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.1)
    while not stop.is_set():
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == PACKET_OUTGOING or len(frame) < 14 + 20 + 20:
            continue
        if struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 6:
            continue
        tcp = ip[ihl:]
        dport = struct.unpack("!H", tcp[2:4])[0]
        flags = tcp[13]
        if flags & 0x04:
            seen["rst"] += 1
        if flags & 0x12 == 0x12:
            connection = (dport, struct.unpack("!I", tcp[8:12])[0])
            seen["syn_ack"][connection] = seen["syn_ack"].get(connection, 0) + 1


def fetch(host, port, path, timeout):
    with socket.create_connection((host, port), timeout=timeout) as c:
        c.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.startswith(b"HTTP/1.0 200")


def main():
    iface, host, port, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 10.0
    seen = {"rst": 0, "syn_ack": {}}
    stop = threading.Event()
    t = threading.Thread(target=watch, args=(iface, stop, seen))
    t.start()
    time.sleep(0.2)
    ok = failed = 0
    started = time.monotonic()
    for _ in range(n):
        try:
            ok += 1 if fetch(host, port, path, timeout) else 0
        except OSError:
            failed += 1
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # late answers would arrive by now (the farthest replica is 260 ms away)
    stop.set()
    t.join()
    print(json.dumps({"ok": ok, "failed": failed, "elapsed_s": elapsed, "rst": seen["rst"],
                      "syn_acks": sum(seen["syn_ack"].values()),
                      "connections_with_two_syn_acks":
                          sum(1 for v in seen["syn_ack"].values() if v > 1)}))


if __name__ == "__main__":
    main()
