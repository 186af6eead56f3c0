"""A small DHCPv4 client that plays a phone on a real interface (Linux, needs root).

Two ways onto the wire:

- direct: an AF_PACKET socket on the interface sends whole Ethernet/IPv4/UDP frames from
  0.0.0.0:68 to 255.255.255.255:67 (RFC 2131 section 4.1) with the phone's MAC as source and
  chaddr, and the BROADCAST flag set so that servers answer by broadcast; replies are read off
  the same socket and kept when they go to UDP port 68 and carry our xid and chaddr;
- relayed: an ordinary UDP socket bound to a relay address, port 67, sends the message with
  giaddr set straight to the server, which answers the relay at giaddr:67 (RFC 2131 section 4.1,
  RFC 1542 section 4.1).

Every wait is bounded: each step sends, waits `timeout` seconds, and resends at most `retries`
times before raising `DhcpTimeout`.

    DhcpClientError          (a KeaFanvilError)
    ├── InterfaceError       no such interface, interface down, or no permission for raw sockets
    ├── DhcpTimeout          no answer within timeout x (retries + 1) for one step
    └── DhcpNak              the server answered DHCPNAK
"""

from __future__ import annotations

import errno
import os
import secrets
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

from kea_fanvil import netif
from kea_fanvil.errors import (
    DhcpClientError,
    DhcpNak,
    DhcpPacketError,
    DhcpTimeout,
    InterfaceError,
)
from kea_fanvil.wire import dhcp as dhcp_packet
from kea_fanvil.wire.dhcp import BOOTREPLY, DHCPACK, DHCPNAK, DHCPOFFER, DhcpMessage, parse_mac

__all__ = [
    "DhcpClientError",
    "DhcpNak",
    "DhcpTimeout",
    "DoraResult",
    "InterfaceError",
    "dora",
    "dora_relayed",
    "release",
    "release_relayed",
]

CLIENT_PORT = 68
SERVER_PORT = 67
ETH_P_IP = 0x0800
BROADCAST_MAC = b"\xff" * 6
_BROADCAST_IP = IPv4Address("255.255.255.255")
_ZERO_IP = IPv4Address(0)


@dataclass(frozen=True)
class DoraResult:
    """The OFFER and ACK of one exchange; `server_mac` is the ACK frame's source (direct mode)."""

    offer: DhcpMessage
    ack: DhcpMessage
    server_mac: bytes | None = None

    @property
    def address(self) -> IPv4Address:
        return self.ack.yiaddr

    @property
    def server_id(self) -> IPv4Address:
        value = self.ack.option(54) or self.offer.option(54)
        if value is None or len(value) != 4:
            raise DhcpPacketError("the server sent no valid server identifier (option 54)")
        return IPv4Address(value)


# --- frames -------------------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_frame(
    payload: bytes,
    src_mac: bytes,
    dst_mac: bytes = BROADCAST_MAC,
    src_ip: IPv4Address = _ZERO_IP,
    dst_ip: IPv4Address = _BROADCAST_IP,
    src_port: int = CLIENT_PORT,
    dst_port: int = SERVER_PORT,
) -> bytes:
    """Ethernet II + IPv4 (RFC 791) + UDP (RFC 768) around `payload`, checksums filled in."""
    udp_length = 8 + len(payload)
    pseudo = src_ip.packed + dst_ip.packed + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_length)
    udp = struct.pack("!HHHH", src_port, dst_port, udp_length, 0) + payload
    udp_sum = _checksum(pseudo + udp) or 0xFFFF  # RFC 768: a computed 0 is sent as all ones
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,  # version 4, 5-word header
        0,
        20 + udp_length,
        secrets.randbelow(0x10000),
        0,
        64,
        socket.IPPROTO_UDP,
        0,
        src_ip.packed,
        dst_ip.packed,
    )
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + udp


