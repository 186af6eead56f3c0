"""What every `kea-fanvil` command module shares: the consoles, the error exit, the policy
loader that prints every problem, and the arguments several commands take. The command modules
import this and never each other; cli.app puts them together.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.text import Text

from kea_fanvil import kea_control
from kea_fanvil.errors import ControlError, PolicyError
from kea_fanvil.policy.loader import load_policy, parse_policy
from kea_fanvil.policy.models import Policy
from kea_fanvil.policy.secrets import exposure_warnings
from kea_fanvil.wire.options import parse_codes

__all__ = [
    "EPILOG",
    "ask_kea",
    "err",
    "fail",
    "kea_option",
    "load",
    "out",
    "parse_prl",
    "policy_argument",
    "show_secrets_option",
]

# No markup and no emoji codes, in tables too: what is printed carries policy text, URLs and
# packet contents, in which `[b]x[/b]` or `:smile:` must stay as written. Styles are set
# through Text and style=, never through markup.
out = Console(highlight=False, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, markup=False, emoji=False)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    sys.exit(code)


def load(path: Path, check_files: bool = False) -> Policy:
    """The policy, or every problem printed as FILE:LINE:COL: FIELD: MESSAGE and exit 1.

    ``check_files``: also what building provisioning files needs (`files build`). A file that
    every user can read and that holds passwords gets a warning. ``-`` reads standard input
    (a devices_file is then relative to the current folder).
    """
    stdin = str(path) == "-"
    name = "<stdin>" if stdin else str(path)
    try:
        if stdin:
            policy = parse_policy(sys.stdin.read(), name, Path.cwd(), check_files)
        else:
            policy = load_policy(path, check_files=check_files)
    except PolicyError as exc:
        count = len(exc.problems)
        summary = f"{name}: {count} problem{'s' if count != 1 else ''}"
        err.print(summary, style="bold red", soft_wrap=True)
        for problem in exc.problems:
            err.print(problem.render(name), soft_wrap=True)
        sys.exit(1)
    for warning in [] if stdin else exposure_warnings(path, policy):
        err.print(f"warning: {warning}", style="yellow", soft_wrap=True)
    return policy


EPILOG = "Docs: README.md (policy and CLI reference). Policy errors exit 1, usage errors 2."


kea_option = click.option(
    "--kea",
    "kea",
    metavar="SOCKET_OR_URL",
    help="Ask the running kea-dhcp4 instead: its control socket (e.g. /run/kea/kea4-ctrl-socket) "
    "or an HTTP URL (Kea 3.0's own HTTP socket, or kea-ctrl-agent on 2.x). Basic auth: "
    f"{kea_control.USER_ENV} and {kea_control.PASSWORD_FILE_ENV}.",
)


def ask_kea(target: str, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """Kea's answer to ``command`` (result 0 or 3); exit 1 with Kea's text on anything else."""
    try:
        answer = kea_control.send(target, command, arguments)
    except ControlError as exc:
        fail(str(exc))
    result = answer["result"]
    if result == 2:
        fail(f"{target}: Kea does not know {command}: is the kea-fanvil hook loaded there?")
    if result not in (0, 3):
        fail(f"{target}: {answer.get('text', 'no text')}")
    return answer


policy_argument = click.argument(
    "policy", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), metavar="POLICY"
)
show_secrets_option = click.option(
    "--show-secrets",
    is_flag=True,
    help="Print passwords in URLs (user:password@host) as they are, not as user:****@host.",
)


def parse_prl(value: str) -> tuple[int, ...]:
    """--prl as option codes: "1,3,6,43,66" (spaces allowed); BadParameter if not 0..255."""
    try:
        return parse_codes(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--prl") from None
