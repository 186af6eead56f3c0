"""`kea-fanvil probe`: play a phone on a real interface and say what it would do.

The probe itself is :mod:`kea_fanvil.probe.run`; this module is its command line and its
printed report.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.table import Table
from rich.text import Text

from kea_fanvil.cli.common import err, out, parse_prl
from kea_fanvil.cli.pnp_probe import run_probe
from kea_fanvil.errors import (
    ProbeFailed,
)
from kea_fanvil.fanvil.identify import normalize_mac, parse_vendor_class
from kea_fanvil.fanvil.naming import KIND_LABELS
from kea_fanvil.pnp.responder import GROUP, PORT
from kea_fanvil.probe import run as probe_run
from kea_fanvil.probe.fetch import FetchSettings
from kea_fanvil.probe.run import (
    DEFAULT_PRL,
    EXIT_CODES,
    EXIT_FAILED,
    Outcome,
    default_mac,
)
from kea_fanvil.redact import shown
from kea_fanvil.wire.options import option_view

__all__ = ["EXIT_CODES", "probe"]


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
        outcome = probe_run.run(
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
