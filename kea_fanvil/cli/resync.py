"""Which phones to tell to resync, where they are, and the report: shared by `files build
--notify` and `kea-fanvil notify` (docs/resync.md).

Files to phones: a changed MAC-oriented, ID-oriented or custom file concerns the devices of
the policy it is built for (several, for an ID-oriented file devices share); a changed Common
file concerns every phone of its model, as the policy's devices say (`model`) and as the
inventory saw them (option 60). Phones to addresses: the inventory's last address for the MAC,
nothing else; a phone it does not know, or knows without a usable address, is reported and
not sent anything.

`files build` leaves the files it wrote new or changed, with the phones they concern, in
DIR/.kea-fanvil-changes.json (kea_fanvil.files.changes), for `kea-fanvil notify --changed DIR`
to send later.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from kea_fanvil.cli.common import err, fail, out
from kea_fanvil.errors import FilesError, InventoryError, PnpError
from kea_fanvil.files import changes as changes_file
from kea_fanvil.files.build import BuildReport
from kea_fanvil.files.changes import CHANGES_NAME, Change, changes_from_report
from kea_fanvil.kea_hook.inventory import DEFAULT_DB, Phone, read_phones
from kea_fanvil.pnp.notify import (
    DEFAULT_EVENT,
    DEFAULT_RATE,
    PORT,
    T1,
    Outcome,
    Settings,
    Target,
    check_address,
    event_header,
    send_notifies,
)
from kea_fanvil.policy.files import model_key
from kea_fanvil.policy.models import Policy

__all__ = [
    "EXIT_UNCONFIRMED",
    "BuildNotifier",
    "Unsent",
    "Wanted",
    "after_build",
    "build_notify_options",
    "concerned",
    "exit_for",
    "locate",
    "notify_and_report",
    "parse_bind",
    "read_changes",
    "read_inventory",
    "sending_options",
    "settings_from",
    "write_changes",
]

EXIT_UNCONFIRMED = 3  # sent, but some phone did not answer 2xx (or could not be sent to)


@dataclass(frozen=True)
class Wanted:
    """A phone chosen for a NOTIFY, and why (file names, or the option that named it)."""

    mac: str
    why: tuple[str, ...]


# --- files to phones ----------------------------------------------------------------------------


def concerned(changes: Iterable[Change], phones: Iterable[Phone]) -> list[Wanted]:
    """The phones ``changes`` concern, by MAC: the files' devices, and the inventory's phones
    of each changed Common file's model."""
    why: dict[str, list[str]] = {}
    models: dict[str, list[str]] = {}
    for change in changes:
        for mac in change.macs:
            why.setdefault(mac, []).append(change.name)
        if change.model is not None:
            models.setdefault(change.model, []).append(change.name)
    for phone in phones:
        for name in models.get(model_key(phone.model), []) if phone.model else []:
            reasons = why.setdefault(phone.mac, [])
            if name not in reasons:
                reasons.append(name)
    return [Wanted(mac, tuple(names)) for mac, names in sorted(why.items())]


def write_changes(out_dir: Path, changes: Sequence[Change]) -> None:
    """Record the last build's changes in ``out_dir``; a failure is a warning (the files are
    built; only `notify --changed` needs this)."""
    try:
        changes_file.write_changes(out_dir, changes)
    except OSError as exc:
        err.print(
            f"warning: cannot write {out_dir / CHANGES_NAME}: {exc.strerror or exc}; "
            "`kea-fanvil notify --changed` will not know what this build changed",
            style="yellow",
            soft_wrap=True,
        )


def read_changes(out_dir: Path) -> list[Change]:
    """The changes the last `files build --out out_dir` recorded; exit 1 naming the file."""
    try:
        return changes_file.read_changes(out_dir)
    except FilesError as exc:
        fail(str(exc))


# --- phones to addresses ------------------------------------------------------------------------


def read_inventory(inventory: str) -> list[Phone]:
    try:
        return read_phones(inventory)
    except InventoryError as exc:
        fail(f"--inventory: {exc}")


@dataclass(frozen=True)
class Unsent:
    """A phone chosen but not sent anything, and why."""

    mac: str
    address: str  # as the inventory has it (cut short), "" when it has none
    reason: str
    why: tuple[str, ...]