def parse_frame(frame: bytes, dst_port: int = CLIENT_PORT) -> tuple[bytes, bytes] | None:
    """(source MAC, UDP payload) of an unfragmented IPv4/UDP frame to `dst_port`, else None."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    if ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
        return None
    if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:  # more-fragments flag or an offset
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    udp = ip[ihl:total]
    if len(udp) < 8:
        return None
    port, length = struct.unpack("!HH", udp[2:6])
    if port != dst_port or length < 8 or length > len(udp):
        return None
    return frame[6:12], udp[8:length]


# --- sockets ------------------------------------------------------------------------------------


def _open_raw(iface: str) -> socket.socket:
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise InterfaceError(f"no network interface named {iface!r} here") from None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    except PermissionError:
        raise InterfaceError(
            "raw sockets need root or CAP_NET_RAW (socket(AF_PACKET) failed with EPERM)"
        ) from None
    try:
        if not netif.flags(iface) & netif.IFF_UP:
            raise InterfaceError(f"interface {iface!r} is down (ip link set {iface} up)")
        sock.bind((iface, ETH_P_IP))
    except BaseException:
        sock.close()
        raise
    return sock


def _wait(
    sock: socket.socket,
    deadline: float,
    accept: Callable[[bytes], tuple[DhcpMessage, bytes | None] | None],
) -> tuple[DhcpMessage, bytes | None] | None:
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return None
        data = sock.recv(65535)
        found = accept(data)
        if found is not None:
            return found
    return None


def _exchange(
    send: Callable[[], None],
    sock: socket.socket,
    accept: Callable[[bytes], tuple[DhcpMessage, bytes | None] | None],
    what: str,
    timeout: float,
    retries: int,
) -> tuple[DhcpMessage, bytes | None]:
    for _ in range(retries + 1):
        send()
        found = _wait(sock, time.monotonic() + timeout, accept)
        if found is not None:
            return found
    raise DhcpTimeout(f"no {what} after {retries + 1} tries of {timeout:g} s")


def _reply_matcher(
    xid: int, chaddr: bytes, types: tuple[int, ...], raw_frames: bool
) -> Callable[[bytes], tuple[DhcpMessage, bytes | None] | None]:
    def accept(data: bytes) -> tuple[DhcpMessage, bytes | None] | None:
        src_mac: bytes | None = None
        if raw_frames:
            parsed = parse_frame(data)
            if parsed is None:
                return None
            src_mac, data = parsed
        try:
            message = DhcpMessage.from_bytes(data)
        except DhcpPacketError:
            return None
        if message.op != BOOTREPLY or message.xid != xid or message.chaddr != chaddr:
            return None
        if message.message_type not in types:
            return None
        return message, src_mac

    return accept


def _new_xid() -> int:
    return secrets.randbits(32)


def _dora(
    sock: socket.socket,
    send_message: Callable[[DhcpMessage], None],
    raw_frames: bool,
    mac: bytes,
    vendor_class: bytes | None,
    prl: bytes | None,
    giaddr: IPv4Address | None,
    hostname: bytes | None,
    timeout: float,
    retries: int,
) -> DoraResult:
    xid = _new_xid()
    msg = dhcp_packet.discover(mac, xid, vendor_class, prl, giaddr, hostname)
    offer, _ = _exchange(
        lambda: send_message(msg),
        sock,
        _reply_matcher(xid, mac, (DHCPOFFER,), raw_frames),
        "DHCPOFFER",
        timeout,
        retries,
    )
    server_id = offer.option(54)
    if server_id is None or len(server_id) != 4:
        raise DhcpPacketError("the DHCPOFFER has no valid server identifier (option 54)")
    req = dhcp_packet.request(
        mac, xid, offer.yiaddr, IPv4Address(server_id), vendor_class, prl, giaddr, hostname
    )
    ack, server_mac = _exchange(
        lambda: send_message(req),
        sock,
        _reply_matcher(xid, mac, (DHCPACK, DHCPNAK), raw_frames),
        "DHCPACK",
        timeout,
        retries,
    )
    if ack.message_type == DHCPNAK:
        raise DhcpNak((ack.option(56) or b"").decode("utf-8", "replace"))
    return DoraResult(offer=offer, ack=ack, server_mac=server_mac)


# --- public API ---------------------------------------------------------------------------------


def dora(
    iface: str,
    mac: bytes | str,
    vendor_class: bytes | None = None,
    prl: bytes | None = None,
    timeout: float = 2.0,
    retries: int = 2,
    hostname: bytes | None = None,
) -> DoraResult:
    """DISCOVER, OFFER, REQUEST, ACK on `iface` as a client with MAC `mac` (RFC 2131 3.1).

    Takes the first OFFER. Waits at most `timeout` x (`retries` + 1) seconds per step.
    """
    chaddr = parse_mac(mac)
    with _open_raw(iface) as sock:

        def send(message: DhcpMessage) -> None:
            sock.send(build_frame(message.to_bytes(), src_mac=chaddr))

        return _dora(sock, send, True, chaddr, vendor_class, prl, None, hostname, timeout, retries)


def release(iface: str, mac: bytes | str, lease: DoraResult) -> None:
    """DHCPRELEASE of `lease` (RFC 2131 section 4.4.6), unicast from the leased address to the
    server id, to the server's MAC when known (else to the Ethernet broadcast address)."""
    chaddr = parse_mac(mac)
    message = dhcp_packet.release(chaddr, _new_xid(), lease.address, lease.server_id)
    frame = build_frame(
        message.to_bytes(),
        src_mac=chaddr,
        dst_mac=lease.server_mac or BROADCAST_MAC,
        src_ip=lease.address,
        dst_ip=lease.server_id,
    )
    with _open_raw(iface) as sock:
        sock.send(frame)


