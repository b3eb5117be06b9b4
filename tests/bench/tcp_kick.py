#!/usr/bin/python3
"""Experiment for issue 14's "retransmission kick": what makes an unmodified Linux TCP end resend
at once after its segments vanished in a black hole (a cluster member killed mid-stream), measured
on real peers. It prints figures; it never passes or fails on them (not part of ctest).

  tests/bench/tcp_kick.py [--rounds 5] [--holes 80,500] [--kicks none,oow,ld]   (root)

Two namespaces joined by a veth: a TCP echo server in B (port 9) and, in A, the ping-pong stream of
tests/bench/failover_probe.py's "persist" kind (64 bytes, wait for the echo, 10 ms pause; Nagle
off). Each round drops every segment of the connection in both directions on B's side (nft, as a
dead member would) for HOLE ms, then lifts the drop and sends the kick, and reports the stream's
longest gap (between two answers) around the hole. Kicks:
  none  nothing: the ends recover on their own timers (tail loss probe or RTO, >= 200 ms, doubled
        after each loss).
  oow   one out-of-window ACK to each end (sequence number 2^31 away from the last one seen, no
        options), from the other end's address: RFC 793 / 5961 make the receiver answer with an
        ACK, which reaches the other end as a duplicate ACK. This is the kick a cluster member
        could build from the replicated flow state alone.
  ld    an ICMP host unreachable to each end quoting its own last segment with sequence number =
        its oldest unacknowledged byte (the ack number the other end last sent, read here by a
        sniffer; a cluster member would read it from the ACK that an `oow` kick draws from the
        other end). RFC 6069 (TCP-LD, Linux tcp_ld_RTO_revert): on such a message while the
        retransmission timer is backed off, the end undoes one backoff and resends at once if the
        undone timer has already expired, else when it does (last retransmission + one base RTO).
        It does nothing before the first RTO (a tail loss probe is not one).
The injections come from long-lived raw-socket writers in each namespace, so the kick leaves a
few ms after the drop is lifted; the drop itself takes the nft command's time (which is why the
measured hole is longer than HOLE).
"""

import argparse
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

PORT = 9
A_ADDR, B_ADDR = "10.99.0.1", "10.99.0.2"

SERVER = r'''
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("%s", %d)); s.listen(1)
c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    d = c.recv(64)
    if not d: break
    c.sendall(d)
''' % (B_ADDR, PORT)

CLIENT = r'''
import socket, sys, time
c = socket.create_connection(("%s", %d)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(c.getsockname()[1], flush=True)
while True:
    c.sendall(b"x" * 64); got = 0
    while got < 64:
        d = c.recv(64 - got)
        if not d: sys.exit(0)
        got += len(d)
    print("%%.6f" %% time.monotonic(), flush=True); time.sleep(0.01)
''' % (B_ADDR, PORT)

# Every TCP segment on A's veth, both ways (ETH_P_ALL: outgoing frames too): [time, source, seq, ack].
SNIFFER = r'''
import json, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind((sys.argv[1], 0))
print("[]", flush=True)
while True:
    f = s.recv(2048)
    d = f[14:]
    if f[12:14] != b"\x08\x00" or len(d) < 40 or d[9] != 6: continue
    h = (d[0] & 15) * 4
    _, _, seq, ack = struct.unpack("!HHII", d[h:h + 12])
    print(json.dumps([time.monotonic(), socket.inet_ntoa(d[12:16]), seq, ack]), flush=True)
'''

# Sends each hex line of stdin as an IPv4 datagram (header included) to its destination.
INJECTOR = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
print("ready", flush=True)
for line in sys.stdin:
    p = bytes.fromhex(line.strip()); s.sendto(p, (socket.inet_ntoa(p[16:20]), 0))
