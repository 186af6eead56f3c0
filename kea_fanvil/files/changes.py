"""What a provisioning-files build changed, and whom it concerns: the phones to tell to resync.

A changed MAC-oriented, ID-oriented or custom file concerns the devices of the policy it is
built for (several, for an ID-oriented file devices share); a changed Common file concerns every
phone of its model (the policy's devices by `model` here; the inventory's phones of the model
are added by the CLI, which reads the inventory). `files build` keeps the last build's changes
in DIR/.kea-fanvil-changes.json beside the manifest, for `kea-fanvil notify --changed DIR`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kea_fanvil import safe_files
from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil.identify import normalize_mac
from kea_fanvil.files.build import BuildReport
from kea_fanvil.policy.files import model_key
from kea_fanvil.policy.models import Policy

__all__ = [
    "CHANGED_STATES",
    "CHANGES_FORMAT",
    "CHANGES_NAME",
    "Change",
    "changes_from_report",
    "read_changes",
    "write_changes",
]

CHANGES_NAME = ".kea-fanvil-changes.json"  # hidden, as the manifest: never a phone's file name
CHANGES_FORMAT = 1
CHANGED_STATES = ("new", "changed")  # "restored" files are back at the version phones have


@dataclass(frozen=True)
class Change:
    """A file the last build wrote new or changed, and whom it concerns."""

    name: str
    kind: str
    state: str
    macs: tuple[str, ...]  # the policy's devices it is for
    model: str | None  # a Common file: its model (as the Common file table spells it)


def _devices_by_file(policy: Policy) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for device in policy.devices:
        mac12 = device.mac.replace(":", "")
        names = {f"{mac12}.cfg", device.boot_file, device.custom_file}
        for name in names:
            if name is not None:
                found.setdefault(name.replace("$mac", mac12), []).append(device.mac)
    return found


def changes_from_report(report: BuildReport, policy: Policy) -> list[Change]:
    """The files ``report`` says were written new or changed, with the devices they concern."""
    by_file = _devices_by_file(policy)
    changes = []
    for built in report.files:
        if built.state not in CHANGED_STATES or built.kind is None:
            continue
        if built.kind == "common":
            model = built.owner  # plan.py: a Common file's owner is its model key
            macs = [
                d.mac for d in policy.devices if d.model is not None and model_key(d.model) == model
            ]
            changes.append(Change(built.name, built.kind, built.state, tuple(macs), model))
        else:
            macs = by_file.get(built.name, [])
            changes.append(Change(built.name, built.kind, built.state, tuple(macs), None))
    return changes


def write_changes(out_dir: Path, changes: Sequence[Change]) -> None:
    """Record the last build's changes in ``out_dir`` (OSError when it cannot)."""
    document = {
        "about": "kea-fanvil files build: the files the last build wrote new or changed and "
        "the phones they concern, for `kea-fanvil notify --changed`",
        "changes": CHANGES_FORMAT,
        "files": [
            {"name": c.name, "kind": c.kind, "state": c.state, "macs": list(c.macs)}
            | ({"model": c.model} if c.model is not None else {})
            for c in changes
        ],
    }
    path = out_dir / CHANGES_NAME
    data = (json.dumps(document, indent=1) + "\n").encode()
    if not path.exists() or safe_files.read_bytes(path) != data:
        safe_files.write_atomic(path, data, mode=0o644)


def read_changes(out_dir: Path) -> list[Change]:
    """The changes the last `files build --out out_dir` recorded; FilesError naming the file."""
    path = out_dir / CHANGES_NAME
    try:
        raw: Any = json.loads(safe_files.read_text(path))
    except FileNotFoundError:
        raise FilesError(
            f"{path}: no such file; `kea-fanvil files build --out {out_dir}` writes it"
        ) from None
    except (OSError, ValueError) as exc:
        raise FilesError(f"cannot read {path}: {exc}") from None
    try:
        if raw["changes"] != CHANGES_FORMAT:
            raise ValueError(f"format {raw['changes']!r} is not {CHANGES_FORMAT}")
        return [
            Change(
                str(f["name"]),
                str(f["kind"]),
                str(f["state"]),
                tuple(normalize_mac(m) for m in f["macs"]),
                None if f.get("model") is None else model_key(str(f["model"])),
            )
            for f in raw["files"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FilesError(f"{path} is not a kea-fanvil changes file: {exc}") from None
