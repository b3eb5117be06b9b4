"""Sends malformed IPv4 frames at a baton node (run inside the sender's namespace, with scapy).

usage: send_malformed.py IFACE DST_MAC SRC_IP DST_IP COUNT_PER_KIND
Kinds: truncated (an IPv4 header cut short), bad_ihl (IHL 3), bad_checksum (a wrong header
checksum), bad_data_offset (TCP data offset 15 words with a 20-byte TCP header). Prints one JSON
object: how many frames of each kind were sent.
"""

import json
import sys

from scapy.all import IP, TCP, Ether, Raw, conf, sendp  # noqa: E402

conf.verb = 0


def frames(dst_mac, src, dst, n):
    eth = Ether(dst=dst_mac, type=0x0800)
    good = IP(src=src, dst=dst) / TCP(sport=40000, dport=8080, flags="A") / Raw(b"x" * 40)
    raw = bytes(good)
    out = {"truncated": [], "bad_ihl": [], "bad_checksum": [], "bad_data_offset": []}
    for i in range(n):
        out["truncated"].append(eth / Raw(raw[:12]))
        out["bad_ihl"].append(eth / Raw(bytes([0x43]) + raw[1:]))
        bad = bytearray(raw)
        bad[10] ^= 0xFF  # header checksum
        out["bad_checksum"].append(eth / Raw(bytes(bad)))
        offset = IP(src=src, dst=dst) / TCP(sport=40000 + i, dport=8080, dataofs=15, flags="A")
        out["bad_data_offset"].append(eth / Raw(bytes(offset)))
    return out


def main():
    iface, dst_mac, src, dst, n = sys.argv[1:6]
    sent = {}
    for kind, batch in frames(dst_mac, src, dst, int(n)).items():
        sendp(batch, iface=iface)
        sent[kind] = len(batch)
    print(json.dumps(sent))


if __name__ == "__main__":
    main()
