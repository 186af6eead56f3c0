"""Malformed and random DHCPv4 packets for kea-dhcp4 with our hook, and a raw-socket sender.

`test_hostile_packets.py` runs this file in the lab's client namespace (the pytest process
never changes namespace):

    PYTHONPATH=. ip netns exec NS python integration/hostile_packets.py '{"iface": "kfcli0"}'

It prints one JSON object: packets sent per kind, replies seen per message type, seconds.

Every packet kind is a generator of UDP payloads driven by its own `random.Random`, seeded from
the run's seed and the kind's name, so a run is reproducible and adding a kind does not change
the others. Two rules hold for every packet, whatever the kind:

- Addresses stay in 198.18.0.0/15: Kea answers to giaddr (relayed) or ciaddr, so `confine`
  forces those header fields (and yiaddr/siaddr, for tidiness) into that range or to 0.
- Only DHCPREQUESTs make Kea 2.2 store a lease (an OFFER is not kept), so every REQUEST comes
  from one of the few `LEASE_MACS`, with no client identifier: the lab's 100-address pool
  cannot run out and the phones played after the flood still get an address.
"""

from __future__ import annotations

import errno
import json
import random
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address
from typing import Any

from kea_fanvil.errors import DhcpPacketError
from kea_fanvil.probe.dhcp_client import ETH_P_IP, build_frame, parse_frame
from kea_fanvil.wire.dhcp import DhcpMessage

COOKIE = bytes((99, 130, 83, 99))
HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")  # RFC 2131 section 2, 236 octets
MAX_PAYLOAD = 1472  # a 1500-byte MTU less the IPv4 and UDP headers
DISCOVER, REQUEST, DECLINE, INFORM, RELEASE = 1, 3, 4, 8, 7
PAD, END = 0, 255
ZERO4 = bytes(4)

FANVIL_OUIS = (bytes.fromhex("0c383e"), bytes.fromhex("02fa00"))  # phones.POLICY's match.ouis
OTHER_OUI = bytes.fromhex("001565")
DEVICE_MAC = bytes.fromhex("0c383e113af8")  # the inventory device of phones.POLICY
LEASE_MACS = tuple(
    oui + bytes((0xEE, 0xEE, i)) for oui in (*FANVIL_OUIS, OTHER_OUI) for i in range(11)
)
FALLBACK_SRC_MAC = bytes.fromhex("0c383eeffffe")  # Ethernet source when chaddr is unusable
CLIENT_IP = bytes((198, 18, 0, 2))  # the lab's client address, source of "relayed" packets

# What a phone might put in option 60, and what an attacker would rather put there.
VENDOR_SEEDS = (
    b"Fanvil",
    b"Fanvi",
    b"FANVIL",
    b"fAnViL",
    b"Fanvil X4 2.10.2.6887",
    b"Fanvil\x00",
    b"\x00Fanvil",
    b" Fanvil",
    b"Fanvil\n",
    b"Fanvil \xff\xfe\xc0\xaf\xed\xa0\x80",  # not UTF-8: BOM bytes, overlong '/', surrogate
    "Fanvil 電話 📞".encode(),
    b"Fanvil %s%s%n {0} $mac ${x} \\x00",
    b"Fanvil " + bytes(range(1, 249)),
    b"Fanvil" * 42,
    b"yealink",
    b"",
)


# --- building blocks ----------------------------------------------------------------------------


def opt(code: int, data: bytes) -> bytes:
    """One option as code, length, data; callers keep `data` within 255 octets."""
    return bytes((code, len(data))) + data


def bootp(
    rng: random.Random,
    chaddr: bytes,
    *,
    op: int = 1,
    htype: int = 1,
    hlen: int | None = None,
    hops: int = 0,
    flags: int = 0x8000,
    ciaddr: bytes = ZERO4,
    giaddr: bytes = ZERO4,
    sname: bytes = b"",
    file: bytes = b"",
) -> bytes:
    """The fixed 236-octet header; `hlen` may lie about `chaddr` on purpose."""
    length = min(len(chaddr), 16) if hlen is None else hlen
    xid = rng.getrandbits(32)
    return HEADER.pack(
        op, htype, length, hops, xid, 0, flags, ciaddr, ZERO4, ZERO4, giaddr, chaddr, sname, file
    )


