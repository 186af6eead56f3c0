"""The ``kea-fanvil`` command: thin commands over the library.

Exit codes: 0 success; 1 the policy (or another input) is invalid; 2 the command line is wrong.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Column, Table
from rich.text import Text

from kea_fanvil import __version__, kea_install, safe_files
from kea_fanvil.cli.common import err, fail, load, out
from kea_fanvil.engine import Decision, Engine, Request
from kea_fanvil.errors import KeaFanvilError, RenderError
from kea_fanvil.fanvil.identify import mac_bytes, normalize_mac, ouis_of_organization
from kea_fanvil.kea_hook.inventory import DEFAULT_DB, InventoryError, Phone, read_phones
from kea_fanvil.kea_install import KeaVersion
from kea_fanvil.policy.loader import locator
from kea_fanvil.policy.models import Policy, shadowed_sites, site_overlaps
from kea_fanvil.probe.interpret import option_view
from kea_fanvil.redact import credential_fields, shown
from kea_fanvil.render import FullConfig, defined_code

EPILOG = "Docs: README.md (policy and CLI reference). Policy errors exit 1, usage errors 2."


policy_argument = click.argument(
    "policy", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), metavar="POLICY"
)
show_secrets_option = click.option(
    "--show-secrets",
    is_flag=True,
    help="Print passwords in URLs (user:password@host) as they are, not as user:****@host.",
)


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kea-fanvil")
def main() -> None:
    """Steer Fanvil IP phones to their provisioning server from one validated policy.

    \b
    Typical flow:
      kea-fanvil validate policy.yaml           check the file, see what it does
      kea-fanvil decide policy.yaml --mac 0c:38:3e:11:3a:f8 --vendor-class "Fanvil X4"
      kea-fanvil hook build                     build the Kea hook against the installed Kea
      kea-fanvil render kea-hook policy.yaml    the hooks-libraries entry for kea-dhcp4.conf
    """


@main.command(epilog=EPILOG)
@policy_argument
@show_secrets_option
def validate(policy: Path, show_secrets: bool) -> None:
    """Check POLICY and print a one-screen summary of what it does.

    Every problem is reported as FILE:LINE:COLUMN: FIELD: MESSAGE, and the command exits 1.
    A policy file that every user can read and that holds passwords gets a warning.
    """
    loaded = load(policy)
    engine = Engine(loaded)
    d = loaded.delivery
    carriers = []
    if d.custom_option:
        carriers.append(f"option {d.custom_option}")
    if d.option_66:
        carriers.append("option 66")
    if d.option_43 == "string":
        carriers.append("option 43 (bare string)")
    elif d.option_43 != "off":
        carriers.append(f"option 43 sub-option {d.option_43}")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("policy", str(policy))
    table.add_row("default URL", shown(loaded.provisioning.url, show_secrets))
    table.add_row("delivered in", ", ".join(carriers))
    table.add_row("always send", "yes" if d.always_send else "only when asked (option 55)")
    table.add_row(
        "vendor class", ", ".join(repr(p) for p in loaded.match.vendor_class_prefixes) or "-"
    )
    prefixes = ", ".join(engine.mac_prefixes[:6])
    prefixes += " ..." if len(engine.mac_prefixes) > 6 else ""
    table.add_row("MAC prefixes", f"{len(engine.mac_prefixes)}: {prefixes}")
    table.add_row("sites", str(len(loaded.sites)))
    with_boot = sum(1 for dev in loaded.devices if dev.boot_file)
    with_url = sum(1 for dev in loaded.devices if dev.url)
    table.add_row(
        "devices", f"{len(loaded.devices)} ({with_url} with own URL, {with_boot} with boot file)"
    )
    secret = credential_fields(loaded)
    if secret:
        table.add_row("passwords", f"in {len(secret)} URLs" + ("" if show_secrets else " (masked)"))
    out.print(table)
    if loaded.sites:
        sites = Table("site", "subnets", "URL", "boot file", title="sites (first match wins)")
        for s in loaded.sites:
            sites.add_row(
                s.name,
                ", ".join(map(str, s.subnets)),
                shown(s.url, show_secrets) if s.url else "(default)",
                s.boot_file or "-",
            )
        out.print(sites)
    for note in _notes(policy, loaded):
        err.print(f"note: {note}", soft_wrap=True)
    out.print("valid", style="green")


MANY_OUIS = 50  # an organization matching more is rarely one phone maker (one: Fanvil)


def _notes(path: Path, policy: Policy) -> list[str]:
    """What is valid but likely not meant, each with its place in the file."""
    notes = []
    locate = locator(path)
    shadowed = dict(shadowed_sites(policy))
    for i, earlier in shadowed.items():
        notes.append(
            f"{locate(('sites', i, 'name'))}: site {policy.sites[i].name!r} never matches: "
            f"{', '.join(map(repr, earlier))} hold{'s' if len(earlier) == 1 else ''} all of its "
            "addresses and the first matching site wins"
        )
    index = {s.name: i for i, s in enumerate(policy.sites)}
    for first, later in site_overlaps(policy):
        j = index[later]
        if j not in shadowed and index[first] not in shadowed:
            notes.append(
                f"{locate(('sites', j, 'subnet'))}: sites {first!r} and {later!r} overlap; "
                f"{first!r} wins for the addresses they share"
            )
    code = policy.delivery.custom_option
    for server in ("kea", "dnsmasq"):
        found = defined_code(server, code) if code is not None else None
        if found is not None:
            shown = "Kea" if server == "kea" else server
            notes.append(
                f"{locate(('delivery', 'custom_option'))}: {shown} defines option {code} as "
                f"{found.name}: `render {server}` refuses it (the Kea hook sends it)"
            )
    for i, name in enumerate(policy.match.oui_organizations):
        count = len(ouis_of_organization(name))
        if count == 0 or count > MANY_OUIS:
            where = locate(("match", "oui_organizations", i))
            what = "no OUI" if count == 0 else f"{count} OUIs (is it too general?)"
            notes.append(f"{where}: {name!r} matches {what} in the IEEE registry")
    return notes


def _address(value: str | None, name: str) -> bytes:
    if value is None:
        return b"\0\0\0\0"
    try:
        return ipaddress.IPv4Address(value).packed
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IPv4 address", param_hint=name) from None


def _prl(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        codes = [int(c) for c in value.replace(" ", "").split(",") if c]
        return bytes(codes)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a list of option codes 0..255 such as 1,3,6,43,66",
            param_hint="--prl",
        ) from None


def decision_json(mac: str, decision: Decision, show_secrets: bool = False) -> dict[str, Any]:
    options = []
    for code, data in decision.options:
        view = option_view(code, data, show_secrets)
        options.append({"code": code, "hex": view.hex, "text": view.text, "masked": view.masked})
    return {
        "mac": mac,
        "matched_by": decision.matched_by,
        "model": decision.model or None,
        "firmware": decision.firmware or None,
        "url": shown(decision.url, show_secrets),
        "site": decision.site,
        "options": options,
        "boot_file": decision.boot_file,
    }


def _vendor_class(text: str | None, hex_text: str | None) -> bytes | None:
    """Option 60's bytes: --vendor-class as typed (the shell's bytes, even when they are not
    UTF-8: Python hands them over as surrogate escapes), or --vendor-class-hex."""
    if text is not None and hex_text is not None:
        raise click.UsageError("give --vendor-class or --vendor-class-hex, not both")
    if hex_text is not None:
        try:
            data = bytes.fromhex(hex_text.replace(":", " "))
        except ValueError:
            raise click.BadParameter(
                f"{hex_text!r} is not hex bytes such as 46616e76696c",
                param_hint="--vendor-class-hex",
            ) from None
    elif text is not None:
        data = os.fsencode(text)
    else:
        return None
    if len(data) > 255:
        raise click.BadParameter(
            f"option 60 holds at most 255 bytes, not {len(data)}", param_hint="--vendor-class"
        )
    return data


@main.command(epilog=EPILOG)
@policy_argument
@click.option("--mac", required=True, help="The phone's MAC, e.g. 0c:38:3e:11:3a:f8.")
@click.option(
    "--vendor-class",
    help='Option 60 as the phone sends it, e.g. "Fanvil X4 2.10.2" (the bytes as typed).',
)
@click.option(
    "--vendor-class-hex",
    metavar="HEX",
    help="Option 60 as raw bytes in hex, e.g. 46616e76696c20583400ff (for data that is not text).",
)
@click.option("--prl", help="Option 55: the codes the phone asks for, e.g. 1,3,6,43,66.")
@click.option("--giaddr", help="Relay agent address, for a relayed request.")
@click.option("--yiaddr", help="The address the server offers.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@show_secrets_option
def decide(
    policy: Path,
    mac: str,
    vendor_class: str | None,
    vendor_class_hex: str | None,
    prl: str | None,
    giaddr: str | None,
    yiaddr: str | None,
    as_json: bool,
    show_secrets: bool,
) -> None:
    """Dry run: what a phone would get from POLICY. No packet is sent.

    Options are listed in the order they go on the wire (by code). An option holding a
    password shows it masked and no hex, unless --show-secrets.
    """
    try:
        mac = normalize_mac(mac)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mac") from None
    request = Request(
        mac=mac_bytes(mac),
        vendor_class=_vendor_class(vendor_class, vendor_class_hex),
        prl=_prl(prl),
        giaddr=_address(giaddr, "--giaddr"),
        yiaddr=_address(yiaddr, "--yiaddr"),
    )
    decision = Engine(load(policy)).decide(request)
    if as_json:
        click.echo(json.dumps(decision_json(mac, decision, show_secrets), indent=2))
        return
    if decision.matched_by is None:
        out.print(f"{mac}: not a Fanvil phone under this policy; nothing is added")
        return
    vendor = f", model {decision.model}" if decision.model else ""
    vendor += f", firmware {decision.firmware}" if decision.firmware else ""
    out.print(f"{mac}: matched by {decision.matched_by}{vendor}", markup=False)
    url = shown(decision.url or "", show_secrets)
    out.print(f"URL: {url}" + (f" (site {decision.site})" if decision.site else ""), markup=False)
    table = Table("code", "text", "hex")
    table.columns[2].overflow = "fold"
    for code, data in decision.options:
        view = option_view(code, data, show_secrets)
        table.add_row(str(code), view.text or "-", view.hex or "(holds a password: --show-secrets)")
    out.print(table)
    if decision.boot_file:
        out.print(f"BOOTP file field: {decision.boot_file}", markup=False)
    if not decision.options:
        out.print("nothing sent: the phone did not ask for these options and always_send is off")


@main.command()
def schema() -> None:
    """Print the policy's JSON Schema (for editors' completion and validation)."""
    click.echo(json.dumps(Policy.model_json_schema(), indent=2))


@main.group()
def hook() -> None:
    """Build and locate the Kea hook library (libdhcp_fanvil.so)."""


@hook.command("build")
@click.option("--quiet", is_flag=True, help="Print only errors.")
def hook_build_command(quiet: bool) -> None:
    """Compile the hook against the installed Kea headers (Debian's kea-dev)."""
    from kea_fanvil.kea_hook import build as hook_build

    try:
        path = hook_build.build(quiet=quiet)
    except hook_build.HookBuildError as exc:
        fail(str(exc))
    if not quiet:
        out.print(f"built {path}", markup=False)


@hook.command("install")
@click.option("--quiet", is_flag=True, help="Print only errors.")
def hook_install_command(quiet: bool) -> None:
    """Copy the built hook into the installed Kea's hooks directory (as root).

    The directory is the one `kea-dhcp4 -W` names (Debian:
    /usr/lib/x86_64-linux-gnu/kea/hooks); Kea 2.6.3 and later load hooks from there only. The
    file is replaced atomically (a running Kea keeps its copy until it reloads), root-owned,
    mode 0644. Kea refuses a hook built for another version: after every Kea upgrade run
    `kea-fanvil hook build` and `kea-fanvil hook install` again.
    """
    from kea_fanvil.kea_hook import build as hook_build

    try:
        path = hook_build.install()
    except hook_build.HookBuildError as exc:
        fail(str(exc))
    if not quiet:
        out.print(f"installed {path}", markup=False)


@hook.command("path")
@click.option(
    "--installed",
    is_flag=True,
    help="The copy in Kea's hooks directory (exit 1 if absent or not the current build).",
)
def hook_path_command(installed: bool) -> None:
    """Print the built hook library's path (exit 1 if it is not built)."""
    from kea_fanvil.kea_hook import build as hook_build

    try:
        path = hook_build.installed_path() if installed else hook_build.library_path()
    except hook_build.HookBuildError as exc:
        fail(str(exc))
    click.echo(str(path))


@main.group()
def render() -> None:
    """Turn a policy into configuration for a DHCP server."""


def _full_config(
    full: bool, interface: str | None, subnet: str | None, pool: str | None, state_dir: str | None
) -> FullConfig | None:
    if not full:
        for name, value in (("--interface", interface), ("--subnet", subnet), ("--pool", pool)):
            if value is not None:
                raise click.UsageError(f"{name} only goes with --full")
        return None
    missing = [
        n
        for n, v in (("--interface", interface), ("--subnet", subnet), ("--pool", pool))
        if v is None
    ]
    if missing:
        raise click.UsageError(f"--full needs {', '.join(missing)}")
    assert interface is not None and subnet is not None and pool is not None
    try:
        network = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--subnet") from None
    try:
        first, last = (ipaddress.IPv4Address(p.strip()) for p in pool.split("-", 1))
    except ValueError:
        raise click.BadParameter(
            f"{pool!r} is not a range such as 198.18.0.100-198.18.0.199", param_hint="--pool"
        ) from None
    if first not in network or last not in network or first > last:
        raise click.BadParameter(
            f"{pool} is not an ascending range inside {network}", param_hint="--pool"
        )
    try:
        return FullConfig(interface, network, (first, last), state_dir)
    except ValueError as exc:
        hint = "--interface" if str(exc).startswith("interface") else "--state-dir"
        raise click.BadParameter(str(exc), param_hint=hint) from None


output_option = click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of printing ('-': print). Replaced atomically; a symlink "
    "is followed to its file; an existing file keeps its owner and group (and loses the "
    "rights of 'other' when it holds passwords); a new one is 0644, 0600 with passwords.",
)


