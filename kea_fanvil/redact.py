"""Passwords in provisioning URLs: find them and mask them (a leaf: imports nothing of ours).

Fanvil phones take the HTTP/FTP user and password from the provisioning URL itself
(``http://user:password@host/path``, spec section 4.1), so a policy has to hold them. Everything
kea-fanvil prints or logs shows them as ``user:****@`` unless the admin asks for them
(``--show-secrets``); the rendered server configurations are the exception, because a server
cannot hand out a masked URL. Which fields of a policy hold secrets is
:mod:`kea_fanvil.policy.secrets`.
"""

from __future__ import annotations

import re
from typing import overload
from urllib.parse import urlsplit

__all__ = ["MASK", "has_credentials", "mask", "shown"]

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
