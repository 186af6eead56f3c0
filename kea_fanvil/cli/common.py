"""What every `kea-fanvil` command module shares: the consoles, the error exit and the policy
loader that prints every problem. Kept apart from cli.py, which imports the command modules, so
that they can import this at the top without a cycle.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.text import Text

from kea_fanvil.errors import PolicyError
from kea_fanvil.policy.loader import load_policy, parse_policy
from kea_fanvil.policy.models import Policy
from kea_fanvil.redact import exposure_warnings

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