def dhcp(
    rng: random.Random, chaddr: bytes, options: bytes, *, end: bool = True, **header: Any
) -> bytes:
    """Header, cookie, `options`, END and padding to 300 octets (RFC 1542) unless `end` is off."""
    body = bootp(rng, chaddr, **header) + COOKIE + options
    if not end:
        return body
    body += bytes((END,))
    return body + bytes(max(0, 300 - len(body)))


def client_mac(rng: random.Random) -> bytes:
    """A MAC that is a phone by its OUI most of the time; never one the phone cases use."""
    roll = rng.random()
    if roll < 0.05:
        return DEVICE_MAC
    oui = rng.choice(FANVIL_OUIS) if roll < 0.75 else OTHER_OUI
    return oui + bytes((0xE0 | rng.randrange(16), rng.randrange(256), rng.randrange(256)))


def chaddr_for(rng: random.Random, message_type: int) -> bytes:
    """REQUESTs come from LEASE_MACS only (see the module docstring), others from anyone."""
    return rng.choice(LEASE_MACS) if message_type == REQUEST else client_mac(rng)


def message_type(rng: random.Random, request_share: float = 0.2) -> int:
    return REQUEST if rng.random() < request_share else DISCOVER


def random_bytes(rng: random.Random, length: int) -> bytes:
    return rng.randbytes(length)


def hostile_vendor_class(rng: random.Random) -> bytes:
    """An option 60 value: a known-awkward one, cut or extended with garbage, or pure noise."""
    roll = rng.random()
    if roll < 0.25:
        return random_bytes(rng, rng.randrange(256))
    seed = rng.choice(VENDOR_SEEDS)
    if roll < 0.5:
        return seed[:255]
    tail = random_bytes(rng, rng.randrange(256))
    return (seed + tail)[: rng.randrange(len(seed), 256)] if len(seed) < 256 else seed[:255]


def hostile_prl(rng: random.Random) -> bytes:
    """An option 55 value of an odd length: noise, floods of one code, or every code."""
    length = rng.choice((0, 1, 2, 3, 5, 7, 127, 128, 253, 254, 255, rng.randrange(256)))
    roll = rng.random()
    if roll < 0.4:
        return random_bytes(rng, length)
    if roll < 0.6:
        return bytes((rng.choice((0, 43, 66, 67, 160, 255)),)) * length
    if roll < 0.8:
        return bytes(rng.sample(range(256), min(length, 256)))
    return bytes((43, 66, 67, 160, 1, 3, 6) * 40)[:length]


def phone_options(rng: random.Random, kind: int) -> bytes:
    """Option 53, then a hostile 60 and 55 or none of them, in a random order."""
    parts = []
    if rng.random() < 0.85:
        parts.append(opt(60, hostile_vendor_class(rng)))
    if rng.random() < 0.85:
        parts.append(opt(55, hostile_prl(rng)))
    rng.shuffle(parts)
    return opt(53, bytes((kind,))) + b"".join(parts)


def in_lab_range(rng: random.Random) -> bytes:
    """Any address of 198.18.0.0/15."""
    return bytes((198, 18 | rng.randrange(2), rng.randrange(256), rng.randrange(256)))


def confine(payload: bytes) -> bytes:
    """Force ciaddr, yiaddr, siaddr and giaddr into 198.18.0.0/15 or 0 (Kea replies to them)."""
    if len(payload) < 12:
        return payload
    out = bytearray(payload)
    for start in (12, 16, 20, 24):
        field = out[start : start + 4]
        if len(field) < 2 or not any(field):
            continue
        out[start] = 198
        out[start + 1] = 18 | (out[start + 1] & 1)
    return bytes(out)


# --- the packet kinds ---------------------------------------------------------------------------


def truncated(rng: random.Random) -> Iterator[bytes]:
    """A sound start, then an option whose length octet runs past the end of the packet."""
    for _ in range(1500):
        kind = message_type(rng)
        head = dhcp(rng, chaddr_for(rng, kind), phone_options(rng, kind), end=False)
        code = rng.choice((60, 55, 53, 61, 82, 52, 12, 43, 81, rng.randrange(1, 255)))
        claimed = rng.randrange(1, 256)
        if rng.random() < 0.1:
            yield head + bytes((code,))  # not even a length octet
        else:
            yield head + bytes((code, claimed)) + random_bytes(rng, rng.randrange(claimed))


