"""tcpdump on the loopback interface during a job, and a minimal pcap reader (no third-party packages).

Needs root (raw sockets) and the tcpdump binary (scripts/deps.sh, group worker): `skip_reason()` says why not.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple


def skip_reason() -> Optional[str]:
    if shutil.which("tcpdump") is None:
        return "tcpdump not found (scripts/deps.sh worker installs it; Debian: apt-get install -y tcpdump)"
    if os.geteuid() != 0:
        return "packet capture needs root (tcpdump opens a raw socket on lo); run the integration tests as root"
    return None


class Capture:
    """tcpdump -i lo -U -w FILE 'tcp and (port A or port B ...)' for the duration of a with-block."""

    def __init__(self, path: str, ports: Iterable[int]):
        self.path = path
        self.ports = sorted(set(ports))
        self.proc: Optional[subprocess.Popen] = None
        self.log = path + ".log"

    def __enter__(self) -> "Capture":
        flt = "tcp and (" + " or ".join(f"port {p}" for p in self.ports) + ")"
        self.proc = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", self.path, flt],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        end = time.monotonic() + 15
        while time.monotonic() < end:  # tcpdump says "listening on lo" once the capture runs
            if b"listening on" in open(self.log, "rb").read():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"tcpdump exited: {open(self.log, 'rb').read()!r}")
            time.sleep(0.05)
        raise RuntimeError(f"tcpdump did not start: {open(self.log, 'rb').read()!r}")

    def __exit__(self, *exc) -> None:
        assert self.proc is not None
        time.sleep(0.5)  # the last segments
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def packets(self) -> "Packets":
        return read_pcap(self.path)


@dataclass
class Packets:
    raw: bytes
    # (client-side ip, port, server-side ip, port) by direction: (src, sport, dst, dport) -> payload chunks in order
    flows: Dict[Tuple[str, int, str, int], List[bytes]] = field(default_factory=dict)

    def payload_bytes(self) -> int:
        return sum(len(c) for chunks in self.flows.values() for c in chunks)

    def flows_to(self, port: int) -> Dict[Tuple[str, int, str, int], List[bytes]]:
        """Client -> server flows of connections to ``port`` (only flows that carry payload)."""
        return {k: v for k, v in self.flows.items() if k[3] == port and v}

    def flows_from(self, port: int) -> Dict[Tuple[str, int, str, int], List[bytes]]:
        return {k: v for k, v in self.flows.items() if k[1] == port and v}


def read_pcap(path: str) -> Packets:
    """Classic pcap (tcpdump -w), link type Ethernet (Linux lo) or raw/cooked; IPv4 and IPv6, TCP payloads."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file (magic {magic!r})")
    linktype = struct.unpack(endian + "I", raw[20:24])[0]
    link_len = {1: 14, 113: 16, 101: 0, 12: 0}.get(linktype)
    if link_len is None:
        raise ValueError(f"{path}: unsupported link type {linktype}")
    out = Packets(raw)
    off = 24
    while off + 16 <= len(raw):
        incl = struct.unpack(endian + "I", raw[off + 8:off + 12])[0]
        pkt = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[link_len:]
        if not ip:
            continue
        version = ip[0] >> 4
        if version == 4:
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            if ip[9] != 6:
                continue
            src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
            tcp = ip[ihl:total]
        elif version == 6:
            plen = struct.unpack("!H", ip[4:6])[0]
            if ip[6] != 6:
                continue
            import ipaddress

            src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
            tcp = ip[40:40 + plen]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport = struct.unpack("!HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        payload = tcp[doff:]
        chunks = out.flows.setdefault((src, sport, dst, dport), [])
        if payload:
            chunks.append(payload)
    return out


def is_tls_record(data: bytes, content_type: Optional[int] = None) -> bool:
    """A TLS record header: type 20-23 (change_cipher_spec, alert, handshake, application_data), version 3.x."""
    return len(data) >= 5 and data[0] in (20, 21, 22, 23) and data[1] == 3 and data[2] <= 4 and \
        (content_type is None or data[0] == content_type)