'''


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return (~s) & 0xffff


def ipv4(src, dst, proto, payload, ident=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", checksum(h)) + h[12:] + payload


def tcp_ack(src, dst, sport, dport, seq, ack):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10, 512, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(h))
    h = h[:16] + struct.pack("!H", checksum(pseudo + h)) + h[18:]
    return ipv4(src, dst, 6, h, random.randint(0, 65535))


def host_unreachable(src, dst, q_src, q_dst, sport, dport, seq):
    quoted = ipv4(q_src, q_dst, 6, struct.pack("!HHI", sport, dport, seq) + bytes(12))[:28]
    icmp = struct.pack("!BBHI", 3, 1, 0, 0) + quoted
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    return ipv4(src, dst, 1, icmp, random.randint(0, 65535))


class Pair:
    def __init__(self):
        self.a, self.b = f"bk-a{os.getpid()}", f"bk-b{os.getpid()}"
        self.procs = []

    def sh(self, cmd, check=True):
        return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True)

    def ns(self, name, *argv, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", name, *argv], text=True, **kw)
        self.procs.append(p)
        return p

    def __enter__(self):
        a, b = self.a, self.b
        self.sh(f"ip netns add {a}; ip netns add {b}")
        self.sh(f"ip link add ka0 netns {a} type veth peer name kb0 netns {b}")
        for n, dev, addr in ((a, "ka0", A_ADDR), (b, "kb0", B_ADDR)):
            self.sh(f"ip -n {n} addr add {addr}/24 dev {dev}; ip -n {n} link set {dev} up; "
                    f"ip -n {n} link set lo up")
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()
        self.sh(f"ip netns del {self.a}", False)
        self.sh(f"ip netns del {self.b}", False)

    def black_hole(self, on):
        if on:
            rules = ("table inet kick {\n chain i { type filter hook input priority 0; "
                     f"tcp dport {PORT} drop; }}\n chain o {{ type filter hook output priority 0; "
                     f"tcp sport {PORT} drop; }}\n}}\n")
            subprocess.run(["ip", "netns", "exec", self.b, "nft", "-f", "-"], input=rules,
                           text=True, check=True)
        else:
            self.sh(f"ip netns exec {self.b} nft delete table inet kick")


def one_round(hole_ms, kick):
    with Pair() as p:
        p.ns(p.b, "python3", "-c", SERVER, stderr=subprocess.DEVNULL)  # reset at the end
        sniffer = p.ns(p.a, "python3", "-c", SNIFFER, "ka0", stdout=subprocess.PIPE)
        inject = {n: p.ns(n, "python3", "-c", INJECTOR, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                  for n in (p.a, p.b)}
        sniffer.stdout.readline()  # bound: it sees every segment from here on
        for i in inject.values():
            i.stdout.readline()
        time.sleep(0.2)  # the server listens (it started first)
        client = p.ns(p.a, "python3", "-c", CLIENT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        cport = int(client.stdout.readline())
        answers, seen = [], []  # seen: filled by the sniffer's reader
        threading.Thread(target=lambda: [answers.append(float(x)) for x in client.stdout],
                         daemon=True).start()
        threading.Thread(target=lambda: [seen.append(json.loads(x)) for x in sniffer.stdout],
                         daemon=True).start()
        time.sleep(0.5 + random.random() * 0.05)
        t0 = time.monotonic()
        p.black_hole(True)
        dropping = time.monotonic()
        time.sleep(hole_ms / 1000)
        p.black_hole(False)
        t1 = time.monotonic()
        sent = []
        if kick == "oow":
            last_a = [s for s in seen if s[1] == A_ADDR][-1]
            last_b = [s for s in seen if s[1] == B_ADDR][-1]
            # To B, as if from A: far from anything B may accept; the same the other way.
            sent.append((p.a, tcp_ack(A_ADDR, B_ADDR, cport, PORT, (last_a[2] + 2**31) % 2**32, last_a[3])))
            sent.append((p.b, tcp_ack(B_ADDR, A_ADDR, PORT, cport, (last_b[2] + 2**31) % 2**32, last_b[3])))
        elif kick == "ld":
            # A's oldest unacknowledged byte: B's last ack that reached A (B's segments are dropped
            # before they leave B). B's: the last acks A sent before the drop began (candidates:
            # a wrong one is ignored).
            a_una = [s[3] for s in seen if s[1] == B_ADDR][-1:]
            b_una = sorted({s[3] for s in seen if s[1] == A_ADDR and s[0] < dropping})[-3:]
            for seq in a_una:
                sent.append((p.b, host_unreachable(B_ADDR, A_ADDR, A_ADDR, B_ADDR, cport, PORT, seq)))
            for seq in b_una:
                sent.append((p.a, host_unreachable(A_ADDR, B_ADDR, B_ADDR, A_ADDR, PORT, cport, seq)))
        for n, packet in sent:
            inject[n].stdin.write(packet.hex() + "\n")
            inject[n].stdin.flush()
        time.sleep(1.5)
        w = [t for t in answers if t > t0 - 0.05]
        gap = max(b - a for a, b in zip(w, w[1:])) if len(w) > 1 else None
        return gap, t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--holes", default="80,500", help="black-hole lengths in ms")
    ap.add_argument("--kicks", default="none,oow,ld")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)")
        return 77
    print(f"kernel {os.uname().release}; tcp_early_retrans "
          f"{open('/proc/sys/net/ipv4/tcp_early_retrans').read().strip()}, tcp_sack "
          f"{open('/proc/sys/net/ipv4/tcp_sack').read().strip()}", flush=True)
    for hole in (int(h) for h in args.holes.split(",")):
        for kick in args.kicks.split(","):
            gaps, holes = [], []
            for _ in range(args.rounds):
                g, h = one_round(hole, kick)
                if g is not None:
                    gaps.append(g * 1000)
                holes.append(h * 1000)
            print(f"hole {hole:4d} ms (measured {statistics.median(holes):.0f}), kick {kick:4s}: "
                  f"longest gap median {statistics.median(gaps):.0f} ms, max {max(gaps):.0f} ms "
                  f"({len(gaps)} rounds)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
