"""The ``kea-fanvil`` command: the group, and each command group from its own module.

Exit codes: 0 success; 1 the policy (or another input) is invalid; 2 the command line is wrong.
"""

from __future__ import annotations

import click

from kea_fanvil.cli.common import EPILOG
from kea_fanvil.cli.devices import devices
from kea_fanvil.cli.files import files
from kea_fanvil.cli.hook import hook
from kea_fanvil.cli.metrics import metrics
from kea_fanvil.cli.notify import notify
from kea_fanvil.cli.pnp import pnp
from kea_fanvil.cli.policy import decide, schema, validate
from kea_fanvil.cli.probe import probe
from kea_fanvil.cli.render import render
from kea_fanvil.cli.server import reload, status
from kea_fanvil.version import __version__

__all__ = ["main"]


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
      kea-fanvil status --kea /run/kea/kea4-ctrl-socket    the hook in the running Kea
    """


# In the order `--help` lists them (click sorts by name): each module owns its commands.
for command in (
    validate,
    decide,
    schema,
    hook,
    render,
    devices,
    status,
    reload,
    metrics,
    probe,
    pnp,
    files,
    notify,
):
    main.add_command(command)
