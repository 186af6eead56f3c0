"""DHCPv4 messages as bytes and back: pure code, no sockets.

Wire formats followed:

- RFC 2131 section 2: the fixed BOOTP/DHCP header (op ... file), 236 octets, then the options.
- RFC 2131 section 3 and RFC 2132 section 2: the options field opens with the magic cookie
  99.130.83.99; each option is code, length, data, except pad (0) and end (255), one octet each.
- RFC 2131 section 4.1 and RFC 2132 section 9.3: option overload (52) lets the `file` and
  `sname` fields carry options, read in the order options field, then `file`, then `sname`.
- RFC 3396: an option longer than 255 octets is split into several instances of the same code;
  a receiver concatenates every instance, in that order, into one value.
- RFC 1542 section 2.1: a BOOTP/DHCP message is at least 300 octets long; `to_bytes` pads.

`DhcpMessage.from_bytes` raises `DhcpPacketError`, and nothing else, on malformed input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from kea_fanvil.errors import DhcpPacketError

__all__ = [
    "BOOTREPLY",
    "BOOTREQUEST",
    "DHCPACK",
    "DHCPDECLINE",
    "DHCPDISCOVER",
    "DHCPINFORM",
    "DHCPNAK",
    "DHCPOFFER",
    "DHCPRELEASE",
    "DHCPREQUEST",
    "FLAG_BROADCAST",
    "MAGIC_COOKIE",
    "DhcpMessage",
    "DhcpPacketError",
    "discover",
    "encode_option",
    "parse_mac",
    "release",
    "request",
]

BOOTREQUEST = 1
BOOTREPLY = 2

# RFC 2132 section 9.6, DHCP Message Type (option 53).
DHCPDISCOVER = 1
DHCPOFFER = 2
DHCPREQUEST = 3
DHCPDECLINE = 4
DHCPACK = 5
DHCPNAK = 6
DHCPRELEASE = 7
DHCPINFORM = 8

# RFC 2131 section 2, figure 2: the leftmost bit of `flags`.
FLAG_BROADCAST = 0x8000

MAGIC_COOKIE = bytes((99, 130, 83, 99))

OPT_PAD = 0
OPT_HOSTNAME = 12
OPT_REQUESTED_ADDRESS = 50
OPT_OVERLOAD = 52
OPT_MESSAGE_TYPE = 53
OPT_SERVER_ID = 54
OPT_PARAMETER_REQUEST_LIST = 55
OPT_VENDOR_CLASS = 60
OPT_END = 255

# RFC 2131 section 2: op htype hlen hops xid secs flags ciaddr yiaddr siaddr giaddr chaddr
# sname file.
_HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
_MIN_MESSAGE = 300  # RFC 1542 section 2.1
_ZERO = IPv4Address(0)


def _default_options() -> list[tuple[int, bytes]]:
    return []


@dataclass
class DhcpMessage:
    """One DHCPv4 message (RFC 2131 section 2).

    `chaddr` holds the `hlen` significant octets only; `sname` and `file` hold the field up to
    its first NUL. `options` lists (code, value) in wire order, without pad and end; when parsed,
    the instances of a repeated code are already concatenated (RFC 3396) and option overload is
    resolved (the options found in `file`/`sname` are appended, option 52 is kept, the
    overloaded fields read as empty).
    """

    op: int
    xid: int
    flags: int = 0
    ciaddr: IPv4Address = _ZERO
    yiaddr: IPv4Address = _ZERO
    siaddr: IPv4Address = _ZERO
    giaddr: IPv4Address = _ZERO
    chaddr: bytes = b""
    sname: bytes = b""
    file: bytes = b""
    options: list[tuple[int, bytes]] = field(default_factory=_default_options)
    htype: int = 1
    hops: int = 0
    secs: int = 0

    @property
    def message_type(self) -> int | None:
        """Option 53 (RFC 2132 section 9.6) as an int, or None if absent or malformed."""
        value = self.option(OPT_MESSAGE_TYPE)
        if value is None or len(value) != 1:
            return None
        return value[0]

    def option(self, code: int) -> bytes | None:
        """The value of option `code`, all instances concatenated (RFC 3396), or None."""
        parts = [value for c, value in self.options if c == code]
        return b"".join(parts) if parts else None

    def to_bytes(self) -> bytes:
        """Encode as RFC 2131 section 2 lays it out, padded to 300 octets (RFC 1542).

        Options longer than 255 octets are split per RFC 3396 section 5. Options are written in
        the options field only: this encoder never overloads `file`/`sname` on its own, so an
        option 52 in `options` is written as given and the caller fills `file`/`sname` itself.
        """
        for name, limit in (("chaddr", 16), ("sname", 64), ("file", 128)):
            if len(getattr(self, name)) > limit:
                raise DhcpPacketError(f"{name} is longer than {limit} octets")
        try:
            header = _HEADER.pack(
                self.op,
                self.htype,
                len(self.chaddr),
                self.hops,
                self.xid,
                self.secs,
                self.flags,
                self.ciaddr.packed,
                self.yiaddr.packed,
                self.siaddr.packed,
                self.giaddr.packed,
                self.chaddr,
                self.sname,
                self.file,
            )
        except struct.error as exc:
            raise DhcpPacketError(f"header field out of range: {exc}") from None
        body = bytearray(header + MAGIC_COOKIE)
        for code, value in self.options:
            body += encode_option(code, value)
        body.append(OPT_END)
        if len(body) < _MIN_MESSAGE:
            body += bytes(_MIN_MESSAGE - len(body))
        return bytes(body)

    @classmethod
    def from_bytes(cls, data: bytes) -> DhcpMessage:
        """Parse a DHCPv4 message; raise `DhcpPacketError` if it is not well formed.

        Accepted leniently: a missing end option (the field ends with the message) and
        anything after the end option (padding).
        """
        if len(data) < _HEADER.size + len(MAGIC_COOKIE):
            raise DhcpPacketError(
                f"{len(data)} octets is shorter than a DHCP header and magic cookie (240)"
            )
        fields = _HEADER.unpack_from(data)
        op, htype, hlen, hops, xid, secs, flags = fields[:7]
        ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file_ = fields[7:]
        if op not in (BOOTREQUEST, BOOTREPLY):
            raise DhcpPacketError(f"op {op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)")
        if hlen > 16:
            raise DhcpPacketError(f"hlen {hlen} exceeds the 16-octet chaddr field")
        if data[_HEADER.size : _HEADER.size + 4] != MAGIC_COOKIE:
            raise DhcpPacketError("no DHCP magic cookie (RFC 2131 section 3)")
        raw = _parse_options(data[_HEADER.size + 4 :], "options field")
        overload = _overload(raw)
        if overload & 1:
            raw += _parse_options(file_, "file field")
            file_ = b""
        if overload & 2:
            raw += _parse_options(sname, "sname field")
            sname = b""
        return cls(
            op=op,
            xid=xid,
            flags=flags,
            ciaddr=IPv4Address(ciaddr),
            yiaddr=IPv4Address(yiaddr),
            siaddr=IPv4Address(siaddr),
            giaddr=IPv4Address(giaddr),
            chaddr=chaddr[:hlen],
            sname=sname.split(b"\0", 1)[0],
            file=file_.split(b"\0", 1)[0],
            options=_concatenate(raw),
            htype=htype,
            hops=hops,
            secs=secs,
        )


def encode_option(code: int, value: bytes) -> bytes:
    """One option as code, length, data (RFC 2132 section 2), split per RFC 3396 if long."""
    if not 1 <= code <= 254:
        raise DhcpPacketError(f"option code {code} is not 1-254 (0 is pad, 255 is end)")
    if not value:
        return bytes((code, 0))
    out = bytearray()
    for start in range(0, len(value), 255):
        chunk = value[start : start + 255]
        out += bytes((code, len(chunk))) + chunk
    return bytes(out)


def _parse_options(data: bytes, where: str) -> list[tuple[int, bytes]]:
    options: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        code = data[i]
        if code == OPT_PAD:
            i += 1
            continue
        if code == OPT_END:
            break
        if i + 1 >= len(data):
            raise DhcpPacketError(f"option {code} in the {where} has no length octet")
        length = data[i + 1]
        if i + 2 + length > len(data):
            raise DhcpPacketError(
                f"option {code} in the {where} claims {length} octets, "
                f"only {len(data) - i - 2} remain"
            )
        options.append((code, data[i + 2 : i + 2 + length]))
        i += 2 + length
    return options


def _overload(raw: list[tuple[int, bytes]]) -> int:
    """RFC 2132 section 9.3: 1 = file, 2 = sname, 3 = both carry options."""
    values = [value for code, value in raw if code == OPT_OVERLOAD]
    if not values:
        return 0
    if len(values) > 1 or len(values[0]) != 1 or values[0][0] not in (1, 2, 3):
        raise DhcpPacketError("option 52 (overload) must appear once with value 1, 2 or 3")
    return values[0][0]


def _concatenate(raw: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """RFC 3396 section 7: join every instance of a code, placed at its first occurrence."""
    merged: dict[int, bytearray] = {}
    for code, value in raw:
        merged.setdefault(code, bytearray()).extend(value)
    return [(code, bytes(value)) for code, value in merged.items()]


def parse_mac(mac: bytes | str) -> bytes:
    """A MAC address as 6 octets, from bytes or text such as `0c:38:3e:07:e1:6c`."""
    if isinstance(mac, bytes):
        raw = mac
    else:
        text = mac.replace(":", "").replace("-", "").replace(".", "")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise DhcpPacketError(f"{mac!r} is not a MAC address") from None
    if len(raw) != 6:
        raise DhcpPacketError(f"a MAC address has 6 octets, got {len(raw)}")
    return raw


def _ip(value: IPv4Address | str | None) -> IPv4Address:
    return _ZERO if value is None else IPv4Address(value)


def _client_options(
    message_type: int,
    vendor_class: bytes | None,
    prl: bytes | None,
    hostname: bytes | None,
    extra: list[tuple[int, bytes]],
) -> list[tuple[int, bytes]]:
    options = [(OPT_MESSAGE_TYPE, bytes((message_type,))), *extra]
    if hostname is not None:
        options.append((OPT_HOSTNAME, hostname))
    if vendor_class is not None:
        options.append((OPT_VENDOR_CLASS, vendor_class))
    if prl is not None:
        options.append((OPT_PARAMETER_REQUEST_LIST, prl))
    return options


def discover(
    mac: bytes | str,
    xid: int,
    vendor_class: bytes | None = None,
    prl: bytes | None = None,
    giaddr: IPv4Address | str | None = None,
    hostname: bytes | None = None,
    *,
    broadcast: bool = True,
) -> DhcpMessage:
    """DHCPDISCOVER (RFC 2131 section 4.4.1, table 5).

    With `giaddr` the message looks relayed (RFC 2131 section 4.1, RFC 1542 section 4.1.1:
    the relay sets giaddr and counts one hop).
    """
    return DhcpMessage(
        op=BOOTREQUEST,
        xid=xid,
        flags=FLAG_BROADCAST if broadcast else 0,
        giaddr=_ip(giaddr),
        hops=0 if giaddr is None else 1,
        chaddr=parse_mac(mac),
        options=_client_options(DHCPDISCOVER, vendor_class, prl, hostname, []),
    )


def request(
    mac: bytes | str,
    xid: int,
    requested_address: IPv4Address | str,
    server_id: IPv4Address | str,
    vendor_class: bytes | None = None,
    prl: bytes | None = None,
    giaddr: IPv4Address | str | None = None,
    hostname: bytes | None = None,
    *,
    broadcast: bool = True,
) -> DhcpMessage:
    """DHCPREQUEST in SELECTING state (RFC 2131 section 4.3.2 and table 5).

    ciaddr stays 0; option 50 carries the offered address and option 54 the chosen server.
    """
    extra = [
        (OPT_REQUESTED_ADDRESS, IPv4Address(requested_address).packed),
        (OPT_SERVER_ID, IPv4Address(server_id).packed),
    ]
    return DhcpMessage(
        op=BOOTREQUEST,
        xid=xid,
        flags=FLAG_BROADCAST if broadcast else 0,
        giaddr=_ip(giaddr),
        hops=0 if giaddr is None else 1,
        chaddr=parse_mac(mac),
        options=_client_options(DHCPREQUEST, vendor_class, prl, hostname, extra),
    )


def release(
    mac: bytes | str,
    xid: int,
    ciaddr: IPv4Address | str,
    server_id: IPv4Address | str,
    giaddr: IPv4Address | str | None = None,
) -> DhcpMessage:
    """DHCPRELEASE (RFC 2131 section 4.4.6 and table 5): ciaddr set, option 54, no reply."""
    return DhcpMessage(
        op=BOOTREQUEST,
        xid=xid,
        ciaddr=IPv4Address(ciaddr),
        giaddr=_ip(giaddr),
        hops=0 if giaddr is None else 1,
        chaddr=parse_mac(mac),
        options=[
            (OPT_MESSAGE_TYPE, bytes((DHCPRELEASE,))),
            (OPT_SERVER_ID, IPv4Address(server_id).packed),
        ],
    )
