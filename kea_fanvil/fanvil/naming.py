"""The files a Fanvil phone asks for (spec 3): their kinds, and each model's Common file name.

One table (``kea_fanvil/data/common_config_files.tsv``: spec 3.1's names, its rule for other
C-series models, other series from their published lists) serves both the probe, which says
what a phone would download, and the files build, which writes those files: what the probe
expects is what gets built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["KIND_LABELS", "URL_SCHEMES", "CommonFile", "FileKind", "common_file", "url_problem"]

# spec 2.3: the protocols a phone downloads its files with, as URL schemes.
URL_SCHEMES = ("tftp", "ftp", "http", "https")

# spec 3.1 Common, 3.2 MAC-oriented, 3.3 ID-oriented, 3.4 custom; "named" is the probe's: a
# provisioning URL whose last segment is a file name (the spec does not say; the probe assumes).
FileKind = Literal["common", "mac", "id", "custom", "named"]
KIND_LABELS: dict[FileKind, str] = {
    "common": "Common file",
    "mac": "MAC-oriented file",
    "id": "ID-oriented file",
    "custom": "custom file",
    "named": "file named by the URL",
}
# spec 3.1's rule covers the C series only: "C" and the model number.
_C_SERIES = re.compile(r"C(\d{1,4})")


@dataclass(frozen=True)
class CommonFile:
    """The Common file of one model; `name` is None when no source says what it is."""

    model: str
    name: str | None
    source: str


@cache
def _table() -> dict[str, tuple[str, str]]:
    """MODEL (upper case) -> (file name, source), from data/common_config_files.tsv."""
    text = resources.files("kea_fanvil").joinpath("data/common_config_files.tsv").read_text()
    table: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        model, name, source = line.split("\t")
        table[model.upper()] = (name, source)
    return table


def common_file(model: str) -> CommonFile:
    """The Common CFG file name for `model` (as option 60 names it, any case).

    Listed models come from the table; other C-series models get spec 3.1's rule; anything
    else is unknown, because other series are known to name the file differently.
    """
    key = model.strip().upper()
    listed = _table().get(key)
    if listed is not None:
        return CommonFile(model, listed[0], listed[1])
    rule = _C_SERIES.fullmatch(key)
    if rule is not None:
        return CommonFile(
            model, f"f0C{int(rule[1]):04d}00000.cfg", "derived from the spec's rule (3.1)"
        )
    return CommonFile(model, None, "unknown")


def url_problem(value: str) -> str | None:
    """Why a phone could not download from ``value`` (spec 2.3: scheme, host, port), or None."""
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        return f"{value!r} is not a URL: {exc}"
    if parts.scheme.lower() not in URL_SCHEMES:
        return f"URL scheme {parts.scheme or '(none)'!r} is not one of {', '.join(URL_SCHEMES)}"
    if not parts.hostname:
        return f"URL {value!r} names no host"
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as exc:
        return f"URL {value!r} has a bad port: {exc}"
    return None
