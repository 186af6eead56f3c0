"""``kea-fanvil devices``: the phones the Kea hook has seen, from its inventory."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.table import Column, Table
from rich.text import Text

from kea_fanvil.cli.common import EPILOG, ask_kea, fail, kea_option, out
from kea_fanvil.errors import InventoryError
from kea_fanvil.kea_hook.inventory import DEFAULT_DB, Phone, read_phones

__all__ = ["devices"]


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


def _from_kea(
    kea: str, since: float | None, model: str | None, mac: str | None, site: str | None
) -> list[Phone]:
    """The hook's fanvil-devices-get, as rows."""
    arguments: dict[str, Any] = {"limit": 100_000}
    for name, value in (("since", since), ("model", model), ("mac", mac), ("site", site)):
        if value is not None:
            arguments[name] = value
    answer = ask_kea(kea, "fanvil-devices-get", arguments)
    found = answer.get("arguments", {}).get("devices", [])
    try:
        return [Phone(**row) for row in found]
    except TypeError as exc:
        fail(f"{kea}: fanvil-devices-get answered rows this version does not read: {exc}")


WIDE_TABLE = 160  # columns a terminal needs for the devices table


def _where(phone: Phone) -> str:
    return phone.address + (f" via relay {phone.relay}" if phone.relay else "")


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


@click.command(epilog=EPILOG)
@click.option(
    "--db",
    metavar="PATH_OR_URI",
    default=DEFAULT_DB,
    show_default=True,
    help="The inventory the Kea hook writes (its `inventory` parameter): an SQLite file, or a "
    "PostgreSQL URI such as postgresql://kea@db/kea?passfile=/etc/kea/pgpass.",
)
@click.option("--since", help="Only phones seen within this long, e.g. 30m, 1h, 2d.")
@click.option("--model", help="Only this model (as option 60 names it), e.g. X4 or C62.")
@click.option("--mac", help="Only this phone (with --kea).")
@click.option("--site", help="Only phones of this site (with --kea).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
@kea_option
def devices(
    db: str,
    since: str | None,
    model: str | None,
    mac: str | None,
    site: str | None,
    as_json: bool,
    kea: str | None,
) -> None:
    """List the phones the Kea hook has seen: most recently seen first.

    One row per MAC: how it was recognised, model and firmware from option 60, the address
    offered, the URL (passwords masked) and boot file handed out, first and last seen. Safe to
    run while Kea writes. With --kea, the running server answers (fanvil-devices-get), so
    this works from another machine and needs no read access to the database file.
    """
    window = _duration(since)
    after = time.time() - window if window is not None else None
    if kea is not None:
        phones = _from_kea(kea, after, model, mac, site)
    elif mac is not None or site is not None:
        raise click.UsageError("--mac and --site filter what Kea answers: use them with --kea")
    else:
        try:
            phones = read_phones(db, after, model)
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
