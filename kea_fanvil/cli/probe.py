"""`kea-fanvil probe`: play a phone on a real interface and say what it would do.

The DHCP exchange is kea_fanvil.probe.dhcp_client's (DISCOVER, REQUEST, then RELEASE); what a
phone makes of the answer is kea_fanvil.probe.interpret's; downloads are kea_fanvil.probe.fetch's.
This module only checks the interface, sequences those, prints and picks the exit code.
"""

from __future__ import annotations

import fcntl
import json
import socket
import struct
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.table import Table
from rich.text import Text

from kea_fanvil.cli.common import err, out, parse_prl
from kea_fanvil.cli.pnp_probe import run_probe
from kea_fanvil.errors import (
    DhcpClientError,
    DhcpNak,
    DhcpPacketError,
    DhcpTimeout,
    InterfaceError,
    ProbeFailed,
)
from kea_fanvil.fanvil.identify import format_mac, normalize_mac, parse_vendor_class
from kea_fanvil.fanvil.naming import KIND_LABELS
from kea_fanvil.pnp.responder import GROUP, PORT
from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.probe.dhcp_client import dora as dhcp_dora
from kea_fanvil.probe.dhcp_client import release as dhcp_release
from kea_fanvil.probe.fetch import FetchResult, FetchSettings, fetch
from kea_fanvil.probe.interpret import ProbeReport, interpret, option_view
from kea_fanvil.redact import shown

__all__ = ["EXIT_CODES", "probe"]

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

_SIOCGIFFLAGS = 0x8913
_SIOCGIFHWADDR = 0x8927
_IFF_UP = 0x1
_IFF_RUNNING = 0x40
_ETH_P_IP = 0x0800
LINK_WAIT = 2.0  # seconds




# --- the interface ------------------------------------------------------------------------------