def _emit(text: str, output: Path | None, show_secrets: bool, secret_fields: list[str]) -> None:
    """Print or write a rendered configuration, which must hold passwords as they are."""
    if output is not None and str(output) == "-":
        output = None
    if output is None:
        if secret_fields and not show_secrets:
            # Masking would hand the server a URL the phones cannot log in with.
            fail(
                f"the policy holds passwords ({', '.join(secret_fields[:3])}); the "
                "configuration needs them as they are: write it with -o FILE (mode 0600), "
                "or pass --show-secrets to print it"
            )
        click.echo(text, nl=False)
        return
    try:
        written = safe_files.write_atomic(output, text.encode("utf-8"), secret=bool(secret_fields))
    except OSError as exc:
        hint = " (-o - prints it)" if isinstance(exc, safe_files.UnsafeFile) else ""
        fail(f"cannot write {output}: {exc.strerror or exc}{hint}")
    through = f" (through {output})" if written != output.resolve() else ""
    err.print(f"wrote {written}{through}")


def _target_kea_version(given: str | None) -> KeaVersion:
    """--kea-version, or the installed Kea's version."""
    if given is not None:
        try:
            return kea_install.parse_version(given)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--kea-version") from None
    try:
        return kea_install.installed().version
    except kea_install.KeaNotFound as exc:
        raise click.UsageError(
            f"{exc}; say which Kea the configuration is for with --kea-version (e.g. 2.6)"
        ) from None


