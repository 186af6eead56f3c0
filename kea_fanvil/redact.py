"""Credentials in provisioning URLs: find them, mask them, warn when a policy file exposes them.

Fanvil phones take the HTTP/FTP user and password from the provisioning URL itself
(``http://user:password@host/path``, spec section 4.1), so a policy has to hold them. Everything
kea-fanvil prints or logs shows them as ``user:****@`` unless the admin asks for them
(``--show-secrets``); the rendered server configurations are the exception, because a server
cannot hand out a masked URL.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, overload
from urllib.parse import urlsplit

from kea_fanvil.policy.files import secret_fields

if TYPE_CHECKING:  # errors.py imports this module; policy.py imports errors.py
    from kea_fanvil.policy.models import Policy

MASK = "****"

# RFC 3986 3.2.1: userinfo = user ":" password, ended by "@" before the host. A password may
# hold ":" but not "/", "?" or "#"; an unencoded "@" is tolerated as urlsplit does (the last "@"
# before the path ends the userinfo). Quotes and whitespace end it too, so a URL
# quoted inside an error message is masked without eating the quote.
_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^/?#@\s:'\"]*):(?P<password>[^/?#\s'\"]+)@"
)


def mask(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``****``."""
    if "@" not in text:  # the common case, and a cheap test
        return text
    return _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)


@overload
def shown(text: str, show_secrets: bool) -> str: ...
@overload
def shown(text: None, show_secrets: bool) -> None: ...
def shown(text: str | None, show_secrets: bool) -> str | None:
    """``text`` as the admin asked to see it: passwords masked unless ``show_secrets``."""
    return text if text is None or show_secrets else mask(text)


def has_credentials(url: str) -> bool:
    """True when ``url`` carries a password (a user name alone is not a secret)."""
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


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
