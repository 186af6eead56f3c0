"""The probe as a whole: check the interface, play the phone's DORA, release, interpret, fetch.

The DHCP exchange is :mod:`kea_fanvil.probe.dhcp_client`'s (DISCOVER, REQUEST, then RELEASE);
what a phone makes of the answer is :mod:`kea_fanvil.probe.interpret`'s; downloads are
:mod:`kea_fanvil.probe.fetch`'s. This module sequences them and picks the exit code;
``kea-fanvil probe`` (kea_fanvil.cli.probe) prints the outcome.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from kea_fanvil import netif
from kea_fanvil.errors import (
    DhcpClientError,
    DhcpNak,
    DhcpPacketError,
    DhcpTimeout,
    InterfaceError,
    ProbeFailed,
)
from kea_fanvil.fanvil.identify import format_mac, parse_vendor_class
from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.probe.dhcp_client import dora as dhcp_dora
from kea_fanvil.probe.dhcp_client import release as dhcp_release
from kea_fanvil.probe.fetch import FetchResult, FetchSettings, fetch
from kea_fanvil.probe.interpret import ProbeReport, interpret

__all__ = [
    "DEFAULT_PRL",
    "EXIT_CODES",
    "Outcome",
    "check_interface",
    "check_privileges",
    "default_mac",
    "run",
]

EXIT_ANSWERED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # click's own
EXIT_NO_ANSWER = 3
EXIT_INTERFACE = 4
EXIT_NOT_ROOT = 5
EXIT_FETCH_FAILED = 6
EXIT_REFUSED = 7

EXIT_CODES = {
    EXIT_ANSWERED: "answered (URL or not: the report says); with --fetch, all downloads worked",
    EXIT_FAILED: "another failure",
    EXIT_USAGE: "wrong command line",
    EXIT_NO_ANSWER: "no DHCP server answered, after the retries",
    EXIT_INTERFACE: "the interface does not exist, is down or has no link",
    EXIT_NOT_ROOT: "may not send raw frames: run as root (or with CAP_NET_RAW)",
    EXIT_FETCH_FAILED: "--fetch: a file could not be downloaded",
    EXIT_REFUSED: "the server refused the request (DHCPNAK) or its answer was unusable",
}

FANVIL_OUI = "0c:38:3e"
# Subnet mask, router, DNS, domain, broadcast, NTP, then what a Fanvil phone may read its URL
# from: 43 and 66 (spec 2.1), 67 (the ID-oriented file name).
DEFAULT_PRL = (1, 3, 6, 15, 28, 42, 43, 66, 67)

_ETH_P_IP = 0x0800
LINK_WAIT = 2.0  # seconds


# --- the interface ------------------------------------------------------------------------------


def check_interface(iface: str) -> None:
    """Raise ProbeFailed(4) unless `iface` exists, is up and has a link (needs no privilege)."""
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise ProbeFailed(
            EXIT_INTERFACE, f"no network interface named {iface!r} here (`ip link` lists them)"
        ) from None
    flags = netif.flags(iface)
    if not flags & netif.IFF_UP:
        raise ProbeFailed(EXIT_INTERFACE, f"interface {iface} is down (ip link set {iface} up)")
    # The kernel reports a new carrier up to a second late (linkwatch): wait that long for an
    # interface just brought up before calling it unplugged.
    deadline = time.monotonic() + LINK_WAIT
    while not flags & netif.IFF_RUNNING:
        if time.monotonic() > deadline:
            raise ProbeFailed(
                EXIT_INTERFACE,
                f"interface {iface} is up but has no link (no carrier: cable, switch port or "
                "peer?)",
            )
        time.sleep(0.05)
        flags = netif.flags(iface)


def check_privileges() -> None:
    """Raise ProbeFailed(5) if this process may not open the raw socket the client needs."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_IP)).close()
    except PermissionError:
        raise ProbeFailed(
            EXIT_NOT_ROOT,
            "playing a phone needs raw sockets: run as root (or give the program CAP_NET_RAW)",
        ) from None


