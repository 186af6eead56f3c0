"""The PnP probe's run and report, shared by `pnp probe` and `probe --pnp`."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from kea_fanvil.cli.common import fail, out
from kea_fanvil.errors import PnpError
from kea_fanvil.fanvil.identify import normalize_mac
from kea_fanvil.pnp.client import PnpProbeResult, Received, UriForm, pnp_probe
from kea_fanvil.redact import shown
from kea_fanvil.wire.sip import parse_message

__all__ = ["run_probe"]


def _received(got: Received, show_secrets: bool) -> dict[str, Any]:
    text = got.data.decode("utf-8", "replace")
    return {
        "from": f"{got.source[0]}:{got.source[1]}",
        "after_ms": round(got.after * 1000, 1),
        "text": shown(text, show_secrets),
    }


def _probe_json(result: PnpProbeResult, show_secrets: bool) -> dict[str, Any]:
    url = result.url
    return {
        "source": f"{result.source[0]}:{result.source[1]}",
        "status": result.status,
        "url": shown(url, show_secrets),
        "content_type": result.content_type,
        "responses": [_received(r, show_secrets) for r in result.responses],
        "notifies": [_received(n, show_secrets) for n in result.notifies],
        "others": len(result.others),
    }


def run_probe(
    source: str,
    mac: str,
    vendor: str,
    model: str,
    firmware: str,
    group: str,
    port: int,
    timeout: float,
    repeat: int,
    uri_form: UriForm,
    as_json: bool,
    show_secrets: bool,
) -> NoReturn:
    """Send the SUBSCRIBE, print what came back, and exit 0 (a NOTIFY brought a URL) or 1."""

    try:
        normalize_mac(mac)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mac") from None
    try:
        result = pnp_probe(
            source,
            mac,
            vendor,
            model,
            firmware,
            group,
            port,
            timeout,
            repeat,
            uri_form,
        )
    except (PnpError, ValueError) as exc:  # ValueError: a line end in --vendor and the like
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(_probe_json(result, show_secrets), indent=2))
        sys.exit(0 if result.url is not None else 1)
    out.print(
        f"sent SUBSCRIBE from {result.source[0]}:{result.source[1]} to {group}:{port} "
        f"({vendor} {model} {firmware}, MAC {mac}){f' x{repeat}' if repeat > 1 else ''}",
        markup=False,
        soft_wrap=True,
    )
    for got in result.responses:
        line = got.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        out.print(
            f"{line} from {got.source[0]}:{got.source[1]} after {got.after * 1000:.0f} ms",
            markup=False,
            soft_wrap=True,
        )
    for got in result.notifies:
        notify = parse_message(got.data)
        state = notify.get("subscription-state") or "-"
        out.print(
            f"NOTIFY from {got.source[0]}:{got.source[1]} after {got.after * 1000:.0f} ms: "
            f"Content-Type {notify.get('content-type') or '-'}, Subscription-State {state}",
            markup=False,
            soft_wrap=True,
        )
    if result.url is None:
        reason = "no NOTIFY" if result.responses else "no answer"
        out.print(f"{reason} within {timeout:g} s", markup=False, soft_wrap=True)
        sys.exit(1)
    out.print(f"URL: {shown(result.url, show_secrets)}", markup=False, soft_wrap=True)
    sys.exit(0)
