"""``kea-fanvil status`` and ``kea-fanvil reload``: the running kea-dhcp4's hook, through
Kea's control channel (the hook's fanvil-status and fanvil-policy-reload commands)."""

from __future__ import annotations

import json
from typing import Any

import click

from kea_fanvil.cli.common import EPILOG, ask_kea, out

__all__ = ["reload", "status"]

_kea_required = click.option(
    "--kea",
    "kea",
    metavar="SOCKET_OR_URL",
    required=True,
    help="kea-dhcp4's control socket (e.g. /run/kea/kea4-ctrl-socket) or an HTTP URL (Kea 3.0's "
    "own HTTP socket, or kea-ctrl-agent on 2.x).",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print Kea's whole answer.")


def _print_status(body: dict[str, Any]) -> None:
    policy = body.get("policy", {})
    out.print(f"policy: {policy.get('file')}", markup=False)
    if policy.get("loaded"):
        counts = ", ".join(f"{v} {k}" for k, v in policy.get("counts", {}).items())
        out.print(f"  {policy.get('summary')}", markup=False)
        out.print(f"  loaded {policy.get('loaded-since')}, {policy.get('fingerprint')}")
        out.print(f"  holds {counts}", markup=False)
    else:
        out.print("  not loaded")
    out.print(
        f"decisions: {body.get('decisions')}; reloads {body.get('reloads')}, failed "
        f"{body.get('reload-failures')}; watcher {body.get('watcher')}"
    )
    if body.get("last-reload-failure"):
        out.print(f"  last failure: {body['last-reload-failure']}", markup=False)
    inventory = body.get("inventory", {})
    line = f"inventory: {inventory.get('state')}"
    if "path" in inventory:
        line += f" {inventory['path']}"
    if "recorded" in inventory:
        line += f"; recorded {inventory['recorded']}, dropped {inventory['dropped']}"
    out.print(line, markup=False)
    packets = body.get("packets", {})
    if packets:
        out.print("packets: " + ", ".join(f"{k} {v}" for k, v in packets.items()))
    versions = body.get("versions", {})
    out.print(
        f"versions: kea-fanvil {versions.get('kea-fanvil')}, Kea {body.get('kea-version')}, "
        f"Python {versions.get('python')}"
    )


@click.command(epilog=EPILOG)
@_kea_required
@_json_option
def status(kea: str, as_json: bool) -> None:
    """The hook in a running kea-dhcp4: the policy in force (file, fingerprint, since when,
    what it holds), reloads and failures, the inventory, the packet counters, versions."""
    answer = ask_kea(kea, "fanvil-status")
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    _print_status(answer.get("arguments", {}))


@click.command(epilog=EPILOG)
@_kea_required
@_json_option
def reload(kea: str, as_json: bool) -> None:
    """Make the running kea-dhcp4's hook read its policy now.

    The watcher's rules: a broken file keeps the policy in force, and this exits 1 saying
    why (file:line). Phones are answered throughout.
    """
    answer = ask_kea(kea, "fanvil-policy-reload")
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    out.print(answer.get("text", ""), markup=False)
