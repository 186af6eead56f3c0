"""The hook's control commands, answered in Kea's format.

Kea hands a command sent to its control channel (the unix socket, Kea 3.0's HTTP socket, or
kea-ctrl-agent on 2.x) to the library that registered it; the C++ side (fanvil_callouts.cc)
passes the name and the arguments as JSON to :func:`kea_fanvil.kea_hook.entry.command`, which
answers through the functions here. An answer is ``(result, text, arguments)`` with Kea's
result codes (``kea-shell`` and Stork read them): 0 success, 1 error (``text`` says why), 3
empty (success, nothing to return).

- ``fanvil-status``: the policy in force (file, fingerprint, since when, counts), reloads and
  their failures, the inventory's state and counters, versions.
- ``fanvil-decide``: what the running server would send a phone (``mac``, optional
  ``vendor-class`` or ``vendor-class-hex``, ``prl``, ``giaddr``, ``yiaddr``), decided the way
  the packet path decides (the C++ table, or the engine on the Python path); passwords masked.
- ``fanvil-policy-reload``: read the policy now, under the file watcher's rules.
- ``fanvil-devices-get``: the phones seen, from the inventory (``mac``, ``model``, ``site``,
  ``since``, ``limit``).

Every argument is checked: a command never raises, and bad input is result 1 naming the
argument.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kea_fanvil.errors import InventoryError
from kea_fanvil.fanvil.identify import mac_bytes, normalize_mac
from kea_fanvil.kea_hook.inventory import read_phones
from kea_fanvil.kea_hook.inventory_pg import shown_uri
from kea_fanvil.wire.options import MAX_OPTION_DATA, option_view, parse_codes

__all__ = [
    "COMMANDS",
    "DEVICES_LIMIT",
    "EMPTY",
    "ERROR",
    "SUCCESS",
    "Answer",
    "BadArguments",
    "DecideRequest",
    "Decided",
    "decide_answer",
    "devices_answer",
    "parse_decide",
]

SUCCESS, ERROR, EMPTY = 0, 1, 3  # Kea's CONTROL_RESULT_* (cc/command_interpreter.h)
COMMANDS = ("fanvil-status", "fanvil-decide", "fanvil-policy-reload", "fanvil-devices-get")
DEVICES_LIMIT = 1000  # fanvil-devices-get's default; "limit" may ask for up to 100,000
_DEVICES_MAX = 100_000

Answer = tuple[int, str, dict[str, Any] | None]


class BadArguments(ValueError):
    """A command's arguments are not what it takes; the text names the argument."""


@dataclass(frozen=True)
class DecideRequest:
    mac: str  # normalised, 0c:38:3e:11:3a:f8
    vendor_class: bytes | None
    prl: bytes | None
    giaddr: int
    yiaddr: int


@dataclass(frozen=True)
class Decided:
    """A decision as the packet path made it, with its names (URL already masked)."""

    matched_by: str
    url: str
    site: str | None
    boot_file: str | None
    options: tuple[tuple[int, bytes], ...]
    file_field: bytes | None
    decided_by: str  # "table" (C++) or "python"


def _only(arguments: Mapping[str, Any], known: tuple[str, ...], command: str) -> None:
    unknown = sorted(set(arguments) - set(known))
    if unknown:
        raise BadArguments(
            f"{command}: unknown argument {unknown[0]!r} (it takes: {', '.join(known)})"
        )


def _text(arguments: Mapping[str, Any], name: str) -> str | None:
    value = arguments.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadArguments(f"'{name}' must be a string")
    return value


def _address(arguments: Mapping[str, Any], name: str) -> int:
    text = _text(arguments, name)
    if text is None:
        return 0
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        raise BadArguments(f"'{name}': {text!r} is not an IPv4 address") from None


