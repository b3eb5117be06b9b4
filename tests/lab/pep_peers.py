#!/usr/bin/python3
"""The two ends of document 003's termination cases (Figures 28-33), as plain sockets.

    pep_peers.py serve ADDR PORT LOG        the server end: each connection's first line says what
                                            to do; outcomes are appended to LOG as "ID OUTCOME"
    pep_peers.py client ADDR PORT CASE ID   the client end of CASE; prints one JSON object
    pep_peers.py fetch URL N SHA256         N concurrent GETs of URL; prints {"ok": K, "bad": [...]}
    pep_peers.py capture IFACE PORT         counts TCP segments with PORT on IFACE (AF_PACKET):
                                            prints "ready" once capturing, and on EOF of stdin
                                            {"segments": N, "syns": N}

Cases (client end / server end):
  fin_client  sends 100 KB and FIN / echoes until EOF, then closes      (FIN from the client first)
  fin_server  reads to EOF / sends 200 KB and FIN, then reads to EOF    (FIN from the server first)
  rst_server  reads until reset / sends 50 KB, then RST                 (RST from the server)
  rst_client  RST after "ready" / reads until EOF or reset              (RST from the client)
  simul       FIN right after "go" / FIN right after sending "go"       (simultaneous close)
  silent      sends 200 KB after "ready", waits for the reset / holds   (the server stops answering:
              the test drops its input; the PEP's user timeout ends it)
"""

import json
import os
import socket
import struct
import sys
import threading
import time


def log(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def read_line(s):
    data = b""
    while not data.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        data += b
    return data.decode().strip()


def drain(s):
    """Reads to EOF; returns (bytes, 'eof' | 'reset' | error name)."""
    n = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return n, "eof"
            n += len(b)
    except ConnectionResetError:
        return n, "reset"
    except OSError as e:
        return n, type(e).__name__


def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def serve_one(c, path):
    try:
        cmd = read_line(c).split()
        if not cmd:
            return
        what, ident = cmd[0], cmd[1]
        if what == "echo":
            n = 0
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
                n += len(b)
            c.close()
            log(path, f"{ident} echo_eof {n}")
        elif what == "send":
            c.sendall(b"s" * int(cmd[2]))
            c.shutdown(socket.SHUT_WR)
            n, how = drain(c)
            c.close()
            log(path, f"{ident} send_then_{how}")
        elif what == "rst":
            c.sendall(b"r" * int(cmd[2]))
            time.sleep(0.2)  # let the data leave before the reset overtakes it
            rst(c)
            log(path, f"{ident} rst_sent")
        elif what == "wait":
            c.sendall(b"ready\n")
            n, how = drain(c)
            log(path, f"{ident} wait_{how}")
            c.close()
        elif what == "simul":
            c.sendall(b"go\n")
            c.shutdown(socket.SHUT_WR)
            n, how = drain(c)
            log(path, f"{ident} simul_{how}")
            c.close()
        elif what == "hold":
            c.sendall(b"ready\n")
            n, how = drain(c)
            log(path, f"{ident} hold_{how}")
            c.close()
    except OSError as e:
        log(path, f"? error {type(e).__name__}")


def serve(addr, port, path):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(256)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_one, args=(c, path), daemon=True).start()


def client(addr, port, case, ident):
    s = socket.create_connection((addr, port), timeout=60)
    out = {"case": case, "id": ident}
    if case == "fin_client":
        s.sendall(f"echo {ident}\n".encode())
        payload = os.urandom(100 * 1024)

        def send():
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        n, how = drain(s)
        t.join()
        out.update(received=n, end=how, ok=(n == len(payload) and how == "eof"))
    elif case == "fin_server":
        s.sendall(f"send {ident} 200000\n".encode())
        n, how = drain(s)
        s.close()
        out.update(received=n, end=how, ok=(n == 200000 and how == "eof"))
    elif case == "rst_server":
        s.sendall(f"rst {ident} 50000\n".encode())
        n, how = drain(s)
        out.update(received=n, end=how, ok=(how == "reset"))
    elif case == "rst_client":
        s.sendall(f"wait {ident}\n".encode())
        ok = read_line(s) == "ready"
        rst(s)
        out.update(ok=ok)
    elif case == "simul":
        s.sendall(f"simul {ident}\n".encode())
        ok = read_line(s) == "go"
        s.shutdown(socket.SHUT_WR)
        n, how = drain(s)
        out.update(end=how, ok=ok and how == "eof")
    elif case == "silent":
        s.sendall(f"hold {ident}\n".encode())
        ok = read_line(s) == "ready"
        print(json.dumps({"ready": True}), flush=True)
        # The test now drops the server's input; wait for its go on stdin.
        sys.stdin.readline()
        start = time.monotonic()
        try:
            s.sendall(b"x" * 200000)
        except OSError:
            pass
        n, how = drain(s)
        out.update(end=how, seconds=round(time.monotonic() - start, 2), ok=ok and how == "reset")
    print(json.dumps(out), flush=True)


def fetch(url, n, want):
    import hashlib
    import urllib.request
    results = [None] * n

    def one(i):
        try:
            with urllib.request.urlopen(url, timeout=600) as r:
                results[i] = hashlib.sha256(r.read()).hexdigest()
        except Exception as e:  # reported, not raised: every connection is accounted for
            results[i] = f"error {type(e).__name__}: {e}"
    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [r for r in results if r != want]
    print(json.dumps({"ok": n - len(bad), "bad": bad[:5], "seconds": round(time.monotonic() - start, 1)}),
          flush=True)


def capture(iface, port):
    import select
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    print("ready", flush=True)
    segments = syns = 0
    while True:
        r, _, _ = select.select([s, sys.stdin], [], [])
        if sys.stdin in r and not sys.stdin.readline():
            break
        if s in r:
            frame = s.recv(65535)
            if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
                continue
            ihl = (frame[14] & 0x0F) * 4
            tcp = frame[14 + ihl:]
            if len(tcp) < 14:
                continue
            sport, dport = struct.unpack("!HH", tcp[:4])
            if port in (sport, dport):
                segments += 1
                if tcp[13] & 0x02:
                    syns += 1
    print(json.dumps({"segments": segments, "syns": syns}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "fetch":
        fetch(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        sys.exit(0)
    if len(sys.argv) >= 4 and sys.argv[1] == "capture":
        capture(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    if len(sys.argv) >= 5 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) >= 6 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)