def locate(
    wanted: Sequence[Wanted], phones: Iterable[Phone], port: int
) -> tuple[list[tuple[Target, Wanted]], list[Unsent]]:
    """Each phone at its inventory address, or why it cannot be sent to."""
    rows = {p.mac: p for p in phones}
    targets: list[tuple[Target, Wanted]] = []
    unsent: list[Unsent] = []
    for want in wanted:
        row = rows.get(want.mac)
        if row is None:
            unsent.append(Unsent(want.mac, "", "not in the inventory: no known address", want.why))
        elif not row.address:
            unsent.append(Unsent(want.mac, "", "the inventory holds no address", want.why))
        else:
            try:
                targets.append((Target(row.mac, row.address, port), want))
            except ValueError as exc:
                # The inventory is input too: a row written by hand is refused, not sent to.
                unsent.append(Unsent(want.mac, row.address[:40], f"refused: {exc}", want.why))
    return targets, unsent


# --- the command-line options and the report ----------------------------------------------------

_F = TypeVar("_F", bound=Callable[..., Any])


def sending_options(function: _F) -> _F:
    """The options of the NOTIFYs themselves, on both commands."""
    options = [
        click.option(
            "--inventory",
            metavar="DB_OR_URI",
            default=DEFAULT_DB,
            show_default=True,
            help="Where the phones' addresses come from: the Kea hook's inventory (SQLite "
            "file or PostgreSQL URI). Only addresses it holds are ever sent to.",
        ),
        click.option(
            "--event",
            default=DEFAULT_EVENT,
            show_default=True,
            help="The Event package (RFC 6665 token). Which ones Fanvil firmware acts on is "
            "not known: check-sync is what Asterisk's PJSIPNotify sends.",
        ),
        click.option(
            "--reboot/--no-reboot",
            default=False,
            show_default=True,
            help="Add ;reboot=true (or ;reboot=false) to the Event. Whether Fanvil phones "
            "honour it is not known.",
        ),
        click.option(
            "--bare-event",
            is_flag=True,
            help="Send the Event without a reboot parameter (Event: check-sync).",
        ),
        click.option(
            "--user",
            metavar="TEXT",
            help="User part of the Request-URI (sip:TEXT@address:port); $mac becomes the "
            "phone's 12 hex digits. Default: none (sip:address:port).",
        ),
        click.option(
            "--rate",
            type=float,
            default=DEFAULT_RATE,
            show_default=True,
            help="New NOTIFYs per second, at most.",
        ),
        click.option(
            "--port",
            type=click.IntRange(1, 65535),
            default=PORT,
            show_default=True,
            help="The phones' SIP port.",
        ),
        click.option(
            "--t1",
            type=float,
            default=T1,
            show_default=True,
            help="RFC 3261 T1 in seconds: first retransmission after T1, doubling to 4 s.",
        ),
        click.option(
            "--timeout",
            type=float,
            help="Give up on a phone after this many seconds (default: timer F, 64*T1).",
        ),
        click.option(
            "--bind",
            metavar="ADDRESS[:PORT]",
            default="0.0.0.0",
            show_default=True,
            help="Send from this local address (and port); answers come back to it.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def settings_from(
    event: str,
    reboot: bool,
    bare_event: bool,
    user: str | None,
    rate: float,
    t1: float,
    timeout: float | None,
) -> Settings:
    """Settings from the options, or a usage error naming the option."""
    if bare_event and reboot:
        raise click.UsageError("--bare-event sends no reboot parameter: not with --reboot")
    try:
        return Settings(event, None if bare_event else reboot, user, rate, t1, timeout=timeout)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def parse_bind(text: str) -> tuple[str, int]:
    host, _, port = text.partition(":")
    try:
        number = int(port) if port else 0
        if not 0 <= number < 65536:
            raise ValueError
        if host != "0.0.0.0":
            check_address(host)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not ADDRESS or ADDRESS:PORT (an IPv4 address of this host)",
            param_hint="--bind",
        ) from None
    return host, number


def _answer(outcome: Outcome) -> str:
    if outcome.result == "answered":
        text = f"{outcome.status} {outcome.reason}".strip()
    elif outcome.result == "timeout":
        text = "timeout (no answer)"
    else:
        text = f"error: {outcome.reason}"
    after = "" if outcome.after is None else f", {outcome.after * 1000:.0f} ms"
    return f"{text} ({outcome.sent} sent{after})"


def _outcome_json(outcome: Outcome, why: Sequence[str]) -> dict[str, Any]:
    return {
        "mac": outcome.target.mac,
        "address": outcome.target.address,
        "port": outcome.target.port,
        "result": outcome.result,
        "status": outcome.status,
        "reason": outcome.reason,
        "ok": outcome.ok,
        "sent": outcome.sent,
        "after_ms": None if outcome.after is None else round(outcome.after * 1000, 1),
        "why": list(why),
    }


def _line(mac: str, where: str, answer: str) -> None:
    out.print(f"{mac}  {where:<21}  {answer}", markup=False, soft_wrap=True)


