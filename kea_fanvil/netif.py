"""A Linux interface's flags, hardware address and IPv4 address, asked of the kernel.

The ioctls of netdevice(7) on a ``struct ifreq``: the name in its first 16 bytes (IFNAMSIZ,
the kernel ends it with a NUL at byte 15), the answer in the 24-byte union after it. A leaf
of the package: the probe, its DHCP client and the PnP probe all ask through here.
"""

from __future__ import annotations

import fcntl
import socket
import struct

__all__ = [
    "IFF_RUNNING",
    "IFF_UP",
    "flags",
    "hardware_address",
    "ipv4_address",
    "route_source",
]

SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
SIOCGIFHWADDR = 0x8927
IFF_UP = 0x1
IFF_RUNNING = 0x40


def _ifreq(iface: str, request: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return fcntl.ioctl(sock, request, struct.pack("16s24x", iface.encode()))


def flags(iface: str) -> int:
    """IFF_* flags of `iface` (OSError when it does not exist)."""
    value: int = struct.unpack_from("16xH", _ifreq(iface, SIOCGIFFLAGS))[0]
    return value


def hardware_address(iface: str) -> bytes:
    """The 6-byte MAC of `iface` (ifr_hwaddr: a sockaddr, its data after the 2-byte family)."""
    return _ifreq(iface, SIOCGIFHWADDR)[18:24]


def ipv4_address(iface: str) -> str:
    """The first IPv4 address of `iface` (a sockaddr_in: family, port, then the address)."""
    return socket.inet_ntoa(_ifreq(iface, SIOCGIFADDR)[20:24])


def route_source(peer: str) -> str:
    """The address the kernel would send from to reach ``peer``: a route look-up (connecting a
    UDP socket sends nothing), so a reply or request goes out from the address the peer sees.
    OSError when there is no route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((peer, 9))  # any port: only the route counts
        address: str = probe.getsockname()[0]
        return address
