"""``kea-fanvil notify``: tell phones to fetch their provisioning files now (SIP NOTIFY
check-sync), at the address the Kea hook's inventory last saw them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kea_fanvil.cli.common import EPILOG as COMMON_EPILOG
from kea_fanvil.cli.resync import (
    Wanted,
    concerned,
    notify_and_report,
    parse_bind,
    read_changes,
    read_inventory,
    sending_options,
    settings_from,
)
from kea_fanvil.fanvil.identify import normalize_mac
from kea_fanvil.kea_hook.inventory import Phone
from kea_fanvil.policy.files import model_key

__all__ = ["EPILOG", "notify"]

EPILOG = (
    "Docs: docs/resync.md (what phones are known, and not known, to do with it). Exit 0 when "
    "every phone answered 2xx, 3 when some did not or had no usable address, 1 when the "
    "inventory or the changes file cannot be read, 2 wrong command line. " + COMMON_EPILOG
)


def _mac(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    try:
        return [normalize_mac(v) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _wanted(
    phones: list[Phone],
    macs: list[str],
    changed: Path | None,
    model: str | None,
    site: str | None,
    everyone: bool,
) -> list[Wanted]:
    def kept(phone: Phone) -> bool:
        return (model is None or model_key(phone.model) == model_key(model)) and (
            site is None or phone.site == site
        )

    if everyone or not (macs or changed):
        return [
            Wanted(p.mac, ("inventory",)) for p in sorted(phones, key=lambda p: p.mac) if kept(p)
        ]
    why: dict[str, list[str]] = {mac: ["--mac"] for mac in macs}
    if changed is not None:
        for want in concerned(read_changes(changed), phones):
            why.setdefault(want.mac, []).extend(want.why)
    rows = {p.mac: p for p in phones}
    # A phone the inventory does not know stays: the report says it has no address.
    return [
        Wanted(mac, tuple(reasons))
        for mac, reasons in sorted(why.items())
        if mac not in rows or kept(rows[mac])
    ]


@click.command(epilog=EPILOG)
@click.option(
    "--mac",
    "macs",
    multiple=True,
    callback=_mac,
    help="This phone (repeat for more).",
)
@click.option("--model", help="Phones of this model, as option 60 named it (X4, C62).")
@click.option("--site", help="Phones of this site of the policy, as the inventory recorded it.")
@click.option("--all", "everyone", is_flag=True, help="Every phone in the inventory.")
@click.option(
    "--changed",
    metavar="DIR",
    type=click.Path(path_type=Path, file_okay=False),
    help="The phones whose files the last `files build --out DIR` wrote new or changed.",
)
@sending_options
@click.option("--dry-run", is_flag=True, help="List the phones and addresses; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def notify(
    macs: list[str],
    model: str | None,
    site: str | None,
    everyone: bool,
    changed: Path | None,
    inventory: str,
    event: str,
    reboot: bool,
    bare_event: bool,
    user: str | None,
    rate: float,
    port: int,
    t1: float,
    timeout: float | None,
    bind: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Tell phones to fetch their provisioning files now: a SIP NOTIFY with Event:
    check-sync, sent to each phone at the address the inventory last saw it.

    \b
    Choose the phones with --mac (repeatable), --changed DIR (what the last build of DIR
    changed), or --all; --model and --site narrow them down (alone, they choose every phone
    of the inventory that matches). Phones the inventory has no address for are listed, not
    skipped. Each NOTIFY is retransmitted as RFC 3261 says (after T1, doubling to 4 s) until
    the phone answers or 64*T1 (32 s) pass; --rate new ones per second at most. One line per
    phone: MAC, address, answer.

    \b
      kea-fanvil notify --mac 0c:38:3e:11:3a:f8
      kea-fanvil notify --changed /srv/fanvil --inventory /var/lib/kea/kea-fanvil-inventory.sqlite3
      kea-fanvil notify --model C62 --site branch --dry-run
      kea-fanvil notify --all --rate 5 --bare-event --json

    Not verified with a real Fanvil phone: the event text, the reboot parameter and whether
    the phone wants the NOTIFY authenticated are unknown (docs/resync.md).
    """
    if everyone and (macs or changed or model or site):
        raise click.UsageError(
            "--all means every phone: not with --mac, --changed, --model, --site"
        )
    if not (everyone or macs or changed or model or site):
        raise click.UsageError("say which phones: --mac, --changed DIR, --model, --site or --all")
    settings = settings_from(event, reboot, bare_event, user, rate, t1, timeout)
    parse_bind(bind)
    phones = read_inventory(inventory)
    wanted = _wanted(phones, macs, changed, model, site, everyone)
    report = notify_and_report(wanted, phones, settings, port, bind, as_json, dry_run)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    sys.exit(report["exit"])
