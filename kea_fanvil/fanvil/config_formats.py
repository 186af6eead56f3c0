"""The two text layouts of a Fanvil configuration file, and their `N.NNNN` versions.

CFG (FIELD-NOTES "CFG format"; the layout of published Fanvil templates)::

    <<VOIP CONFIG FILE>>Version:2.0003

    <AUTOUPDATE CONFIG MODULE>
    Auto Image URL     :http://198.18.0.1/fw/c62.z

    <<END OF FILE>>

Keys are padded to 19 columns, then ``:`` and the value. XML, the older `<VOIP_CONFIG_FILE>`
dialect whose element names are the CFG keys with ``_`` for spaces (FIELD-NOTES "XML comes in
two dialects"; wazo-provd's Fanvil ``base.tpl``)::

    <?xml version="1.0" encoding="UTF-8" ?>
    <VOIP_CONFIG_FILE>
    <version>2.0003</version>
    <AUTOUPDATE_CONFIG_MODULE>
    <Auto_Image_URL>http://198.18.0.1/fw/c62.z</Auto_Image_URL>
    </AUTOUPDATE_CONFIG_MODULE>
    </VOIP_CONFIG_FILE>

The newer `<sysConf>` dialect names keys differently and is not produced. Phones take partial
files (only the keys set), so a file holds only what the policy says.
"""

from __future__ import annotations

import re
from typing import Literal
from xml.sax.saxutils import escape

__all__ = [
    "AUTOUPDATE",
    "CERTIFICATE_KEY",
    "FIRMWARE_FORMAT_1",
    "FIRMWARE_FORMAT_2",
    "KEY_COLUMNS",
    "PHONEBOOK_KEY",
    "VERSION",
    "Format",
    "Lines",
    "Sections",
    "format_version",
    "parse_version",
    "read_version",
    "render",
    "render_cfg",
    "render_xml",
    "xml_name",
]

Format = Literal["cfg", "xml"]
AUTOUPDATE = "AUTOUPDATE"
# Key names as spec section 5 spells them, in its order. Two are uncertain: spec 5.2's example
# says "Auto Phook Url" and its text "Auto Pbook Url" (also seen in published Fanvil CFG
# templates); spec 5.3 says "Auto ect Url" and FIELD-NOTES holds both misspelt. To write another
# spelling, leave the field out and set the key under `extra: {AUTOUPDATE: ...}`.
FIRMWARE_FORMAT_1 = (
    ("url", "Auto Image URL"),
    ("version", "Auto Image Version"),
    ("user", "Auto Image User"),
    ("password", "Auto Image Password"),
)
FIRMWARE_FORMAT_2 = (
    ("server", "Auto Image Server"),
    ("name", "Auto Image Name"),
    ("version", "Auto Image Version"),
    ("user", "Auto Image User"),
    ("password", "Auto Image Password"),
    ("protocol", "Auto Image Protocol"),
)
PHONEBOOK_KEY = "Auto Pbook Url"
CERTIFICATE_KEY = "Auto ect Url"
Lines = list[tuple[str, str]]
Sections = list[tuple[str, Lines]]

KEY_COLUMNS = 19  # "DayLight Start Week:5": published files pad keys to 19 columns

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# A config version as this tool writes and reads it: N.NNNN, up to four digits before the dot.
VERSION = re.compile(r"\d{1,4}\.\d{4}", re.ASCII)
# What a file says its version is (FIELD-NOTES "CFG format": the first line is
# `<<VOIP CONFIG FILE>>Version:2.0002`, any case; the old XML dialect has
# <VOIP_CONFIG_FILE><version>2.0003</version>). Any N.N is read; parse_version is stricter.
_CFG_VERSION = re.compile(
    rb"<<VOIP CONFIG FILE>>[ \t]*Version[ \t]*:[ \t]*(\d+\.\d+)", re.IGNORECASE
)
_XML_VERSION = re.compile(rb"<VOIP_CONFIG_FILE>\s*<version>\s*(\d+\.\d+)\s*</version>")


def parse_version(text: str) -> int:
    """``2.0003`` as 20003: versions compare numerically as N.NNNN (FIELD-NOTES)."""
    if not VERSION.fullmatch(text):
        raise ValueError(f"{text!r} is not a version N.NNNN")
    whole, _, fraction = text.partition(".")
    return int(whole) * 10_000 + int(fraction)


def format_version(value: int) -> str:
    return f"{value // 10_000}.{value % 10_000:04d}"


def xml_name(key: str) -> str | None:
    """The XML element name for a CFG key or section, or None when XML cannot spell it."""
    name = key.replace(" ", "_")
    return name if _XML_NAME.fullmatch(name) and not name.lower().startswith("xml") else None


def render_cfg(sections: Sections, version: str) -> str:
    out = [f"<<VOIP CONFIG FILE>>Version:{version}", ""]
    for section, lines in sections:
        out.append(f"<{section} CONFIG MODULE>")
        out += [f"{key.ljust(KEY_COLUMNS)}:{value}" for key, value in lines]
        out.append("")
    out.append("<<END OF FILE>>")
    return "\n".join(out) + "\n"


def render_xml(sections: Sections, version: str) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8" ?>', "<VOIP_CONFIG_FILE>"]
    out.append(f"<version>{version}</version>")
    for section, lines in sections:
        module = f"{section}_CONFIG_MODULE"
        out.append(f"<{module}>")
        for key, value in lines:
            name = xml_name(key)
            if name is None:  # files_problems refuses such keys before anything is built
                raise ValueError(f"{key!r} cannot be an XML element name")
            out.append(f"<{name}>{escape(value)}</{name}>")
        out.append(f"</{module}>")
    out.append("</VOIP_CONFIG_FILE>")
    return "\n".join(out) + "\n"


def render(sections: Sections, file_format: Format, version: str) -> bytes:
    """One configuration file, UTF-8, LF line ends, ending with a newline."""
    text = render_cfg(sections, version) if file_format == "cfg" else render_xml(sections, version)
    return text.encode("utf-8")


def read_version(data: bytes) -> tuple[Format, str] | None:
    """(format, version) of a plain configuration file, or None if it is not one."""
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:4096]
    found = _CFG_VERSION.match(head)
    if found:
        return "cfg", found[1].decode()
    if head.startswith(b"<?xml") or head.startswith(b"<VOIP_CONFIG_FILE>"):
        found = _XML_VERSION.search(head)
        if found:
            return "xml", found[1].decode()
    return None
