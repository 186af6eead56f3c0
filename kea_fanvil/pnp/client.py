"""The phone's side of PnP (spec 2.2): send the SUBSCRIBE a Fanvil phone multicasts at boot and
collect the 200 OK and NOTIFY that come back, for ``kea-fanvil pnp probe`` and the tests.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Literal

from kea_fanvil import netif
from kea_fanvil.errors import PnpError, SipError
from kea_fanvil.fanvil.identify import normalize_mac
from kea_fanvil.pnp.responder import GROUP, PORT, Address, response_destination
from kea_fanvil.wire.sip import (
    MAX_DATAGRAM,
    SipRequest,
    SipResponse,
    build_message,
    parse_message,
    parse_via,
    quote,
)

__all__ = [
    "PnpProbeResult",
    "Received",
    "UriForm",
    "interface_address",
    "pnp_probe",
    "subscribe_request",
]

def interface_address(name: str) -> str:
    """The first IPv4 address of an interface (SIOCGIFADDR); PnpError when it has none."""
    try:
        return netif.ipv4_address(name)
    except OSError as exc:
        raise PnpError(f"interface {name!r}: no IPv4 address ({exc.strerror or exc})") from None


def _source_address(iface_or_ip: str) -> str:
    try:
        return str(ipaddress.IPv4Address(iface_or_ip))
    except ValueError:
        return interface_address(iface_or_ip)


@dataclass(frozen=True)
class Received:
    data: bytes
    source: Address
    after: float  # seconds since the first SUBSCRIBE went out


@dataclass(frozen=True)
class PnpProbeResult:
    """What came back to one probe SUBSCRIBE (sent ``repeat`` times)."""

    request: bytes
    source: Address  # where we sent from (the NOTIFY's expected target)
    responses: tuple[Received, ...]  # responses to the SUBSCRIBE, in arrival order
    notifies: tuple[Received, ...]  # NOTIFYs for our subscription (each answered 200 OK)
    others: tuple[Received, ...]  # anything else that reached our port

    @property
    def status(self) -> int | None:
        """The first final status answering the SUBSCRIBE, or None."""
        for got in self.responses:
            message = parse_message(got.data)
            if isinstance(message, SipResponse) and message.status >= 200:
                return message.status
        return None

    @property
    def url(self) -> str | None:
        """The provisioning URL: the first NOTIFY's body, or None without a NOTIFY."""
        if not self.notifies:
            return None
        return parse_message(self.notifies[0].data).body.decode("utf-8", "replace")

    @property
    def content_type(self) -> str | None:
        if not self.notifies:
            return None
        return parse_message(self.notifies[0].data).get("content-type")


UriForm = Literal["MAC=", "MAC%3A", "MAC:"]


def subscribe_request(
    source: Address,
    mac: str,
    vendor: str,
    model: str,
    version: str,
    group: str = GROUP,
    port: int = PORT,
    uri_form: UriForm = "MAC=",
    call_id: str | None = None,
) -> bytes:
    """The SUBSCRIBE a Fanvil phone multicasts at boot (FIELD-NOTES, "PnP")."""
    bare = normalize_mac(mac).replace(":", "")
    user = f"{uri_form}{bare}"
    target = f"sip:{user}@{group}" + (f":{port}" if port != PORT else "")
    tag = secrets.token_hex(4)
    event_params = "".join(
        f";{name}={quote(value)}"  # quoted even when a token would do, as phones send them
        for name, value in (("vendor", vendor), ("model", model), ("version", version))
        if value
    )
    return build_message(
        f"SUBSCRIBE {target} SIP/2.0",
        [
            (
                "Via",
                f"SIP/2.0/UDP {source[0]}:{source[1]};branch=z9hG4bK{secrets.token_hex(8)};rport",
            ),
            ("From", f"<sip:{user}@{group}>;tag={tag}"),
            ("To", f"<sip:{user}@{group}>"),
            ("Call-ID", call_id or f"{secrets.token_hex(8)}@{source[0]}"),
            ("CSeq", "1 SUBSCRIBE"),
            ("Contact", f"<sip:{user}@{source[0]}:{source[1]}>"),
            ("Max-Forwards", "70"),
            ("User-Agent", f"{vendor} {model} {version} {bare}".strip()),
            ("Expires", "0"),
            ("Event", f'ua-profile;profile-type="device"{event_params}'),
            ("Accept", "application/url"),
        ],
    )


def _ok_for(request: SipRequest) -> bytes:
    return build_message(
        "SIP/2.0 200 OK",
        [
            *(("Via", v) for v in request.values("via")),
            ("From", request.get("from") or ""),
            ("To", request.get("to") or ""),
            ("Call-ID", request.call_id),
            ("CSeq", f"{request.cseq[0]} {request.cseq[1]}"),
        ],
    )


def pnp_probe(
    iface_or_source_ip: str,
    mac: str,
    vendor: str = "Fanvil",
    model: str = "C62",
    version: str = "2.4.1",
    group: str = GROUP,
    port: int = PORT,
    timeout: float = 3.0,
    repeat: int = 1,
    uri_form: UriForm = "MAC=",
    linger: float | None = None,
    local_port: int = 0,
) -> PnpProbeResult:
    """Play a phone: multicast a PnP SUBSCRIBE from an interface (or a local address) and
    collect the answers. Each NOTIFY is answered 200 OK, as a phone does.

    Returns once a NOTIFY arrived and ``linger`` seconds passed (default 0, or 0.5 with
    ``repeat`` > 1, to collect the answers to the retransmissions), or after ``timeout``.
    ``repeat`` sends the same bytes that many times, as a phone retransmits.
    """
    address = _source_address(iface_or_source_ip)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((address, local_port))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    except OSError as exc:
        sock.close()
        raise PnpError(f"cannot send from {address}: {exc.strerror or exc}") from None
    linger = (0.0 if repeat <= 1 else 0.5) if linger is None else linger
    with sock:
        source: Address = sock.getsockname()
        request = subscribe_request(source, mac, vendor, model, version, group, port, uri_form)
        call_id = parse_message(request).call_id
        started = time.monotonic()
        for _ in range(max(1, repeat)):
            sock.sendto(request, (group, port))
        responses: list[Received] = []
        notifies: list[Received] = []
        others: list[Received] = []
        end = started + timeout
        while True:
            now = time.monotonic()
            if now >= end:
                break
            sock.settimeout(end - now)
            try:
                data, sender = sock.recvfrom(MAX_DATAGRAM + 1)
            except (TimeoutError, BlockingIOError):
                break
            except OSError:
                continue  # ICMP errors from earlier sends
            got = Received(data, sender, time.monotonic() - started)
            try:
                message = parse_message(data)
            except SipError:
                others.append(got)
                continue
            if message.call_id != call_id:
                others.append(got)
            elif isinstance(message, SipResponse):
                responses.append(got)
            elif message.method == "NOTIFY":
                notifies.append(got)
                try:
                    to = response_destination(parse_via(message.values("via")[0]), sender)
                except SipError:
                    to = sender
                with contextlib.suppress(OSError, ValueError):
                    sock.sendto(_ok_for(message), to)
                end = min(end, time.monotonic() + linger)
            else:
                others.append(got)
    return PnpProbeResult(request, source, tuple(responses), tuple(notifies), tuple(others))
