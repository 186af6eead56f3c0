"""Send PnP traffic from one address, for integration/test_pnp_wire.py (run under
`ip netns exec` in the client namespace). Prints one JSON report.

    pnp_sender.py garbage SOURCE GROUP COUNT SEED      COUNT malformed or unwelcome datagrams
    pnp_sender.py subscribes SOURCE GROUP COUNT SEED   COUNT distinct valid SUBSCRIBEs at once,
                                                       then count the 200 OKs for a second

Garbage is reproducible from SEED: random bytes, mutated and truncated SUBSCRIBEs, and one
kind per rule of the parser (bad UTF-8, a duplicate From, a CSeq of another method, ...), plus
valid SIP the responder must not answer (other methods, responses, another event, a Contact
naming another host). Sent in small batches so that the responder's socket buffer, not its
speed, is never what decides: the test counts every datagram.
"""

from __future__ import annotations

import json
import random
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable

from kea_fanvil.pnp.client import subscribe_request

BATCH = 100
PAUSE = 0.005  # seconds between batches

Make = Callable[[random.Random, bytes], bytes]


def _edit(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.randbytes(rng.randint(0, 6)) + data[at + rng.randint(0, 8) :]
    return data


def _swap(old: bytes, new: bytes) -> Make:
    return lambda rng, good: good.replace(old, new, 1)


KINDS: dict[str, Make] = {
    "random": lambda rng, good: rng.randbytes(rng.randint(0, 1400)),
    "mutated": _edit,
    "truncated": lambda rng, good: good[: rng.randrange(len(good))],
    "oversized": lambda rng, good: good.replace(
        b"Accept:", b"X-Pad: " + b"a" * 9000 + b"\r\nAccept:"
    ),
    "empty": lambda rng, good: b"",
    "keepalive": lambda rng, good: b"\r\n\r\n",
    "nul-bytes": lambda rng, good: bytes(rng.randint(1, 64)),
    "bad-utf8": _swap(b"Fanvil C62", b"Fanvil \xc3\x28"),
    "control-char": _swap(b"User-Agent: ", b"User-Agent: \x1b[31m"),
    "no-call-id": _swap(b"Call-ID:", b"X-Call-ID:"),
    "dup-from": _swap(b"To:", b"From: <sip:x@y>\r\nTo:"),
    "cseq-method": _swap(b"1 SUBSCRIBE", b"1 INVITE"),
    "cseq-huge": _swap(b"CSeq: 1 ", b"CSeq: 99999999999 "),
    "long-content": _swap(b"Content-Length: 0", b"Content-Length: 500"),
    "bad-version": _swap(b" SIP/2.0\r\n", b" SIP/1.0\r\n"),
    "bad-mac": _swap(b"sip:MAC=", b"sip:MAC=zz"),
    "bad-event": _swap(b"Event: ua-profile", b'Event: ;"'),
    "tcp-via": _swap(b"SIP/2.0/UDP", b"SIP/2.0/TCP"),
    "no-contact": _swap(b"Contact:", b"X-Contact:"),
    "other-method": _swap(b"SUBSCRIBE", b"OPTIONS"),
    "response": lambda rng, good: b"SIP/2.0 200 OK" + good[good.index(b"\r\n") :],
    "other-event": _swap(b"ua-profile", b"presence"),
    "contact-elsewhere": lambda rng, good: re.sub(
        rb"(Contact: <sip:[^@>]*@)[0-9.]+", rb"\g<1>192.0.2.1", good
    ),
    "sip-noise": lambda rng, good: b"".join(
        rng.choice([b"SIP/2.0", b"\r\n", b": ", b";", b"<sip:", b">", b'"', b"@", b"%3A", b","])
        for _ in range(rng.randint(1, 40))
    ),
}


def _socket(source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
    return sock


def garbage(source: str, group: str, count: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    sent: Counter[str] = Counter()
    with _socket(source) as sock:
        address = sock.getsockname()
        names = sorted(KINDS)
        for i in range(count):
            kind = names[i % len(names)] if i < len(names) else rng.choice(names)
            good = subscribe_request(
                address, f"0c:38:3e:{rng.randrange(256):02x}:00:01", "Fanvil", "C62", "2.4.1"
            )
            sock.sendto(KINDS[kind](rng, good), (group, 5060))
            sent[kind] += 1
            if i % BATCH == BATCH - 1:
                time.sleep(PAUSE)
    return {"sent": dict(sorted(sent.items())), "total": sum(sent.values())}


def subscribes(source: str, group: str, count: int, seed: int) -> dict[str, object]:
    with _socket(source) as sock:
        address = sock.getsockname()
        for i in range(count):
            mac = f"0c:38:3e:{seed % 256:02x}:{i // 256:02x}:{i % 256:02x}"
            sock.sendto(subscribe_request(address, mac, "Fanvil", "C62", "2.4.1"), (group, 5060))
        answers: Counter[str] = Counter()
        sock.settimeout(1.0)
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            answers[data.split(b"\r\n", 1)[0].decode(errors="replace")] += 1
    return {"total": count, "answers": dict(answers)}


if __name__ == "__main__":
    mode, source, group, count, seed = sys.argv[1:6]
    run = {"garbage": garbage, "subscribes": subscribes}[mode]
    print(json.dumps(run(source, group, int(count), int(seed))))