def _open_relay(iface_src_ip: IPv4Address | str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((str(iface_src_ip), SERVER_PORT))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EACCES:
            raise InterfaceError("binding UDP port 67 needs root or CAP_NET_BIND_SERVICE") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise InterfaceError(f"{iface_src_ip} is not an address of this host") from None
        reason = os.strerror(exc.errno or 0)
        raise InterfaceError(f"cannot bind {iface_src_ip}:67: {reason}") from None
    return sock


def dora_relayed(
    iface_src_ip: IPv4Address | str,
    server_ip: IPv4Address | str,
    giaddr: IPv4Address | str,
    mac: bytes | str,
    vendor_class: bytes | None = None,
    prl: bytes | None = None,
    timeout: float = 2.0,
    retries: int = 2,
    hostname: bytes | None = None,
) -> DoraResult:
    """DORA as a relay agent would forward it: UDP from `iface_src_ip`:67 to `server_ip`:67 with
    giaddr = `giaddr` (RFC 2131 section 4.1). Replies go to giaddr:67, so `giaddr` should be
    `iface_src_ip` (or routed back to this socket)."""
    chaddr = parse_mac(mac)
    relay = IPv4Address(giaddr)
    with _open_relay(iface_src_ip) as sock:

        def send(message: DhcpMessage) -> None:
            sock.sendto(message.to_bytes(), (str(server_ip), SERVER_PORT))

        return _dora(
            sock, send, False, chaddr, vendor_class, prl, relay, hostname, timeout, retries
        )


def release_relayed(
    iface_src_ip: IPv4Address | str,
    mac: bytes | str,
    lease: DoraResult,
    giaddr: IPv4Address | str | None = None,
) -> None:
    """DHCPRELEASE of `lease` sent as UDP from `iface_src_ip`:67 to the server id, port 67."""
    chaddr = parse_mac(mac)
    message = dhcp_packet.release(chaddr, _new_xid(), lease.address, lease.server_id, giaddr)
    with _open_relay(iface_src_ip) as sock:
        sock.sendto(message.to_bytes(), (str(lease.server_id), SERVER_PORT))
