"""Sends malformed IPv4 frames at a baton node (run inside the sender's namespace, with scapy).

usage: send_malformed.py IFACE DST_MAC SRC_IP DST_IP COUNT_PER_KIND [KINDS [DPORT]]
Kinds: truncated (an IPv4 header cut short), bad_ihl (IHL 3), bad_checksum (a wrong header
checksum), bad_data_offset (TCP data offset 15 words with a 20-byte TCP header) are sent when KINDS
is not given; KINDS (comma-separated) may also name bad_total_length (total length 100 bytes past
the frame, header checksum right), bad_tcp_checksum (a TCP SYN, source port 42000 + i, whose TCP
checksum is wrong) and bad_udp_checksum (a UDP datagram whose checksum is wrong, not zero).
DPORT (default 8080) is the TCP/UDP destination port. Prints one JSON object: how many frames of
each kind were sent.

With --on-go (first argument), it builds the frames, prints "ready" and sends only when a line
arrives on stdin: a caller racing a transfer does not wait for scapy's import (seconds on a loaded
machine) between deciding to send and the frames leaving.
"""

import json
import sys

from scapy.all import IP, TCP, UDP, Ether, Raw, conf, get_if_hwaddr, sendp  # noqa: E402

conf.verb = 0


DEFAULT_KINDS = ("truncated", "bad_ihl", "bad_checksum", "bad_data_offset")


def wrong_l4_checksum(packet):
    """`packet` (IP / TCP or UDP) as bytes with its transport checksum off by one bit."""
    raw = bytearray(bytes(packet))
    ihl = (raw[0] & 0x0F) * 4
    at = ihl + (16 if raw[9] == 6 else 6)
    raw[at + 1] ^= 0x01
    if raw[9] == 17 and raw[at] == 0 and raw[at + 1] == 0:
        raw[at + 1] = 0x02  # zero means "no checksum" for UDP: keep it wrong instead
    return bytes(raw)


def frames(src_mac, dst_mac, src, dst, n, dport=8080):
    # The source MAC is set: scapy leaves it zero for a raw payload, and a bridge drops frames
    # from an invalid source address before forwarding them.
    eth = Ether(src=src_mac, dst=dst_mac, type=0x0800)
    good = IP(src=src, dst=dst) / TCP(sport=40000, dport=dport, flags="A") / Raw(b"x" * 40)
    raw = bytes(good)
    out = {"truncated": [], "bad_ihl": [], "bad_checksum": [], "bad_data_offset": [],
           "bad_total_length": [], "bad_tcp_checksum": [], "bad_udp_checksum": []}
    for i in range(n):
        longer = IP(raw)
        longer.len = len(raw) + 100
        del longer.chksum  # recomputed: only the length is wrong
        out["bad_total_length"].append(eth / Raw(bytes(longer)))
        syn = IP(src=src, dst=dst) / TCP(sport=42000 + i, dport=dport, flags="S", seq=1000 + i)
        out["bad_tcp_checksum"].append(eth / Raw(wrong_l4_checksum(syn)))
        udp = IP(src=src, dst=dst) / UDP(sport=43000 + i, dport=dport) / Raw(b"y" * 32)
        out["bad_udp_checksum"].append(eth / Raw(wrong_l4_checksum(udp)))
        out["truncated"].append(eth / Raw(raw[:12]))
        out["bad_ihl"].append(eth / Raw(bytes([0x43]) + raw[1:]))
        bad = bytearray(raw)
        bad[10] ^= 0xFF  # header checksum
        out["bad_checksum"].append(eth / Raw(bytes(bad)))
        offset = IP(src=src, dst=dst) / TCP(sport=40000 + i, dport=dport, dataofs=15, flags="A")
        out["bad_data_offset"].append(eth / Raw(bytes(offset)))
    return out


def main():
    args = sys.argv[1:]
    on_go = bool(args) and args[0] == "--on-go"
    if on_go:
        args = args[1:]
    iface, dst_mac, src, dst, n = args[0:5]
    kinds = args[5].split(",") if len(args) > 5 else DEFAULT_KINDS
    dport = int(args[6]) if len(args) > 6 else 8080
    sent = {}
    made = frames(get_if_hwaddr(iface), dst_mac, src, dst, int(n), dport)
    if on_go:
        print("ready", flush=True)
        sys.stdin.readline()
    for kind in kinds:
        batch = made[kind]
        sendp(batch, iface=iface)
        sent[kind] = len(batch)
    print(json.dumps(sent))


if __name__ == "__main__":
    main()
