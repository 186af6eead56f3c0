"""``kea-fanvil validate``, ``decide`` and ``schema``: what a policy says, and what it does."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from kea_fanvil.cli.common import (
    EPILOG,
    ask_kea,
    err,
    kea_option,
    load,
    out,
    parse_prl,
    policy_argument,
    show_secrets_option,
)
from kea_fanvil.engine import Decision, Engine, Request
from kea_fanvil.fanvil.identify import mac_bytes, normalize_mac, ouis_of_organization
from kea_fanvil.policy.dhcp_options import DhcpOptions
from kea_fanvil.policy.files import model_key
from kea_fanvil.policy.loader import locator
from kea_fanvil.policy.models import Policy, phone_option_levels, shadowed_sites, site_overlaps
from kea_fanvil.policy.secrets import credential_fields
from kea_fanvil.redact import shown
from kea_fanvil.render import defined_code
from kea_fanvil.wire.options import option_view

__all__ = ["decide", "schema", "validate"]


@click.command(epilog=EPILOG)
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
    phone = _phone_options_summary(loaded)
    if phone:
        table.add_row("phone options", phone)
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


def _phone_options_summary(policy: Policy) -> str:
    """Which levels set phone options (docs/dhcp-options.md), or "" when none does."""
    levels = phone_option_levels(policy)
    if not levels:
        return ""
    sites = sum(1 for loc, _ in levels if loc[0] == "sites")
    devices = sum(1 for loc, _ in levels if loc[0] == "devices")
    parts = []
    section = policy.dhcp_options
    if section is not None:
        default = [name for name, value in section.default if value is not None]
        parts.append(f"default: {', '.join(default) or 'none'}")
        if section.models:
            parts.append(f"models: {', '.join(section.models)}")
    parts += [f"{sites} site(s)"] if sites else []
    parts += [f"{devices} device(s)"] if devices else []
    if any(o.vlan is not None for _, o in levels):
        chosen = section or DhcpOptions()
        parts.append(
            f"VLAN in option {chosen.vlan_option} as {chosen.vlan_format} (unverified on phones)"
        )
    return "; ".join(parts)


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
    if policy.dhcp_options is not None:
        models = {model_key(d.model) for d in policy.devices if d.model}
        for name in policy.dhcp_options.models:
            if model_key(name) not in models:
                notes.append(
                    f"{locate(('dhcp_options', 'models', name))}: no device has model {name!r}: "
                    "these options reach only devices listed with it (option 60's model is "
                    "not read; docs/dhcp-options.md)"
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


@click.command(epilog=EPILOG)
@click.argument(
    "policy",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    metavar="[POLICY]",
    required=False,
)
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
@kea_option
def decide(
    policy: Path | None,
    mac: str,
    vendor_class: str | None,
    vendor_class_hex: str | None,
    prl: str | None,
    giaddr: str | None,
    yiaddr: str | None,
    as_json: bool,
    show_secrets: bool,
    kea: str | None,
) -> None:
    """Dry run: what a phone would get from POLICY. No packet is sent.

    Options are listed in the order they go on the wire (by code). An option holding a
    password shows it masked and no hex, unless --show-secrets.

    With --kea instead of POLICY, the running kea-dhcp4 answers (the hook's fanvil-decide):
    the decision it makes for such a request now, from the policy it has in force.
    """
    try:
        mac = normalize_mac(mac)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mac") from None
    if (policy is None) == (kea is None):
        raise click.UsageError("give POLICY, or --kea to ask the running server (not both)")
    if kea is not None:
        if show_secrets:
            raise click.UsageError("--show-secrets: the server never sends passwords")
        _decide_by_kea(kea, mac, vendor_class, vendor_class_hex, prl, giaddr, yiaddr, as_json)
        return
    assert policy is not None
    request = Request(
        mac=mac_bytes(mac),
        vendor_class=_vendor_class(vendor_class, vendor_class_hex),
        prl=None if prl is None else bytes(parse_prl(prl)),
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


def _decide_by_kea(
    kea: str,
    mac: str,
    vendor_class: str | None,
    vendor_class_hex: str | None,
    prl: str | None,
    giaddr: str | None,
    yiaddr: str | None,
    as_json: bool,
) -> None:
    data = _vendor_class(vendor_class, vendor_class_hex)
    arguments: dict[str, Any] = {"mac": mac}
    if data is not None:
        arguments["vendor-class-hex"] = data.hex()
    if prl is not None:
        arguments["prl"] = list(parse_prl(prl))
    for name, value in (("giaddr", giaddr), ("yiaddr", yiaddr)):
        if value is not None:
            _address(value, f"--{name}")  # checked here, with this command's wording
            arguments[name] = value
    answer = ask_kea(kea, "fanvil-decide", arguments)
    body = answer.get("arguments")
    if as_json:
        click.echo(json.dumps(body if body is not None else {"mac": mac, "matched-by": None}))
        return
    if answer["result"] == 3 or body is None:
        out.print(f"{mac}: not a Fanvil phone under the server's policy; nothing is added")
        return
    out.print(
        f"{mac}: matched by {body['matched-by']} (decided by the server's {body['decided-by']})"
    )
    site = f" (site {body['site']})" if body.get("site") else ""
    out.print(f"URL: {body['url']}{site}", markup=False)
    table = Table("code", "text", "hex")
    table.columns[2].overflow = "fold"
    for option in body.get("options", []):
        shown_hex = option["hex"] or "(holds a password)"
        table.add_row(str(option["code"]), option["text"] or "-", shown_hex)
    out.print(table)
    if body.get("file-field"):
        out.print(f"BOOTP file field: {body['file-field']}", markup=False)
    if not body.get("options"):
        out.print("nothing sent: the phone did not ask for these options and always_send is off")


@click.command()
def schema() -> None:
    """Print the policy's JSON Schema (for editors' completion and validation)."""
    click.echo(json.dumps(Policy.model_json_schema(), indent=2))