def _render_command(target: str, what: str) -> None:
    summary = (
        f"Print POLICY as {what}.\n\nBy default a fragment to merge into an existing "
        "configuration; with --full a complete one. Output is deterministic, so it can be "
        "kept in version control. What the target cannot express is an error naming the "
        "policy entry."
    )

    @render.command(target, epilog=EPILOG, help=summary, short_help=f"Print POLICY as {what}.")
    @policy_argument
    @click.option("--full", is_flag=True, help="A complete configuration that runs as is.")
    @click.option("--interface", help="With --full: the interface to serve.")
    @click.option("--subnet", help="With --full: the subnet, e.g. 198.18.0.0/24.")
    @click.option("--pool", help="With --full: the address range, e.g. 198.18.0.100-198.18.0.199.")
    @click.option("--state-dir", help="With --full: where the server keeps leases and sockets.")
    @click.option(
        "--sites-by-relay",
        is_flag=True,
        hidden=target != "kea",
        help="Kea only: match sites by relay address alone (Kea's classes cannot see the "
        "offered address; direct clients on a site's subnet get the default URL).",
    )
    @click.option(
        "--kea-version",
        metavar="X.Y[.Z]",
        hidden=target != "kea",
        help="Kea only: the Kea the configuration is for, e.g. 2.2, 2.6.3 or 3.0 (default: "
        "the installed kea-dhcp4's). 2.6 and later get lcase() tests; 2.6.3 and later only "
        "Kea's own folders; 3.0 its control-sockets list.",
    )
    @output_option
    @show_secrets_option
    def command(
        policy: Path,
        full: bool,
        interface: str | None,
        subnet: str | None,
        pool: str | None,
        state_dir: str | None,
        sites_by_relay: bool,
        kea_version: str | None,
        output: Path | None,
        show_secrets: bool,
    ) -> None:
        if sites_by_relay and target != "kea":
            raise click.UsageError("--sites-by-relay is for `render kea` only")
        if kea_version is not None and target != "kea":
            raise click.UsageError("--kea-version is for `render kea` only")
        import importlib

        module = importlib.import_module(f"kea_fanvil.render.{target}")
        config = _full_config(full, interface, subnet, pool, state_dir)
        loaded = load(policy)
        extra: dict[str, Any] = {"sites_by_relay": True} if sites_by_relay else {}
        if target == "kea":
            extra["kea_version"] = _target_kea_version(kea_version)
        try:
            text: str = module.render(loaded, config, **extra)
        except RenderError as exc:
            fail(str(exc))
        _emit(text, output, show_secrets, credential_fields(loaded))


