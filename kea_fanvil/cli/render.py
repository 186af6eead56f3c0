"""``kea-fanvil render``: a policy as configuration for Kea, dnsmasq or ISC dhcpd."""

from __future__ import annotations

import importlib
import ipaddress
import json
from pathlib import Path
from typing import Any

import click

from kea_fanvil import kea_install, safe_files
from kea_fanvil.cli.common import EPILOG, err, fail, load, policy_argument, show_secrets_option
from kea_fanvil.errors import HookBuildError, KeaNotFound, RenderError, UnsafeFile
from kea_fanvil.kea_hook import build as hook_build
from kea_fanvil.kea_install import KeaVersion
from kea_fanvil.policy.secrets import credential_fields
from kea_fanvil.render import FullConfig

__all__ = ["render"]


@click.group()
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
        hint = " (-o - prints it)" if isinstance(exc, UnsafeFile) else ""
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
    except KeaNotFound as exc:
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

    load(policy)
    try:
        library = hook_build.installed_path()
    except HookBuildError as exc:
        fail(str(exc))
    entry = {"library": str(library), "parameters": {"policy": str(policy.resolve())}}
    click.echo(json.dumps(entry, indent=2))