def overlong(rng: random.Random) -> Iterator[bytes]:
    """Options longer than their definition, RFC 3396 splits, and packets at the MTU."""
    fixed = {53: 1, 50: 4, 54: 4, 51: 4, 57: 2, 61: 7, 12: 32}  # 61 only off REQUESTs
    for i in range(1500):
        kind = message_type(rng)
        mac = chaddr_for(rng, kind)
        if i % 3 == 0:  # option 60 over 255 octets, split over several instances
            value = b"Fanvil " + random_bytes(rng, rng.randrange(300, 700))
            parts = b"".join(opt(60, value[s : s + 255]) for s in range(0, len(value), 255))
            yield dhcp(rng, mac, opt(53, bytes((kind,))) + parts)
        elif i % 3 == 1:  # a fixed-size option with the wrong size
            code, size = rng.choice(
                [item for item in fixed.items() if kind != REQUEST or item[0] != 61]
            )
            length = rng.choice((0, size - 1, size + 1, 255, rng.randrange(256)))
            data = bytes((kind,)) * length if code == 53 else random_bytes(rng, length)
            yield dhcp(rng, mac, opt(53, bytes((kind,))) + opt(code, data))
        else:  # as many 255-octet options as fit in one frame
            body = opt(53, bytes((kind,))) + opt(60, b"Fanvil" + random_bytes(rng, 249))
            while len(body) + 241 + 257 <= MAX_PAYLOAD:
                code = rng.choice((43, 55, 60, 77, 124, 125, 224, 254))
                body += opt(code, random_bytes(rng, 255))
            yield dhcp(rng, mac, body)


def option_60(rng: random.Random) -> Iterator[bytes]:
    """Option 60 of every length 0..255 and every octet value 0x00..0xff."""
    for length in range(256):
        for value in (
            random_bytes(rng, length),
            (rng.choice(VENDOR_SEEDS[:4]) + random_bytes(rng, 255))[:length],
            bytes((rng.randrange(256),)) * length,
        ):
            yield option_60_packet(rng, value)
    for octet in range(256):
        for length in (1, 6, 7, 64, 255, rng.randrange(256)):
            yield option_60_packet(rng, bytes((octet,)) * length)
        yield option_60_packet(rng, (b"Fanvil" + bytes((octet,)) * 255)[: rng.randrange(6, 256)])
        yield option_60_packet(rng, (b"Fanvil\x00" + bytes((octet,)) * 255)[:255])


def option_60_packet(rng: random.Random, value: bytes) -> bytes:
    kind = message_type(rng, 0.15)
    options = opt(53, bytes((kind,))) + opt(60, value)
    if rng.random() < 0.5:
        options += opt(55, bytes((1, 3, 6, 43, 66, 67, 160)))
    return dhcp(rng, chaddr_for(rng, kind), options)


def htype_hlen(rng: random.Random) -> Iterator[bytes]:
    """Hardware type and length that do not describe an Ethernet MAC, chaddr from a phone."""
    for _ in range(1000):
        htype = rng.choice((0, 6, 255, 1, rng.randrange(256)))
        hlen = rng.choice((0, 16, 17, 255, 1, 5, 7, 15, rng.randrange(256)))
        chaddr = rng.choice(FANVIL_OUIS) + random_bytes(rng, 13)
        kind = rng.choice((DISCOVER, DISCOVER, INFORM, DECLINE, RELEASE))
        yield dhcp(rng, chaddr, phone_options(rng, kind), htype=htype, hlen=hlen)


