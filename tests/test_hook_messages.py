"""The hook's message catalogue: the hand-kept .h/.cc must match fanvil_messages.mes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOOK = ROOT / "kea_fanvil" / "kea_hook" / "src"


def test_generated_files_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "hook_messages.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_message_used_is_in_the_catalogue() -> None:
    catalogue = set(re.findall(r"^% (\w+)", (HOOK / "fanvil_messages.mes").read_text(), re.M))
    used = set()
    for source in HOOK.glob("*.cc"):
        if source.name != "fanvil_messages.cc":
            used |= set(re.findall(r"\bFANVIL_[A-Z_]+\b", source.read_text()))
    used -= {"FANVIL_MESSAGES_H", "FANVIL_DEFAULT_PYTHON"}
    assert used <= catalogue, used - catalogue
    assert catalogue <= used, f"never logged: {catalogue - used}"
