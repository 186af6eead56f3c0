"""A phone's downloads, run in the lab's client namespace: `python files_client.py JSON`.

JSON is {"call": "http" | "tftp" | "probe_fetch", ...}; the answer, on stdout, is one JSON
object. Deliberately small and independent of the servers under test: an HTTP GET with basic
authentication (RFC 7617) through urllib, and a TFTP read request (RFC 1350, octet mode, no
options) written out here so nothing but the standard library sits between the phone's view and
the server. `probe_fetch` runs `kea_fanvil.probe.fetch.fetch`, the downloader of `kea-fanvil probe`.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import sys
import urllib.error
import urllib.request
from typing import Any

TFTP_BLOCK = 512
RRQ, DATA, ACK, ERROR = 1, 3, 4, 5


def http_get(url: str, user: str | None, password: str | None) -> dict[str, Any]:
    request = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as answer:
            return {"status": answer.status, "data": answer.read().hex()}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "data": ""}


def tftp_get(server: str, name: str, timeout: float = 2.0, tries: int = 4) -> dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        last: tuple[bytes, tuple[str, int]] = (
            struct.pack("!H", RRQ) + name.encode() + b"\0octet\0",
            (server, 69),
        )
        sock.sendto(*last)
        data, expected, peer = b"", 1, None
        while True:
            for _ in range(tries):
                try:
                    packet, sender = sock.recvfrom(4 + TFTP_BLOCK + 64)
                except TimeoutError:
                    sock.sendto(*last)  # lost either way: say it again
                    continue
                if peer is None or sender == peer:
                    break
            else:
                return {"error": f"no answer after {tries} tries", "data": data.hex()}
            opcode = struct.unpack("!H", packet[:2])[0]
            if opcode == ERROR:
                code = struct.unpack("!H", packet[2:4])[0]
                message = packet[4:].rstrip(b"\0").decode(errors="replace")
                return {"error": f"TFTP error {code}: {message}", "data": ""}
            if opcode != DATA:
                continue
            peer = sender  # the server answers from a port of its own (RFC 1350 section 4)
            block = struct.unpack("!H", packet[2:4])[0]
            if block == expected % 65536:
                data += packet[4:]
                expected += 1
            last = (struct.pack("!HH", ACK, block), peer)
            sock.sendto(*last)
            if block == (expected - 1) % 65536 and len(packet) - 4 < TFTP_BLOCK:
                return {"data": data.hex()}


def probe_fetch(url: str) -> dict[str, Any]:
    from kea_fanvil.probe.fetch import fetch

    result = fetch(url)
    return {"ok": result.ok, "status": result.status, "version": result.version,
            "data": result.data.hex(), "error": result.error}  # fmt: skip


def main() -> None:
    args = json.loads(sys.argv[1])
    call = args.pop("call")
    answer = {"http": http_get, "tftp": tftp_get, "probe_fetch": probe_fetch}[call](**args)
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