def garbage_chaddr(rng: random.Random) -> Iterator[bytes]:
    """chaddr all zeros, all ones, multicast, a phone's OUI with noise behind, or noise."""
    shapes: list[Callable[[], bytes]] = [
        lambda: bytes(16),
        lambda: b"\xff" * 16,
        lambda: bytes((0x01,)) + random_bytes(rng, 15),
        lambda: rng.choice(FANVIL_OUIS) + random_bytes(rng, 13),
        lambda: bytes.fromhex("0c383e") + bytes(13),
        lambda: bytes.fromhex("0c38") + random_bytes(rng, 14),
        lambda: random_bytes(rng, 16),
    ]
    for _ in range(1000):
        chaddr = rng.choice(shapes)()
        kind = rng.choice((DISCOVER, DISCOVER, DISCOVER, INFORM))
        yield dhcp(rng, chaddr, phone_options(rng, kind), hlen=rng.choice((6, 6, 6, 16)))


def overload(rng: random.Random) -> Iterator[bytes]:
    """Option 52 (RFC 2132 9.3) valid or not, with options or garbage in sname and file."""
    for _ in range(1500):
        kind = message_type(rng)
        value = rng.choice((b"\x01", b"\x02", b"\x03", b"\x00", b"\x04", b"\xff", b"", b"\x03\x03"))
        sname, file = overload_field(rng, kind, 64), overload_field(rng, kind, 128)
        options = opt(53, bytes((kind,))) + opt(52, value)
        if rng.random() < 0.2:
            options += opt(52, rng.choice((b"\x01", b"\x02", b"\x03")))  # a second 52
        yield dhcp(rng, chaddr_for(rng, kind), options, sname=sname, file=file)


def overload_field(rng: random.Random, kind: int, size: int) -> bytes:
    """What an overloaded sname/file might hold: options (maybe cut short), noise or a name."""
    roll = rng.random()
    if roll < 0.5:
        inner = opt(60, hostile_vendor_class(rng)[: size - 8]) + opt(55, hostile_prl(rng)[:4])
        if rng.random() < 0.3:
            inner = opt(53, bytes((kind,))) + inner  # 53 again, same type: no new REQUESTs
        if rng.random() < 0.2:
            inner = opt(52, b"\x03") + inner  # overload inside the overload
        inner = inner[:size]
        return inner + (bytes((END,)) if rng.random() < 0.5 and len(inner) < size else b"")
    if roll < 0.8:
        return random_bytes(rng, size)
    return b"boot/" + random_bytes(rng, rng.randrange(size - 5))


def bad_cookie(rng: random.Random) -> Iterator[bytes]:
    """Wrong, near-miss, cut or missing magic cookie, in front of sound options."""
    for _ in range(800):
        mac = client_mac(rng)
        head = bootp(rng, mac)
        options = phone_options(rng, DISCOVER) + bytes((END,))
        roll = rng.random()
        if roll < 0.3:
            cookie = bytearray(COOKIE)
            cookie[rng.randrange(4)] ^= 1 << rng.randrange(8)
            yield head + bytes(cookie) + options
        elif roll < 0.5:
            yield head + random_bytes(rng, 4) + options
        elif roll < 0.7:
            yield head + COOKIE[: rng.randrange(4)]  # BOOTP, or a cookie cut short
        elif roll < 0.85:
            yield head + bytes(4) + options
        else:
            yield head + COOKIE[::-1] + options


def short(rng: random.Random) -> Iterator[bytes]:
    """Shorter than the BOOTP header: every prefix of a sound DISCOVER, and noise."""
    sound = dhcp(rng, client_mac(rng), phone_options(rng, DISCOVER))
    yield from (sound[:length] for length in range(240))
    for _ in range(560):
        yield bytes((1,)) + random_bytes(rng, rng.randrange(236))


def noise(rng: random.Random) -> Iterator[bytes]:
    """Random octets of any length up to a full frame; a third start like a BOOTREQUEST."""
    for i in range(1500):
        data = random_bytes(rng, rng.randrange(MAX_PAYLOAD + 1))
        if i % 3 == 0 and len(data) > 3:
            data = bytes((1, 1, 6, 0)) + data[4:]
        yield data


def option_soup(rng: random.Random) -> Iterator[bytes]:
    """A sound header and cookie, then a DISCOVER's option 53 and random octets."""
    for _ in range(1500):
        soup = random_bytes(rng, rng.randrange(MAX_PAYLOAD - 243))
        yield dhcp(rng, client_mac(rng), opt(53, bytes((DISCOVER,))) + soup, end=False)