def notify_and_report(
    wanted: Sequence[Wanted],
    phones: Iterable[Phone],
    settings: Settings,
    port: int,
    bind: str,
    as_json: bool,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Send, print one line per phone as it ends (unless ``as_json``) and a summary; return
    the report, whose ``exit`` is 0 when every phone answered 2xx, else
    :data:`EXIT_UNCONFIRMED`."""
    local = parse_bind(bind)
    targets, unsent = locate(wanted, phones, port)
    why = {t.mac: w.why for t, w in targets}
    phones_report: list[dict[str, Any]] = [
        {"mac": u.mac, "address": u.address or None, "port": None, "result": "not-sent"}
        | {"ok": False, "reason": u.reason, "why": list(u.why)}
        for u in unsent
    ]
    stray = 0
    if dry_run:
        phones_report += [
            {"mac": t.mac, "address": t.address, "port": t.port, "result": "would-send"}
            | {"ok": True, "reason": "", "why": list(w.why)}
            for t, w in targets
        ]
    else:

        def live(outcome: Outcome) -> None:
            if not as_json:
                where = f"{outcome.target.address}:{outcome.target.port}"
                _line(outcome.target.mac, where, _answer(outcome))

        try:
            outcomes, stray = send_notifies(
                [t for t, _ in targets], settings, local, on_outcome=live
            )
        except PnpError as exc:
            fail(f"--bind: {exc}")
        phones_report += [_outcome_json(o, why[o.target.mac]) for o in outcomes]
    phones_report.sort(key=lambda p: (p["mac"], p["address"] or ""))
    if not as_json:
        for entry in phones_report:
            if entry["result"] == "not-sent":
                _line(entry["mac"], entry["address"] or "-", f"not sent: {entry['reason']}")
            elif entry["result"] == "would-send":
                _line(entry["mac"], f"{entry['address']}:{entry['port']}", "would send")
    ok = sum(1 for p in phones_report if p["ok"])
    event = event_header(settings.event, settings.reboot)
    if not as_json:
        if dry_run:
            summary = f"would send {len(targets)} NOTIFY (Event: {event})"
        else:
            summary = f"sent {len(targets)} NOTIFY (Event: {event}): {ok} answered 2xx"
        if unsent:
            summary += f"; {len(unsent)} not sent (no usable address)"
        if not phones_report:
            summary = "no phone to notify"
        (out if ok == len(phones_report) else err).print(summary, markup=False, soft_wrap=True)
    return {
        "event": event,
        "dry_run": dry_run,
        "phones": phones_report,
        "stray": stray,
        "exit": 0 if ok == len(phones_report) else EXIT_UNCONFIRMED,
    }


# --- `files build --notify` ---------------------------------------------------------------------


def build_notify_options(function: _F) -> _F:
    """--notify and the sending options, for `files build`."""
    function = sending_options(function)
    return click.option(
        "--notify",
        is_flag=True,
        help="Then send a SIP NOTIFY (check-sync) to each phone whose files this build wrote "
        "new or changed, at its inventory address (docs/resync.md); exit 3 if one did not "
        "answer 2xx.",
    )(function)


@dataclass(frozen=True)
class BuildNotifier:
    """What `files build --notify` sends, checked and read before anything is built."""

    settings: Settings
    phones: list[Phone]
    port: int
    bind: str

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> BuildNotifier | None:
        """None without --notify; a usage error for a bad option; exit 1 for an inventory it
        cannot read (before the build, so nothing is written)."""
        if not options["notify"]:
            return None
        settings = settings_from(
            options["event"],
            options["reboot"],
            options["bare_event"],
            options["user"],
            options["rate"],
            options["t1"],
            options["timeout"],
        )
        parse_bind(options["bind"])
        return cls(settings, read_inventory(options["inventory"]), options["port"], options["bind"])

    def send(self, changes: Sequence[Change], as_json: bool, dry_run: bool) -> dict[str, Any]:
        wanted = concerned(changes, self.phones)
        return notify_and_report(
            wanted, self.phones, self.settings, self.port, self.bind, as_json, dry_run
        )


def after_build(report: BuildReport, policy: Policy) -> list[Change]:
    """The build's changes, recorded for `notify --changed` unless it was a dry run."""
    changes = changes_from_report(report, policy)
    if not report.dry_run:
        write_changes(report.out_dir, changes)
    return changes


def exit_for(notified: dict[str, Any] | None) -> None:
    """Exit with the NOTIFY report's status when it is not 0."""
    if notified is not None and notified["exit"]:
        sys.exit(notified["exit"])
