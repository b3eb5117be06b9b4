#!/usr/bin/python3
"""Sends one TCP SYN with chosen option bytes through a raw socket (the kernel routes it).

    replica_inject.py SRC DST DPORT tag GATEWAY     a SYN carrying document 002's tag naming GATEWAY
    replica_inject.py SRC DST DPORT garbage         a SYN whose option area does not walk
Prints nothing; exit 0 when sent.
"""

import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, options):
    options += b"\x01" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 12345, 0, offset << 4, 0x02, 65535, 0, 0) + options
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def main():
    src, dst, dport, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if kind == "tag":
        options = b"\x02\x04\x05\xb4" + bytes([253, 10, 0xBA, 0x70, 1, 0]) + socket.inet_aton(sys.argv[5])
    else:
        options = b"\x02\x04\x05\xb4" + bytes([253, 1, 0, 0])  # length 1: the walk stops here
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(syn(src, dst, 40999, dport, options), (dst, 0))


if __name__ == "__main__":
    main()