def default_mac(iface: str) -> str:
    """Fanvil's OUI and the last three bytes of `iface`'s own MAC: the same on every run from
    this host, so repeated probes reuse one lease and are easy to find in the server's logs."""
    hwaddr = netif.hardware_address(iface)
    return f"{FANVIL_OUI}:{format_mac(hwaddr[3:6])}"


# --- the probe ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Everything one probe found; `exit_code` follows EXIT_CODES."""

    iface: str
    mac: str
    vendor_class: str | None
    model: str | None
    model_source: str | None
    prl: tuple[int, ...] | None
    lease: DoraResult
    released: bool
    release_error: str | None
    report: ProbeReport
    fetched: list[FetchResult] | None
    exit_code: int

    def as_dict(self, show_secrets: bool) -> dict[str, Any]:
        return {
            "interface": self.iface,
            "mac": self.mac,
            "vendor_class": self.vendor_class,
            "model_source": self.model_source,
            "prl": list(self.prl) if self.prl is not None else None,
            "server_mac": format_mac(self.lease.server_mac) if self.lease.server_mac else None,
            "released": self.released,
            "release_error": self.release_error,
            **self.report.as_dict(show_secrets),
            "fetch": (
                [r.as_dict(show_secrets) for r in self.fetched]
                if self.fetched is not None
                else None
            ),
            "exit_code": self.exit_code,
        }


def _dora(
    iface: str,
    mac: str,
    vendor_class: bytes | None,
    prl: bytes | None,
    timeout: float,
    retries: int,
) -> DoraResult:
    try:
        return dhcp_dora(iface, mac, vendor_class, prl, timeout=timeout, retries=retries)
    except DhcpTimeout as exc:
        raise ProbeFailed(EXIT_NO_ANSWER, f"no DHCP server answered on {iface}: {exc}") from None
    except DhcpNak as exc:
        raise ProbeFailed(EXIT_REFUSED, str(exc)) from None
    except DhcpPacketError as exc:
        raise ProbeFailed(EXIT_REFUSED, f"unusable answer: {exc}") from None
    except InterfaceError as exc:
        raise ProbeFailed(EXIT_INTERFACE, str(exc)) from None


def _release(iface: str, mac: str, lease: DoraResult) -> str | None:
    """Give the address back; the reason when that was impossible (RELEASE has no answer)."""
    try:
        dhcp_release(iface, mac, lease)
    except (DhcpClientError, DhcpPacketError, OSError) as exc:
        return str(exc)
    return None


def run(
    iface: str,
    mac: str | None,
    vendor_class: str | None,
    model: str | None,
    prl: tuple[int, ...] | None,
    custom_option: int | None,
    input_id: str | None,
    do_fetch: bool,
    settings: FetchSettings,
    timeout: float,
    retries: int,
) -> Outcome:
    """The whole probe; raises ProbeFailed for the exits that end it before a report."""
    check_interface(iface)
    check_privileges()
    mac = mac or default_mac(iface)
    parsed = parse_vendor_class(vendor_class.encode()) if vendor_class else None
    model_source = "--model" if model else None
    if not model and parsed and parsed.model:
        model, model_source = parsed.model, "option 60"
    lease = _dora(
        iface,
        mac,
        vendor_class.encode() if vendor_class is not None else None,
        bytes(prl) if prl is not None else None,
        timeout,
        retries,
    )
    # Released before anything else can fail, so that no probe leaves a lease behind.
    release_error = _release(iface, mac, lease)
    report = interpret(lease.ack, mac, model, custom_option, input_id)
    fetched = None
    exit_code = EXIT_ANSWERED
    if do_fetch:
        firmware = parsed.firmware if parsed else ""
        agent = " ".join(p for p in ("Fanvil", model, firmware, mac.replace(":", "")) if p)
        settings = replace(settings, user_agent=agent)
        fetched = [fetch(f.url, settings) for f in report.files if f.url is not None]
        if any(not r.ok for r in fetched):
            exit_code = EXIT_FETCH_FAILED
    return Outcome(
        iface=iface,
        mac=mac,
        vendor_class=vendor_class,
        model=model,
        model_source=model_source,
        prl=prl,
        lease=lease,
        released=release_error is None,
        release_error=release_error,
        report=report,
        fetched=fetched,
        exit_code=exit_code,
    )
