"""Which fields of a policy hold a password or a key, and which of its files expose them.

Masking itself is :mod:`kea_fanvil.redact`; this module knows where a policy keeps secrets.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from kea_fanvil.policy.files import FileSettings
from kea_fanvil.policy.models import Policy
from kea_fanvil.policy.sections import auto_update_lines
from kea_fanvil.redact import has_credentials

__all__ = ["credential_fields", "exposure_warnings", "secret_fields"]


def credential_fields(policy: Policy) -> list[str]:
    """The policy fields (e.g. ``sites[1].url``) whose URL holds a password, in file order."""
    found = []
    if has_credentials(policy.provisioning.url):
        found.append("provisioning.url")
    found += [
        f"sites[{i}].url" for i, s in enumerate(policy.sites) if s.url and has_credentials(s.url)
    ]
    found += [
        f"devices[{i}].url"
        for i, d in enumerate(policy.devices)
        if d.url and has_credentials(d.url)
    ]
    return found


def exposure_warnings(policy_path: str | Path, policy: Policy) -> list[str]:
    """Warnings for files of this policy that every local user can read while holding passwords.

    The policy file is checked when one of its own URLs holds a password, or its file
    settings hold an encryption key or a password; an inventory (``devices_file``) when one of
    the inventory's own URLs does.
    """
    fields = credential_fields(policy)
    # Keys and passwords for the provisioning files live in the policy file, never the CSV.
    in_files = secret_fields(policy)
    if not fields and not in_files:
        return []
    from_csv = [
        f
        for f in fields
        if f.startswith("devices[") and int(f[8 : f.index("]")]) >= policy.inline_devices
    ]
    path = Path(policy_path)
    files = [(path, [f for f in fields if f not in from_csv] + in_files)]
    if policy.devices_file:
        files.append((path.parent / policy.devices_file, from_csv))
    warnings = []
    for file, holding in files:
        if not holding:
            continue
        try:
            mode = os.stat(file).st_mode
        except OSError:
            continue  # unreadable now: the loader reports that, not us
        if mode & stat.S_IROTH:
            shown = ", ".join(holding[:3]) + (
                f" and {len(holding) - 3} more" if len(holding) > 3 else ""
            )
            warnings.append(
                f"{file} is readable by every user (mode {stat.S_IMODE(mode):04o}) and holds "
                f"passwords in {shown}; restrict it, e.g. chmod o-r {file}"
            )
    return warnings


_SECRET_KEY = re.compile(r"pass|pswd|pwd|secret|key", re.IGNORECASE)


def _settings_of(policy: Policy) -> Iterator[tuple[str, FileSettings]]:
    files = policy.files
    if files is not None:
        yield "files.common", files.common
        for name, settings in files.models.items():
            yield f"files.models.{name}", settings
    for i, device in enumerate(policy.devices):
        if device.settings is not None:
            yield f"devices[{i}].settings", device.settings


def secret_fields(policy: Policy) -> list[str]:
    """Fields of the policy's file settings that hold a key or a password, in file order."""
    found = []
    files = policy.files
    if files is not None and files.encryption is not None:
        found += [
            f"files.encryption.{name}"
            for name in ("common_key", "device_key")
            if getattr(files.encryption, name) is not None
        ]
    for where, settings in _settings_of(policy):
        firmware = settings.auto_update.firmware if settings.auto_update else None
        if firmware is not None and firmware.password:
            found.append(f"{where}.auto_update.firmware.password")
        for key, value in auto_update_lines(settings.auto_update):
            if "@" in value and has_credentials(value):
                found.append(f"{where}.auto_update ({key})")
        for section, values in settings.extra.items():
            found += [
                f"{where}.extra.{section}.{key}"
                for key, value in values.items()
                if value and (_SECRET_KEY.search(key) or has_credentials(value))
            ]
    return found
