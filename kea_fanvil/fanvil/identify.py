"""Who is asking: parse option 60, normalise MACs, and match MAC prefixes.

Matching per FIELD-NOTES ("Option 60", "MAC OUI"): a phone is Fanvil by its vendor class
(option 60, RFC 2132 section 9.13) **or** its MAC prefix, because factory phones may send no
vendor class and re-branded phones carry their seller's OUI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = [
    "PrefixMatcher",
    "VendorClass",
    "default_prefixes",
    "format_mac",
    "mac_bytes",
    "normalize_mac",
    "normalize_prefix",
    "ouis_of_organization",
    "parse_vendor_class",
]

# Samples this must parse live in data/vendor_class_samples.tsv (tests read them), e.g.
#   Fanvil X4 2.10.2.6887 0c383e07e16c   (the HTTP User-Agent form: vendor model firmware mac)
#   Fanvil C62
_VENDOR_CLASS = re.compile(
    r"""(?P<vendor>\S+?)                 # brand, e.g. Fanvil
        (?:[\s_-]+(?P<model>[A-Za-z0-9][A-Za-z0-9+._-]*?))?
        (?:\s+(?P<firmware>\d+(?:\.\d+)+))?
        (?:\s+(?P<mac>[0-9a-fA-F]{12}))?
        \s*$""",
    re.VERBOSE,
)

_MAC_FORMS = (
    re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}"),  # 0c:38:3e:11:3a:f8
    re.compile(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}"),  # Cisco 0c38.3e11.3af8
    re.compile(r"[0-9a-f]{12}"),  # bare 0c383e113af8
)
_MAC = re.compile("|".join(f"(?:{form.pattern})" for form in _MAC_FORMS))
_PREFIX_FORMS = (
    re.compile(r"[0-9a-f]{2}(?:([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){0,3})?"),  # 0c:38:3e
    re.compile(r"(?:[0-9a-f]{2}){1,5}"),  # 0c383e
)
_SEPARATORS = str.maketrans("", "", ":-.")


@dataclass(frozen=True)
class VendorClass:
    """What option 60 says about a phone. Fields are "" when the text does not say."""

    text: str
    vendor: str
    model: str
    firmware: str


def parse_vendor_class(data: bytes) -> VendorClass:
    """Split option 60 into vendor, model and firmware.

    Never raises: bytes that are not ASCII are decoded as Latin-1 (every byte maps to a
    character) and control characters become U+FFFD, so logs and tables stay readable.
    """
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in data.decode("latin-1"))
    m = _VENDOR_CLASS.match(text.strip())
    if m is None:
        return VendorClass(text, "", "", "")
    return VendorClass(text, m["vendor"], m["model"] or "", m["firmware"] or "")


def normalize_mac(value: str) -> str:
    """Return a MAC as ``0c:38:3e:11:3a:f8``; raise ValueError naming the accepted forms.

    A regex rather than netaddr.EUI: policies hold up to 100,000 devices and must load in
    well under three seconds, and EUI() costs ~10 microseconds each.
    """
    text = value.strip().lower()
    if _MAC.fullmatch(text) is None:
        raise ValueError(
            f"{value!r} is not a MAC address (use 0c:38:3e:11:3a:f8, 0c-38-3e-11-3a-f8, "
            "0c38.3e11.3af8 or 0c383e113af8)"
        )
    bare = text.translate(_SEPARATORS)
    return ":".join(bare[i : i + 2] for i in range(0, 12, 2))


def normalize_prefix(value: str) -> str:
    """Return a MAC prefix of 1 to 5 whole bytes as ``0c:38:3e``; raise ValueError otherwise."""
    text = value.strip().lower()
    if not any(form.fullmatch(text) for form in _PREFIX_FORMS):
        raise ValueError(
            f"{value!r} is not a MAC prefix (1 to 5 bytes, e.g. 0c:38:3e, 0c-38-3e or 0c383e)"
        )
    bare = text.translate(_SEPARATORS)
    return ":".join(bare[i : i + 2] for i in range(0, len(bare), 2))


def mac_bytes(mac: str) -> bytes:
    """``0c:38:3e:11:3a:f8`` (normalised) to its six bytes."""
    return bytes.fromhex(mac.replace(":", ""))


def format_mac(data: bytes) -> str:
    return data.hex(":")


class PrefixMatcher:
    """Answers "does this MAC start with one of these prefixes" in a few set look-ups."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        by_length: dict[int, set[bytes]] = {}
        for prefix in prefixes:
            raw = bytes.fromhex(prefix.replace(":", ""))
            by_length.setdefault(len(raw), set()).add(raw)
        # Longest first only matters for reporting; membership is what counts.
        self._tables = tuple(sorted(by_length.items(), reverse=True))

    def match(self, mac: bytes) -> bytes | None:
        """The matching prefix's bytes, or None."""
        for length, table in self._tables:
            head = mac[:length]
            if head in table:
                return head
        return None

    def __bool__(self) -> bool:
        return bool(self._tables)


def _registry_file() -> Path:
    return Path(str(resources.files("netaddr.eui").joinpath("oui.txt")))


@cache
def _registry() -> tuple[tuple[str, str], ...]:
    """(prefix, organization) for every MA-L entry of netaddr's bundled IEEE registry.

    Read straight from netaddr's oui.txt (offline) once per process: scanning it is a single
    regex pass, where netaddr's per-OUI look-up opens the file for every entry.
    """
    line = re.compile(r"^([0-9A-F]{2})-([0-9A-F]{2})-([0-9A-F]{2})\s+\(hex\)\s+(.*?)\s*$", re.M)
    text = _registry_file().read_text(encoding="utf-8", errors="replace")
    return tuple((f"{a}:{b}:{c}".lower(), org) for a, b, c, org in line.findall(text))


def ouis_of_organization(name: str) -> list[tuple[str, str]]:
    """Every IEEE OUI whose organization contains ``name`` (case-insensitive), sorted."""
    needle = name.casefold()
    return sorted({(p, org) for p, org in _registry() if needle in org.casefold()})


def default_prefixes() -> list[str]:
    """The MAC prefixes shipped in data/fanvil_mac_prefixes.txt."""
    text = resources.files("kea_fanvil").joinpath("data/fanvil_mac_prefixes.txt").read_text()
    return [
        normalize_prefix(line.split()[0])
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]