_render_command("kea", "Kea Dhcp4 client classes (no hook needed)")
_render_command("dnsmasq", "dnsmasq configuration")
_render_command("dhcpd", "ISC dhcpd configuration")


@render.command("kea-hook")
@policy_argument
def render_kea_hook(policy: Path) -> None:
    """Print the hooks-libraries entry that loads POLICY into kea-dhcp4.

    Paste it into the "hooks-libraries" list of the Dhcp4 section. The library is the copy
    `kea-fanvil hook install` put in Kea's hooks directory, the only place Kea 2.6.3 and later
    load hooks from.
    """
    from kea_fanvil.kea_hook import build as hook_build

    load(policy)
    try:
        library = hook_build.installed_path()
    except hook_build.HookBuildError as exc:
        fail(str(exc))
    entry = {"library": str(library), "parameters": {"policy": str(policy.resolve())}}
    click.echo(json.dumps(entry, indent=2))


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(value: str | None) -> float | None:
    if value is None:
        return None
    text = value.strip().lower()
    try:
        number, unit = (float(text[:-1]), text[-1]) if text[-1:].isalpha() else (float(text), "s")
        seconds = number * _DURATION_UNITS[unit]
    except (KeyError, ValueError):
        raise click.BadParameter(
            f"{value!r} is not a duration such as 90s, 30m, 1h, 2d or 1w", param_hint="--since"
        ) from None
    if seconds < 0:
        raise click.BadParameter("a duration cannot be negative", param_hint="--since")
    return seconds