def parse_decide(arguments: Mapping[str, Any]) -> DecideRequest:
    """fanvil-decide's arguments; BadArguments naming the first one that is wrong."""
    known = ("mac", "vendor-class", "vendor-class-hex", "prl", "giaddr", "yiaddr")
    _only(arguments, known, "fanvil-decide")
    mac = _text(arguments, "mac")
    if mac is None:
        raise BadArguments("'mac' is required, e.g. \"0c:38:3e:11:3a:f8\"")
    try:
        mac = normalize_mac(mac)
    except ValueError as exc:
        raise BadArguments(f"'mac': {exc}") from None
    text = _text(arguments, "vendor-class")
    hex_text = _text(arguments, "vendor-class-hex")
    if text is not None and hex_text is not None:
        raise BadArguments("give 'vendor-class' or 'vendor-class-hex', not both")
    vendor: bytes | None = None
    if text is not None:
        vendor = text.encode("utf-8", "surrogateescape")
    elif hex_text is not None:
        try:
            vendor = bytes.fromhex(hex_text.replace(":", " "))
        except ValueError:
            raise BadArguments(
                f"'vendor-class-hex': {hex_text!r} is not hex bytes such as 46616e76696c"
            ) from None
    if vendor is not None and len(vendor) > MAX_OPTION_DATA:
        raise BadArguments(f"option 60 holds at most 255 bytes, not {len(vendor)}")
    prl_value = arguments.get("prl")
    prl: bytes | None
    if prl_value is None:
        prl = None
    elif isinstance(prl_value, str):
        try:
            prl = bytes(parse_codes(prl_value))
        except ValueError as exc:
            raise BadArguments(f"'prl': {exc}") from None
    elif isinstance(prl_value, list) and all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in prl_value
    ):
        prl = bytes(prl_value)
    else:
        raise BadArguments("'prl' must be option codes 0..255: [1, 3, 66] or \"1,3,66\"")
    return DecideRequest(
        mac, vendor, prl, _address(arguments, "giaddr"), _address(arguments, "yiaddr")
    )


def decide_answer(
    arguments: Mapping[str, Any], decide: Callable[[DecideRequest], Decided | None]
) -> Answer:
    try:
        request = parse_decide(arguments)
    except BadArguments as exc:
        return ERROR, str(exc), None
    decided = decide(request)
    if decided is None:
        return (
            EMPTY,
            f"{request.mac}: not a Fanvil phone under the policy in force; Kea's answer is "
            "left as Kea builds it",
            None,
        )
    options = []
    for code, data in decided.options:
        view = option_view(code, data, show_secrets=False)
        options.append({"code": code, "text": view.text, "hex": view.hex, "masked": view.masked})
    file_field = decided.file_field
    body = {
        "mac": request.mac,
        "matched-by": decided.matched_by,
        "url": decided.url,
        "site": decided.site,
        "boot-file": decided.boot_file,
        "options": options,
        "file-field": option_view(0, file_field, False).text if file_field else None,
        "decided-by": decided.decided_by,
    }
    site = f", site {decided.site}" if decided.site else ""
    sent = ", ".join(str(code) for code, _ in decided.options) or "none (not asked for)"
    return (
        SUCCESS,
        f"{request.mac}: matched by {decided.matched_by}{site}; URL {decided.url}; "
        f"options sent: {sent}",
        body,
    )


def _since(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise BadArguments("'since' must be a Unix time in seconds, e.g. 1764547200")


def devices_answer(arguments: Mapping[str, Any], inventory: str | None) -> Answer:
    """fanvil-devices-get: the inventory's rows, newest first, filtered."""
    known = ("mac", "model", "site", "since", "limit")
    try:
        _only(arguments, known, "fanvil-devices-get")
        mac = _text(arguments, "mac")
        if mac is not None:
            try:
                mac = mac_bytes(normalize_mac(mac)).hex(":")
            except ValueError as exc:
                raise BadArguments(f"'mac': {exc}") from None
        model = _text(arguments, "model")
        site = _text(arguments, "site")
        since = _since(arguments.get("since"))
        limit = arguments.get("limit", DEVICES_LIMIT)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _DEVICES_MAX:
            raise BadArguments(f"'limit' must be a whole number from 1 to {_DEVICES_MAX:,}")
    except BadArguments as exc:
        return ERROR, str(exc), None
    if inventory is None:
        return ERROR, 'the inventory is off (the hook\'s "inventory" parameter is "")', None
    try:
        phones = read_phones(inventory, since=since, model=model)
    except InventoryError as exc:
        if "the hook creates it on first use" in str(exc):
            return EMPTY, f"{shown_uri(inventory)}: no phone recorded yet", None
        return ERROR, shown_uri(str(exc)), None
    matching = [
        p
        for p in phones
        if (mac is None or p.mac == mac) and (site is None or p.site.lower() == site.lower())
    ]
    if not matching:
        return EMPTY, "no phone in the inventory matches", {"devices": [], "count": 0}
    shown = matching[:limit]
    more = f" (the first {limit}; 'limit' shows more)" if len(matching) > limit else ""
    return (
        SUCCESS,
        f"{len(matching)} phone(s){more}",
        {"devices": [p.as_dict() for p in shown], "count": len(shown), "total": len(matching)},
    )
