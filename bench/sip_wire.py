"""Setup times read off the wire: INVITE sent → 200 OK received, per call, in microseconds.

sipp's own response times tick in whole milliseconds of its event loop (8, 12, 16 ms…), too
coarse to compare two paths that differ by about a millisecond; tcpdump's timestamps are the
kernel's. Only loopback is captured, filtered to the caller's port.
"""

from __future__ import annotations

import contextlib
import re
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

_PCAP_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")
_LINKTYPE_ETHERNET = 1


@contextlib.contextmanager
def capture(path: Path, port: int) -> Iterator[None]:
    """tcpdump on loopback for UDP to or from `port`, written to `path` until the block ends."""
    process = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-n", "-U", "-B", "32768", "-s", "0", "-w", str(path), f"udp port {port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # tcpdump writes its file header before the filter is attached
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        dropped = re.search(rb"(\d+) packets? dropped by kernel", err)
        if dropped and int(dropped.group(1)):
            print(f"warning: tcpdump dropped {int(dropped.group(1))} packets; setup times may miss calls")


def udp_payloads(path: Path) -> Iterator[tuple[float, bytes]]:
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = _PCAP_HEADER.unpack_from(data, 0)
    if magic != 0xA1B2C3D4 or linktype != _LINKTYPE_ETHERNET:
        raise ValueError(f"{path}: not a little-endian microsecond pcap of an Ethernet link")
    offset = _PCAP_HEADER.size
    while offset + _RECORD_HEADER.size <= len(data):
        seconds, micros, captured, _ = _RECORD_HEADER.unpack_from(data, offset)
        offset += _RECORD_HEADER.size
        frame = data[offset:offset + captured]
        offset += captured
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
            continue
        ip_header = (frame[14] & 0x0F) * 4
        if frame[14 + 9] != 17:  # not UDP
            continue
        yield seconds + micros / 1e6, frame[14 + ip_header + 8:]


def setup_times_ms(path: Path) -> list[float]:
    """Per call: first INVITE to the first 200 OK answering it, in milliseconds."""
    invites: dict[bytes, float] = {}
    answers: dict[bytes, float] = {}
    for when, payload in udp_payloads(path):
        head, _, _ = payload.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        call_id = _header(lines, b"call-id", b"i")
        cseq = _header(lines, b"cseq")
        if call_id is None or cseq is None or not cseq.endswith(b"INVITE"):
            continue
        if lines[0].startswith(b"INVITE "):
            invites.setdefault(call_id, when)
        elif lines[0].startswith(b"SIP/2.0 200"):
            answers.setdefault(call_id, when)
    return [(answers[c] - invites[c]) * 1e3 for c in invites if c in answers]


def _header(lines: list[bytes], *names: bytes) -> bytes | None:
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in names:
            return value.strip()
    return None