WIDE_TABLE = 160  # columns a terminal needs for the devices table


def _where(phone: Phone) -> str:
    return phone.address + (f" via relay {phone.relay}" if phone.relay else "")


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


@main.command(epilog=EPILOG)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_DB,
    show_default=True,
    help="The inventory the Kea hook writes (its `inventory` parameter).",
)
@click.option("--since", help="Only phones seen within this long, e.g. 30m, 1h, 2d.")
@click.option("--model", help="Only this model (as option 60 names it), e.g. X4 or C62.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def devices(db: Path, since: str | None, model: str | None, as_json: bool) -> None:
    """List the phones the Kea hook has seen: most recently seen first.

    One row per MAC: how it was recognised, model and firmware from option 60, the address
    offered, the URL (passwords masked) and boot file handed out, first and last seen. Safe to
    run while Kea writes.
    """
    window = _duration(since)
    try:
        phones = read_phones(db, time.time() - window if window is not None else None, model)
    except InventoryError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in phones], indent=2))
        return
    if not phones:
        out.print("no phones seen" + (" matching the filters" if since or model else ""))
        return
    if out.width >= WIDE_TABLE:
        table = Table(
            "MAC",
            "matched by",
            "model",
            "firmware",
            "address",
            Column("URL", overflow="fold"),  # folded, never cut: the URL is the point
            "boot file",
            "first seen",
            "last seen",
            "seen",
        )
        for p in phones:
            table.add_row(
                p.mac,
                p.matched_by,
                p.model or "-",
                p.firmware or "-",
                _where(p),
                p.url + (f" (site {p.site})" if p.site else ""),
                p.boot_file or "-",
                _when(p.first_seen),
                _when(p.last_seen),
                str(p.times_seen),
            )
        out.print(table)
    else:
        # Ten columns wrapped into 80 are unreadable: one block per phone instead.
        for p in phones:
            vendor = " ".join(filter(None, (p.model, p.firmware))) or "no model in option 60"
            out.print(Text.assemble((p.mac, "bold"), f"  {vendor}  (matched by {p.matched_by})"))
            block = Table.grid(padding=(0, 2))
            block.add_row("  address", _where(p))
            block.add_row("  URL", p.url + (f" (site {p.site})" if p.site else ""))
            block.add_row("  boot file", p.boot_file or "-")
            block.add_row(
                "  seen",
                f"{p.times_seen} time{'s' if p.times_seen != 1 else ''}, "
                f"first {_when(p.first_seen)}, last {_when(p.last_seen)}",
            )
            out.print(block)
    out.print(f"{len(phones)} phone{'s' if len(phones) != 1 else ''}", markup=False)


def run() -> None:  # pragma: no cover - for `python -m kea_fanvil`
    try:
        main()
    except KeaFanvilError as exc:
        fail(str(exc))


# `probe` plays a phone on the wire rather than reading a policy; it lives in its own module.
from kea_fanvil.cli.probe import probe  # noqa: E402

main.add_command(probe)

# `pnp` answers phones with static addresses over SIP (spec 2.2); its own module too.
from kea_fanvil.cli.pnp import pnp  # noqa: E402

main.add_command(pnp)

# `files` writes the provisioning files the phones download; its own module too.
from kea_fanvil.cli.files import files  # noqa: E402

main.add_command(files)