def _ifreq(iface: str, request: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return fcntl.ioctl(sock, request, struct.pack("16s16x", iface.encode()))


def check_interface(iface: str) -> None:
    """Raise ProbeFailed(4) unless `iface` exists, is up and has a link (needs no privilege)."""
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise ProbeFailed(
            EXIT_INTERFACE, f"no network interface named {iface!r} here (`ip link` lists them)"
        ) from None
    flags = _flags(iface)
    if not flags & _IFF_UP:
        raise ProbeFailed(EXIT_INTERFACE, f"interface {iface} is down (ip link set {iface} up)")
    # The kernel reports a new carrier up to a second late (linkwatch): wait that long for an
    # interface just brought up before calling it unplugged.
    deadline = time.monotonic() + LINK_WAIT
    while not flags & _IFF_RUNNING:
        if time.monotonic() > deadline:
            raise ProbeFailed(
                EXIT_INTERFACE,
                f"interface {iface} is up but has no link (no carrier: cable, switch port or "
                "peer?)",
            )
        time.sleep(0.05)
        flags = _flags(iface)


def _flags(iface: str) -> int:
    flags: int = struct.unpack_from("16xH", _ifreq(iface, _SIOCGIFFLAGS))[0]
    return flags


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
    hwaddr = _ifreq(iface, _SIOCGIFHWADDR)[18:24]
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


# --- printing -----------------------------------------------------------------------------------


_ADDRESS_LISTS = {1, 3, 6, 28, 42, 44, 54}  # RFC 2132: mask, routers, DNS, broadcast, NTP, ...
_SECONDS = {51, 58, 59}  # RFC 2132 9.2, 9.11, 9.12: lease, renewal and rebinding times
_MESSAGE_TYPES = (
    "",
    "DHCPDISCOVER",
    "DHCPOFFER",
    "DHCPREQUEST",
    "DHCPDECLINE",
    "DHCPACK",
    "DHCPNAK",
    "DHCPRELEASE",
    "DHCPINFORM",
)


def _decoded(code: int, data: bytes) -> str | None:
    """A readable form of the common fixed-format options; None for the others."""
    if code in _ADDRESS_LISTS and data and len(data) % 4 == 0:
        return ", ".join(socket.inet_ntoa(data[i : i + 4]) for i in range(0, len(data), 4))
    if code in _SECONDS and len(data) == 4:
        return f"{int.from_bytes(data, 'big')} s"
    if code == 53 and len(data) == 1 and 0 < data[0] < len(_MESSAGE_TYPES):
        return _MESSAGE_TYPES[data[0]]
    return None


def _line(text: str, style: str = "") -> None:
    out.print(Text(text, style), soft_wrap=True)


def print_outcome(o: Outcome, show_secrets: bool) -> None:
    r = o.report
    server = f"server {r.server_id}" if r.server_id else "a server (no server id)"
    lease = f", lease {r.lease_time} s" if r.lease_time is not None else ""
    released = "released" if o.released else f"NOT released: {o.release_error}"
    _line(f"{o.iface}: {server} offered {r.address}{lease}; {released}")
    model = f"model {o.model} (from {o.model_source})" if o.model else "model unknown"
    sent = f'option 60 "{o.vendor_class}"' if o.vendor_class is not None else "no option 60"
    asked = ",".join(map(str, o.prl)) if o.prl is not None else "none"
    _line(f"played {o.mac}, {model}, {sent}, option 55 {asked}")

    options = Table("code", "value", title="DHCPACK options", title_justify="left")
    options.columns[1].overflow = "fold"
    for code, data in r.options:
        view = option_view(code, data, show_secrets)
        value = _decoded(code, data) or view.text or view.hex or ""
        options.add_row(str(code), Text(value + (" (password masked)" if view.masked else "")))
    out.print(options)
    if r.boot_file:
        _line(f"boot-file name: {r.boot_file}")

    if r.carriers:
        _line("where the phone looks for its URL (spec 2.1), in order:")
        for c in r.carriers:
            mark = "->" if c is r.chosen else "  "
            note = f"  ({c.note})" if c.note else ""
            _line(f" {mark} {c.name:<18} {shown(c.value, show_secrets)}{note}")
    if r.chosen is None:
        _line(r.fallback or "", "bold")
    else:
        _line(f"URL: {shown(r.chosen.url or '', show_secrets)} (from {r.chosen.name})", "bold")
        if r.expanded_url != r.chosen.url:
            _line(f"expanded: {shown(r.expanded_url or '', show_secrets)}")
    if r.files:
        _line("files the phone would request (spec 3), in order:")
    fetched = iter(o.fetched or [])
    for i, f in enumerate(r.files, 1):
        name = f.name or "(unknown)"
        _line(f" {i}. {KIND_LABELS[f.kind]} {name} ({f.source})")
        if f.url is None:
            _line(f"    {f.note or 'cannot be requested'}", "yellow")
            continue
        _line(f"    {shown(f.url, show_secrets)}")
        if o.fetched is None:
            continue
        got = next(fetched)
        if got.ok:
            version = f"version {got.version}" if got.version else "no <<VOIP CONFIG FILE>> header"
            _line(f"    {got.status}, {got.size} bytes, {version}", "green")
        else:
            _line(f"    failed: {shown(got.error or '', show_secrets)}", "red")
    for note in r.notes:
        _line(f"note: {shown(note, show_secrets)}")


# --- the command --------------------------------------------------------------------------------


def _prl(value: str | None, custom_option: int | None) -> tuple[int, ...] | None:
    if value is None:
        codes = list(DEFAULT_PRL)
        if custom_option is not None:
            codes.append(custom_option)
        return tuple(codes)
    if value.strip() == "":
        return None
    return parse_prl(value)


HELP = f"""Play a Fanvil phone on IFACE and report what it would do with the answer.

\b
Sends DISCOVER and REQUEST as the phone, then RELEASE, so no lease is
left behind. Then, following the auto-provision spec:
  - where the phone finds its URL: the custom option (128-254), then
    option 66, then option 43 (spec 2.1); with none, it would fall back
    to its PnP server, then to the URL in its flash;
  - the URL with $mac expanded, and the files the phone would request:
    its model's Common file (f0C006200000.cfg for a C62), then its
    MAC-oriented file (0c383e113af8.cfg), or the ID-oriented file when
    the server sent a boot-file name (option 67 / BOOTP file field).
    A URL naming a file (.../$mac.cfg) is taken as the one file asked.

\b
With --fetch the files are downloaded (HTTP, HTTPS, TFTP, FTP) from this
host's own address on that network (the offered address is never
configured), reporting status, size and the <<VOIP CONFIG FILE>>Version.

\b
Examples:
  kea-fanvil probe eth0 --model C62
  kea-fanvil probe eth0 --mac 0c:38:3e:11:3a:f8 --no-vendor-class --fetch
  kea-fanvil probe eth0 --vendor-class "Fanvil X4 2.10.2.6887" --custom-option 160 --json

\b
Exit codes:
{chr(10).join(f"  {code}  {text}" for code, text in EXIT_CODES.items())}
"""


@click.command("probe", help=HELP, short_help="Play a phone on a network: what would it get?")
@click.argument("iface", metavar="IFACE")
@click.option(
    "--mac",
    help="The phone's MAC (default: Fanvil's OUI 0c:38:3e and the last three bytes of IFACE's "
    "own MAC, the same on every run).",
)
@click.option(
    "--model",
    help="The phone's model, e.g. C62, for its Common file name (default: from the vendor "
    "class sent).",
)
@click.option(
    "--vendor-class",
    metavar="TEXT",
    help='Option 60 to send (default: "Fanvil MODEL", or "Fanvil" without --model).',
)
@click.option(
    "--no-vendor-class",
    is_flag=True,
    help="Send no option 60, like a factory phone (the server must know it by its MAC).",
)
@click.option(
    "--prl",
    metavar="LIST",
    help="Option 55, the codes asked for (default: "
    f'{",".join(map(str, DEFAULT_PRL))}, plus --custom-option); "" sends no option 55.',
)
@click.option(
    "--custom-option",
    type=click.IntRange(128, 254),
    metavar="N",
    help="The custom option code set in the phone (128-254). Default: any custom option "
    "carrying a URL counts, the lowest code first.",
)
@click.option(
    "--input",
    "input_id",
    metavar="ID",
    help="What a user would type when a URL with $input makes the phone prompt.",
)
@click.option(
    "--fetch", "do_fetch", is_flag=True, help="Download the files the phone would request."
)
@click.option("--insecure", is_flag=True, help="--fetch over HTTPS: do not check the certificate.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="--fetch over HTTPS: trust only this CA bundle (PEM) instead of the system's.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds to wait for each DHCP answer before sending again.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=2,
    show_default=True,
    help="How many times DISCOVER and REQUEST are sent again without an answer.",
)
@click.option(
    "--fetch-timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds each download step may wait (one file is abandoned after 12 times that).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, errors included.")
@click.option(
    "--show-secrets",
    is_flag=True,
    help="Print passwords in URLs as they are, not as user:****@host.",
)
@click.option(
    "--pnp",
    is_flag=True,
    help="Instead of DHCP, multicast the PnP SUBSCRIBE a phone with a static address sends "
    "(spec 2.2) and report the NOTIFY; same as `kea-fanvil pnp probe`.",
)
def probe(
    iface: str,
    mac: str | None,
    model: str | None,
    vendor_class: str | None,
    no_vendor_class: bool,
    prl: str | None,
    custom_option: int | None,
    input_id: str | None,
    do_fetch: bool,
    insecure: bool,
    ca_file: Path | None,
    timeout: float,
    retries: int,
    fetch_timeout: float,
    as_json: bool,
    show_secrets: bool,
    pnp: bool,
) -> None:
    if pnp:
        _pnp(iface, mac, model, vendor_class, timeout, as_json, show_secrets)
        return
    if vendor_class is not None and no_vendor_class:
        raise click.UsageError("--vendor-class and --no-vendor-class exclude each other")
    if (insecure or ca_file) and not do_fetch:
        raise click.UsageError("--insecure and --ca-file only go with --fetch")
    if insecure and ca_file:
        raise click.UsageError("--insecure and --ca-file exclude each other")
    if mac is not None:
        try:
            mac = normalize_mac(mac)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--mac") from None
    if not no_vendor_class and vendor_class is None:
        vendor_class = f"Fanvil {model}" if model else "Fanvil"
    settings = FetchSettings(timeout=fetch_timeout, insecure=insecure, ca_file=ca_file)
    try:
        outcome = run(
            iface,
            mac,
            vendor_class,
            model,
            _prl(prl, custom_option),
            custom_option,
            input_id,
            do_fetch,
            settings,
            timeout,
            retries,
        )
    except ProbeFailed as exc:
        _fail(exc.exit_code, str(exc), iface, mac, as_json)
    except OSError as exc:
        _fail(EXIT_FAILED, f"{iface}: {exc.strerror or exc}", iface, mac, as_json)
    if as_json:
        click.echo(json.dumps(outcome.as_dict(show_secrets), indent=2))
    else:
        print_outcome(outcome, show_secrets)
    sys.exit(outcome.exit_code)


def _pnp(
    iface: str,
    mac: str | None,
    model: str | None,
    vendor_class: str | None,
    timeout: float,
    as_json: bool,
    show_secrets: bool,
) -> None:
    """`probe --pnp`: the PnP probe with this command's phone settings."""
    ctx = click.get_current_context()
    dhcp_only = ("do_fetch", "prl", "custom_option", "no_vendor_class", "insecure", "ca_file")
    given = [
        f"--{name.replace('_', '-').removeprefix('do-')}"
        for name in dhcp_only
        if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
    ]
    if given:
        raise click.UsageError(f"{', '.join(given)} do not go with --pnp (no DHCP is involved)")
    parsed = parse_vendor_class(vendor_class.encode()) if vendor_class else None
    if mac is None:
        try:
            mac = default_mac(iface)
        except OSError:
            raise click.UsageError(f"--mac is needed: {iface} is not an interface") from None
    else:
        try:
            mac = normalize_mac(mac)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--mac") from None
    run_probe(
        iface,
        mac,
        (parsed.vendor if parsed else "") or "Fanvil",
        model or (parsed.model if parsed else "") or "C62",
        (parsed.firmware if parsed else "") or "2.4.1",
        GROUP,
        PORT,
        max(timeout, 3.0),  # a NOTIFY follows the 200 OK: give it the PnP default
        1,
        "MAC=",
        as_json,
        show_secrets,
    )


def _fail(code: int, message: str, iface: str, mac: str | None, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(
            json.dumps(
                {"interface": iface, "mac": mac, "error": message, "exit_code": code}, indent=2
            )
        )
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    sys.exit(code)