def missing_end(rng: random.Random) -> Iterator[bytes]:
    """Sound options with no END option: the packet stops after the last one, or noise follows."""
    for _ in range(800):
        kind = message_type(rng)
        body = dhcp(rng, chaddr_for(rng, kind), phone_options(rng, kind), end=False)
        if rng.random() < 0.3:
            body += random_bytes(rng, rng.randrange(1, 64))
        yield body


def pad_flood(rng: random.Random) -> Iterator[bytes]:
    """Hundreds of PAD octets before, between and after the options, or nothing but PADs."""
    for _ in range(800):
        kind = message_type(rng)
        mac = chaddr_for(rng, kind)
        pads = bytes(rng.randrange(1, 1100))
        roll = rng.random()
        if roll < 0.2:
            yield dhcp(rng, mac, pads, end=rng.random() < 0.5)
            continue
        before, between = pads[: len(pads) // 2], pads[len(pads) // 2 :]
        options = before + opt(53, bytes((kind,))) + between + opt(60, hostile_vendor_class(rng))
        if roll < 0.6:
            yield dhcp(rng, mac, options)
        else:
            yield (dhcp(rng, mac, options) + bytes(200))[:MAX_PAYLOAD]


def duplicates(rng: random.Random) -> Iterator[bytes]:
    """The same option more than once: 53, 60 (split or contradicting), 55, 61, 54, 50, 52."""
    pairs = (
        (b"Fan", b"vil X4"),
        (b"Fanvil X", b"Fanvil Y"),
        (b"yealink", b"Fanvil"),
        (b"Fanvil", b"yealink"),
        (b"", b"Fanvil"),
        (b"Fanvil", b"\xff" * 255),
    )
    for i in range(1500):
        first_type = rng.choice((DISCOVER, REQUEST, 8, 255, 0))
        second_type = rng.choice((DISCOVER, REQUEST, DISCOVER))
        either_request = REQUEST in (first_type, second_type)
        mac = chaddr_for(rng, REQUEST if either_request else DISCOVER)
        options = opt(53, bytes((first_type,)))
        if i % 2:
            options += opt(53, bytes((second_type,)))
        a, b = rng.choice(pairs)
        options += opt(60, a) + opt(60, b)
        options += b"".join(opt(55, hostile_prl(rng)[:16]) for _ in range(rng.randrange(1, 4)))
        if rng.random() < 0.4:
            options += opt(54, bytes((198, 18, 0, 1))) + opt(54, in_lab_range(rng))
        if rng.random() < 0.4:
            options += opt(50, in_lab_range(rng)) + opt(50, in_lab_range(rng))
        if not either_request and rng.random() < 0.3:
            options += opt(61, b"\x01" + mac) + opt(61, random_bytes(rng, 7))
        yield dhcp(rng, mac, options)


def message_types(rng: random.Random) -> Iterator[bytes]:
    """Option 53 with every value 0..255, also empty and two octets long."""
    for value in range(256):
        for data in (bytes((value,)), bytes((value,)), b"", bytes((value, rng.randrange(256)))):
            mac = chaddr_for(rng, value)
            options = opt(53, data) + opt(60, hostile_vendor_class(rng))
            if value in (REQUEST, DECLINE, RELEASE) and rng.random() < 0.5:
                options += opt(50, bytes((198, 18, 0, rng.randrange(100, 200))))
                options += opt(54, bytes((198, 18, 0, 1)))
            ciaddr = in_lab_range(rng) if value == INFORM and rng.random() < 0.5 else ZERO4
            yield dhcp(rng, mac, options, ciaddr=ciaddr)


def relayed(rng: random.Random) -> Iterator[bytes]:
    """giaddr anywhere in 198.18.0.0/15 (Kea answers there), odd hop counts, option 82 noise."""
    for _ in range(2000):
        kind = message_type(rng, 0.25)
        giaddr = rng.choice(
            (
                bytes((198, 18, 64, 2)),
                bytes((198, 18, 64 | rng.randrange(64), rng.randrange(256))),
                bytes((198, 18, 0, rng.randrange(256))),
                in_lab_range(rng),
                bytes((198, 19, 255, 255)),
            )
        )
        options = phone_options(rng, kind)
        if rng.random() < 0.5:
            options += opt(82, relay_agent_info(rng))
        hops = rng.choice((1, 0, 16, 17, 255, rng.randrange(256)))
        yield dhcp(rng, chaddr_for(rng, kind), options, giaddr=giaddr, hops=hops)


def relay_agent_info(rng: random.Random) -> bytes:
    """Option 82 (RFC 3046): sound sub-options, link selection in the lab range, or noise."""
    if rng.random() < 0.4:
        return random_bytes(rng, rng.randrange(256))
    circuit = opt(1, random_bytes(rng, rng.randrange(64)))
    remote = opt(2, random_bytes(rng, rng.randrange(64)))
    link = opt(5, in_lab_range(rng)) if rng.random() < 0.5 else b""
    return (circuit + remote + link)[:255]


def option_55(rng: random.Random) -> Iterator[bytes]:
    """Option 55 of every length, odd ones weighted, from phones known by OUI or option 60."""
    for i in range(1500):
        kind = message_type(rng)
        prl = random_bytes(rng, i % 256) if i < 512 else hostile_prl(rng)
        options = opt(53, bytes((kind,))) + opt(55, prl)
        if rng.random() < 0.5:
            options += opt(60, rng.choice(VENDOR_SEEDS[:5]))
        yield dhcp(rng, chaddr_for(rng, kind), options)


def phones(rng: random.Random) -> Iterator[bytes]:
    """Sound DISCOVERs and REQUESTs from phones, every field the hook reads made hostile."""
    for _ in range(3000):
        kind = message_type(rng, 0.3)
        chaddr = chaddr_for(rng, kind)
        if kind == DISCOVER and rng.random() < 0.3:
            chaddr += random_bytes(rng, 10)  # noise behind the MAC in the 16-octet field
        options = opt(53, bytes((kind,))) + opt(60, hostile_vendor_class(rng))
        options += opt(55, hostile_prl(rng))
        yield dhcp(rng, chaddr, options, hlen=6, flags=rng.choice((0x8000, 0, 0xFFFF)))


def other_options(rng: random.Random) -> Iterator[bytes]:
    """Noise in the options Kea itself reads: 12, 61, 81, 82, 118, 124, 125, 77, 43, 90."""
    for _ in range(1000):
        kind = message_type(rng)
        codes = rng.sample((12, 61, 81, 82, 118, 124, 125, 77, 43, 90), rng.randrange(1, 5))
        if kind == REQUEST and 61 in codes:
            codes.remove(61)  # a new client identifier would be a new lease
        options = phone_options(rng, kind)
        for code in codes:
            data = in_lab_range(rng) if code == 118 and rng.random() < 0.5 else b""
            options += opt(code, data or random_bytes(rng, rng.choice((0, 1, 2, 3, 255))))
        yield dhcp(rng, chaddr_for(rng, kind), options)


KINDS: dict[str, Callable[[random.Random], Iterator[bytes]]] = {
    "truncated": truncated,
    "overlong": overlong,
    "option-60": option_60,
    "htype-hlen": htype_hlen,
    "garbage-chaddr": garbage_chaddr,
    "overload": overload,
    "bad-cookie": bad_cookie,
    "short": short,
    "noise": noise,
    "option-soup": option_soup,
    "missing-end": missing_end,
    "pad-flood": pad_flood,
    "duplicates": duplicates,
    "message-types": message_types,
    "relayed": relayed,
    "option-55": option_55,
    "phones": phones,
    "other-options": other_options,
}


def packets(seed: int) -> list[tuple[str, bytes]]:
    """Every kind's packets, confined and capped to one frame, in a seeded random order.

    Noise can spell a REQUEST by chance (a few in a thousand option soups): those are left
    out rather than let them take leases (see the module docstring).
    """
    out: list[tuple[str, bytes]] = []
    for kind, generate in KINDS.items():
        rng = random.Random(f"{seed}:{kind}")
        for payload in generate(rng):
            packet = confine(payload)[:MAX_PAYLOAD]
            if lease_safe(packet):
                out.append((kind, packet))
    random.Random(seed).shuffle(out)
    return out


def scan_options(data: bytes) -> list[tuple[int, bytes]]:
    """Options as a lenient server reads them: up to END or to an option that runs past the end."""
    found: list[tuple[int, bytes]] = []
    i = 0
    while i + 1 < len(data) and data[i] != END:
        if data[i] == PAD:
            i += 1
            continue
        length = data[i + 1]
        if i + 2 + length > len(data):
            break
        found.append((data[i], data[i + 2 : i + 2 + length]))
        i += 2 + length
    return found


def lease_safe(payload: bytes) -> bool:
    """False if a server could read `payload` as a REQUEST that is not from a LEASE_MAC with
    an Ethernet header and no client identifier. sname and file are read as if overloaded."""
    if len(payload) < 240 or payload[236:240] != COOKIE:
        return True
    options = [
        *scan_options(payload[240:]),
        *scan_options(payload[108:236]),
        *scan_options(payload[44:108]),
    ]
    if not any(code == 53 and REQUEST in value for code, value in options):
        return True
    from_lease_mac = payload[1:3] == b"\x01\x06" and payload[28:34] in LEASE_MACS
    return from_lease_mac and all(code != 61 for code, _ in options)


# --- sending ------------------------------------------------------------------------------------


def frame_for(kind: str, payload: bytes) -> bytes:
    """The Ethernet frame: from the chaddr when it is a unicast MAC, broadcast to UDP 67."""
    mac = payload[28:34]
    if len(mac) < 6 or mac[0] & 1 or not any(mac):
        mac = FALLBACK_SRC_MAC
    src = CLIENT_IP if kind == "relayed" else ZERO4
    return build_frame(payload, src_mac=mac, src_ip=IPv4Address(src))


def send(sock: socket.socket, frame: bytes) -> None:
    """Send one frame; wait out a full transmit queue rather than lose the packet."""
    for _ in range(200):
        try:
            sock.send(frame)
            return
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
            time.sleep(0.001)
    raise OSError(errno.ENOBUFS, "transmit queue stayed full for 200 ms")


def reply_kind(frame: bytes) -> str | None:
    """'offer', 'ack', 'nak', ... for a BOOTREPLY to UDP 68 or (relayed) 67, else None."""
    parsed = parse_frame(frame, 68) or parse_frame(frame, 67)
    if parsed is None or not parsed[1] or parsed[1][0] != 2:
        return None
    try:
        message = DhcpMessage.from_bytes(parsed[1])
    except DhcpPacketError:
        return "unparsable"
    names = {2: "offer", 5: "ack", 6: "nak"}
    name = names.get(message.message_type or 0, f"type-{message.message_type}")
    # Option 160 is only ever put there by the hook (phones.POLICY's custom_option).
    return f"{name}+hook" if message.option(160) is not None else name


def drain(sock: socket.socket, replies: Counter[str]) -> None:
    """Count every reply waiting on the socket, without blocking."""
    while True:
        try:
            frame, address = sock.recvfrom(65535, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        if address[2] == socket.PACKET_OUTGOING:
            continue
        kind = reply_kind(frame)
        if kind is not None:
            replies[kind] += 1


def flood(iface: str, seed: int, burst: int, pause: float, settle: float) -> dict[str, object]:
    """Send every packet in bursts of `burst` with `pause` seconds between; count replies."""
    todo = packets(seed)
    frames = [(kind, frame_for(kind, payload)) for kind, payload in todo]
    sent: Counter[str] = Counter()
    replies: Counter[str] = Counter()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind((iface, ETH_P_IP))
        started = time.monotonic()
        for start in range(0, len(frames), burst):
            for kind, frame in frames[start : start + burst]:
                send(sock, frame)
                sent[kind] += 1
            drain(sock, replies)
            time.sleep(pause)
        took = time.monotonic() - started
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            drain(sock, replies)
            time.sleep(0.02)
    return {
        "sent": dict(sorted(sent.items())),
        "total": sum(sent.values()),
        "replies": dict(sorted(replies.items())),
        "seconds": round(took, 2),
    }


def main(argv: list[str]) -> int:
    args = json.loads(argv[1])
    report = flood(
        args["iface"],
        int(args.get("seed", 6)),
        int(args.get("burst", 40)),
        float(args.get("pause", 0.008)),
        float(args.get("settle", 1.0)),
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
