"""Encoders for the other DHCPv4 options a phone reads: VLAN, SIP servers, NTP, time and zone.

Each returns the option *data* (no code or length octet), as :mod:`kea_fanvil.wire.options`
does, and refuses what one option cannot hold (RFC 2132 section 2: at most 255 data octets).

Where the RFC fixes the encoding it is followed exactly. The voice VLAN is the exception: no
public Fanvil document gives the bytes of its ``DHCPOptionVlan`` (default code 132), so the
format is a setting (:data:`VLAN_FORMATS`) and the default one is another vendor's published
format, unverified against a Fanvil phone (docs/dhcp-options.md says so).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Literal

from kea_fanvil.errors import EncodingError

__all__ = [
    "OPTION_NTP_SERVERS",
    "OPTION_POSIX_TIMEZONE",
    "OPTION_SIP_SERVERS",
    "OPTION_TIME_OFFSET",
    "OPTION_TZDB_TIMEZONE",
    "TIME_OFFSET_LIMIT",
    "VLAN_FORMATS",
    "VLAN_OPTION_DEFAULT",
    "VlanFormat",
    "describe",
    "encode_ntp_servers",
    "encode_posix_timezone",
    "encode_sip_servers",
    "encode_time_offset",
    "encode_tzdb_timezone",
    "encode_vlan",
]

# RFC 2132 section 2: one length octet (wire.options' MAX_OPTION_DATA; that module shows these
# options through describe(), so this one does not import it).
MAX_OPTION_DATA = 255
OPTION_TIME_OFFSET = 2  # RFC 2132 section 3.4
OPTION_NTP_SERVERS = 42  # RFC 2132 section 8.3
OPTION_POSIX_TIMEZONE = 100  # RFC 4833 section 2, "PCode"
OPTION_TZDB_TIMEZONE = 101  # RFC 4833 section 2, "TCode"
OPTION_SIP_SERVERS = 120  # RFC 3361 section 3
# Fanvil's web page and config key `DHCPOptionVlan` default to 132; IANA lists 132 as
# "IEEE 802.1Q VLAN ID" among the PXE-era codes (RFC 4578 section 2.4 calls them vendor use).
VLAN_OPTION_DEFAULT = 132

VlanFormat = Literal["vlan-a", "decimal", "u16", "u32"]
VLAN_FORMATS: tuple[VlanFormat, ...] = ("vlan-a", "decimal", "u16", "u32")
# Offsets beyond a day are no time zone; RFC 2132 allows any signed 32-bit value.
TIME_OFFSET_LIMIT = 86_400

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# RFC 4833 section 3: the TZ database name, e.g. Europe/Zurich or America/Argentina/Buenos_Aires.
_TZDB = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
_VISIBLE = re.compile(r"[\x21-\x7e]+")


def _fit(data: bytes, what: str) -> bytes:
    if len(data) > MAX_OPTION_DATA:
        raise EncodingError(f"{what} is {len(data)} bytes; at most {MAX_OPTION_DATA} fit")
    return data


def encode_time_offset(seconds: int) -> bytes:
    """Option 2 (RFC 2132 section 3.4, "Time Offset"): seconds from UTC as a signed 32-bit
    big-endian integer; east of Greenwich is positive. RFC 4833 deprecates it in favour of
    options 100 and 101, but older phones read only this one."""
    if not -TIME_OFFSET_LIMIT <= seconds <= TIME_OFFSET_LIMIT:
        raise EncodingError(
            f"time offset {seconds} s is more than a day ({TIME_OFFSET_LIMIT} s) from UTC"
        )
    return seconds.to_bytes(4, "big", signed=True)


def encode_ntp_servers(servers: Sequence[ipaddress.IPv4Address]) -> bytes:
    """Option 42 (RFC 2132 section 8.3, "Network Time Protocol Servers"): the addresses in
    order of preference, four octets each."""
    if not servers:
        raise EncodingError("option 42 needs at least one NTP server address")
    return _fit(b"".join(a.packed for a in servers), "option 42 (NTP servers)")


def encode_sip_servers(servers: Sequence[str]) -> bytes:
    """Option 120 (RFC 3361 section 3, "SIP Servers"): an encoding octet, then the servers.

    ``enc`` 1 is a list of IPv4 addresses, 0 a list of domain names in RFC 1035 section 3.1
    form (length-prefixed labels, a zero octet per name); RFC 3361 forbids mixing the two in
    one option, so a list of both is refused. Names are written uncompressed (RFC 3361 allows
    RFC 1035 4.1.4 compression; a phone need not implement it for names it never sees)."""
    if not servers:
        raise EncodingError("option 120 needs at least one SIP server")
    addresses = []
    for server in servers:
        try:
            addresses.append(ipaddress.IPv4Address(server))
        except ValueError:
            break
    if len(addresses) == len(servers):
        return _fit(b"\x01" + b"".join(a.packed for a in addresses), "option 120 (SIP servers)")
    if addresses:
        raise EncodingError(
            "option 120 holds either addresses or names, not both (RFC 3361 section 3); "
            f"{servers[0]!r} is an address and {servers[len(addresses)]!r} is not"
        )
    data = bytearray(b"\x00")
    for name in servers:
        data += _domain_name(name)
    return _fit(bytes(data), "option 120 (SIP servers)")


def _domain_name(name: str) -> bytes:
    """RFC 1035 section 3.1: each label as a length octet and its characters, then a zero."""
    labels = name.rstrip(".").split(".")
    if not name or not all(_LABEL.fullmatch(label) for label in labels):
        raise EncodingError(
            f"{name!r} is not a host name: labels of letters, digits and inner hyphens, "
            "1 to 63 characters each, joined by dots"
        )
    encoded = b"".join(bytes([len(label)]) + label.encode("ascii") for label in labels) + b"\0"
    if len(encoded) > 255:  # RFC 1035 section 2.3.4
        raise EncodingError(f"{name!r} is longer than a domain name may be (255 octets)")
    return encoded


def encode_posix_timezone(text: str) -> bytes:
    """Option 100 (RFC 4833 section 2, "PCode"): a POSIX TZ string such as
    ``CET-1CEST,M3.5.0,M10.5.0/3`` (IEEE 1003.1 section 8.3), NVT ASCII, no NUL."""
    if not _VISIBLE.fullmatch(text):
        raise EncodingError(
            f"{text!r} is not a POSIX TZ string: visible ASCII without spaces, such as "
            "CET-1CEST,M3.5.0,M10.5.0/3"
        )
    return _fit(text.encode("ascii"), "option 100 (POSIX time zone)")


def encode_tzdb_timezone(name: str) -> bytes:
    """Option 101 (RFC 4833 section 2, "TCode"): a TZ database name such as
    ``Europe/Zurich``, NVT ASCII, no NUL."""
    if not _TZDB.fullmatch(name):
        raise EncodingError(
            f"{name!r} is not a TZ database name such as Europe/Zurich (letters, digits, "
            "'_', '+', '-', parts joined by '/')"
        )
    return _fit(name.encode("ascii"), "option 101 (TZ database name)")


def encode_vlan(vlan: int, vlan_format: VlanFormat) -> bytes:
    """The voice VLAN for the phone's ``DHCPOptionVlan`` code, in one of four encodings.

    Fanvil does not publish which one its firmware reads (unverified; docs/dhcp-options.md):

    - ``vlan-a``: the text ``VLAN-A=20;``, the "DVD string" Polycom's SoundPoint IP
      Administrator's Guide (appendix C, "Assigning a VLAN ID Using DHCP") specifies and other
      phone makers copied (case-sensitive ``VLAN-A=``, ends with ``;``);
    - ``decimal``: the ID as decimal text, ``20``;
    - ``u16`` / ``u32``: the ID as a 2- or 4-octet big-endian integer.
    """
    if not 1 <= vlan <= 4094:  # IEEE 802.1Q: 0 is "no VLAN" and 4095 is reserved
        raise EncodingError(f"VLAN {vlan} is outside 1..4094")
    if vlan_format == "vlan-a":
        return f"VLAN-A={vlan};".encode("ascii")
    if vlan_format == "decimal":
        return str(vlan).encode("ascii")
    if vlan_format == "u16":
        return vlan.to_bytes(2, "big")
    if vlan_format == "u32":
        return vlan.to_bytes(4, "big")
    raise EncodingError(f"VLAN format {vlan_format!r} is not one of {', '.join(VLAN_FORMATS)}")


def describe(code: int, data: bytes) -> str | None:
    """Options 2, 42 and 120 as people read them (an offset, addresses, servers); None for
    other codes or data these options cannot hold. For showing only: the bytes stay the truth."""
    if code == OPTION_TIME_OFFSET and len(data) == 4:
        seconds = int.from_bytes(data, "big", signed=True)
        sign, rest = ("-" if seconds < 0 else "+"), abs(seconds)
        return f"UTC{sign}{rest // 3600:02d}:{rest % 3600 // 60:02d} ({seconds} s)"
    if code == OPTION_NTP_SERVERS and data and len(data) % 4 == 0:
        return ", ".join(
            str(ipaddress.IPv4Address(data[i : i + 4])) for i in range(0, len(data), 4)
        )
    if code == OPTION_SIP_SERVERS and len(data) > 1:
        body = data[1:]
        if data[0] == 1 and len(body) % 4 == 0:
            return ", ".join(
                str(ipaddress.IPv4Address(body[i : i + 4])) for i in range(0, len(body), 4)
            )
        if data[0] == 0:
            return _names(body)
    return None


def _names(body: bytes) -> str | None:
    names: list[str] = []
    labels: list[str] = []
    i = 0
    while i < len(body):
        length = body[i]
        if length == 0:
            names.append(".".join(labels))
            labels = []
            i += 1
            continue
        label = body[i + 1 : i + 1 + length]
        if length > 63 or len(label) != length or not label.isascii():
            return None  # compression pointers or garbage: show the hex only
        labels.append(label.decode("ascii"))
        i += 1 + length
    return ", ".join(names) if names and not labels else None
