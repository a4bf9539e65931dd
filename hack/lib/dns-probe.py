#!/usr/bin/env python3
"""Asks SERVER (UDP port 53) for the A record of NAME; exits 0 and prints the
addresses when the answer is NOERROR with at least one A record.

Usage: dns-probe.py SERVER NAME [PORT]. Standard library only (no dig here).
"""
import random
import socket
import struct
import sys


def query(server, name, port=53, timeout=1.0):
    qid = random.randint(0, 0xFFFF)
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = header + qname + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (server, port))
        data, _ = s.recvfrom(4096)
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    if rid != qid:
        raise RuntimeError("mismatched id")
    rcode = flags & 0xF
    off = 12
    for _ in range(qd):
        while data[off] != 0:
            off += 1 + data[off]
        off += 5
    addrs = []
    for _ in range(an):
        if data[off] & 0xC0 == 0xC0:
            off += 2
        else:
            while data[off] != 0:
                off += 1 + data[off]
            off += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(data[off:off + 4]))
        off += rdlen
    return rcode, addrs


def main():
    server, name = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 53
    rcode, addrs = query(server, name, port)
    if rcode != 0 or not addrs:
        print(f"rcode {rcode}, {len(addrs)} addresses", file=sys.stderr)
        return 1
    print(" ".join(addrs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
