"""``kea-fanvil hook``: build the Kea hook library, install it, say where it is."""

from __future__ import annotations

import click

from kea_fanvil.cli.common import fail, out
from kea_fanvil.errors import HookBuildError
from kea_fanvil.kea_hook import build as hook_build

__all__ = ["hook"]


@click.group()
def hook() -> None:
    """Build and locate the Kea hook library (libdhcp_fanvil.so)."""


@hook.command("build")
@click.option("--quiet", is_flag=True, help="Print only errors.")
def hook_build_command(quiet: bool) -> None:
    """Compile the hook against the installed Kea headers (Debian's kea-dev)."""

    try:
        path = hook_build.build(quiet=quiet)
    except HookBuildError as exc:
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

    try:
        path = hook_build.install()
    except HookBuildError as exc:
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

    try:
        path = hook_build.installed_path() if installed else hook_build.library_path()
    except HookBuildError as exc:
        fail(str(exc))
    click.echo(str(path))

