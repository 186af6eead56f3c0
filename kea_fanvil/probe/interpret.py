"""What a Fanvil phone would make of a DHCP answer: pure interpretation, no sockets.

The rules come from the C-series auto-provision spec (shared/spec, cited as "spec N"):

- spec 2.1: the phone looks for its provisioning URL in the DHCP custom option (a code from 128
  to 254 set in its web page), option 66 and option 43, in that order here; with nothing there
  it tries its PnP server (2.2), then the server in its flash (2.3).
- spec 3: from the server's directory the phone downloads its model's Common file (3.1), then
  either its MAC-oriented file (3.2) or, when the DHCP server named a file, the ID-oriented file
  (3.3). The phone expands `$mac` (12 lower-case hex digits) and prompts for `$input` (4.3).

What the spec leaves open, the report states as an assumption instead of guessing silently:

- a URL whose last segment looks like a file name (`http://h/fanvil/$mac.cfg`) names the one
  file the phone downloads;
- the boot-file name (option 67, or the BOOTP `file` field) is the ID-oriented file's name;
- a value that is not a URL (a bare server address in option 66, option 43 as sub-options)
  does not count as a URL: the spec does not say what the phone makes of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kea_fanvil.errors import EncodingError
from kea_fanvil.fanvil.naming import URL_SCHEMES, CommonFile, FileKind, common_file
from kea_fanvil.redact import shown
from kea_fanvil.wire.dhcp import DhcpMessage
from kea_fanvil.wire.options import decode_vendor_suboptions, option_view
from kea_fanvil.wire.options import printable as _printable

__all__ = [
    "CUSTOM_OPTION_CODES",
    "Carrier",
    "ConfigFile",
    "ProbeReport",
    "interpret",
]

CUSTOM_OPTION_CODES = range(128, 255)  # spec 2.1.1: "from 128 to 254"


# A URL as the phone expects it: scheme "://" and no spaces (the policy's own rule, too).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")
# "f0C006200000.cfg", "$mac.cfg", "phone.xml": a dot and a short extension end a file name.
_FILE_NAME = re.compile(r".+\.[A-Za-z0-9]{1,8}")
_VARIABLE = re.compile(r"\$[A-Za-z_]+")


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Carrier:
    """An option the phone reads for its URL, as the server filled it."""

    code: int
    name: str  # "custom option 160", "option 66", "option 43"
    value: str  # the text, trailing NULs removed; non-printable characters shown as "."
    url: str | None  # the value when it is a URL, else None
    note: str = ""


@dataclass(frozen=True)
class ConfigFile:
    """A file the phone would request. `url` is None when it cannot be known (`$input`,
    an unknown model's Common file); it keeps any password, for the download."""

    kind: FileKind
    name: str | None
    url: str | None
    source: str  # why this name
    note: str = ""


@dataclass(frozen=True)
class ProbeReport:
    """What the server handed out and what a phone would do with it."""

    mac: str  # 0c:38:3e:11:3a:f8
    model: str | None
    address: IPv4Address
    server_id: IPv4Address | None
    lease_time: int | None
    options: tuple[tuple[int, bytes], ...]  # the whole answer, by code
    carriers: tuple[Carrier, ...]  # every option the phone would look at, in the spec's order
    chosen: Carrier | None
    expanded_url: str | None  # `$mac` replaced (and `$input`, when given)
    boot_file: str | None
    common: CommonFile | None
    files: tuple[ConfigFile, ...]
    fallback: str | None  # set when no option carries a URL
    notes: tuple[str, ...] = ()

    @property
    def url(self) -> str | None:
        return self.chosen.url if self.chosen else None

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        """A JSON-ready view; passwords masked unless `show_secrets`."""

        return {
            "mac": self.mac,
            "model": self.model,
            "address": str(self.address),
            "server_id": str(self.server_id) if self.server_id else None,
            "lease_time": self.lease_time,
            "options": [
                {"code": o.code, "text": o.text, "hex": o.hex, "masked": o.masked}
                for o in (option_view(code, data, show_secrets) for code, data in self.options)
            ],
            "carriers": [
                {
                    "code": c.code,
                    "name": c.name,
                    "value": shown(c.value, show_secrets),
                    "is_url": c.url is not None,
                    "note": c.note,
                }
                for c in self.carriers
            ],
            "chosen": self.chosen.code if self.chosen else None,
            "url": shown(self.url, show_secrets),
            "expanded_url": shown(self.expanded_url, show_secrets),
            "boot_file": self.boot_file,
            "common_file": (
                {"model": self.common.model, "name": self.common.name, "source": self.common.source}
                if self.common
                else None
            ),
            "files": [
                {
                    "kind": f.kind,
                    "name": f.name,
                    "url": shown(f.url, show_secrets),
                    "source": f.source,
                    "note": f.note,
                }
                for f in self.files
            ],
            "fallback": self.fallback,
            "notes": [shown(n, show_secrets) for n in self.notes],
        }


# --- interpretation -----------------------------------------------------------------------------

FALLBACK = (
    "no option carries a URL: the phone would try its PnP server (spec 2.2: a SIP SUBSCRIBE to "
    "224.0.1.75:5060), then the server set in its flash (spec 2.3); with neither, "
    "auto-provisioning stops"
)


def _suboptions(data: bytes) -> list[tuple[int, bytes]] | None:
    """Option 43 read as encapsulated sub-options (RFC 2132 8.4), or None if it is not."""
    try:
        return decode_vendor_suboptions(data) or None
    except EncodingError:
        return None


def _carrier(code: int, name: str, data: bytes) -> Carrier:
    stripped = data.rstrip(b"\0")
    value = _printable(stripped)
    notes = []
    if len(stripped) != len(data):
        # dnsmasq always appends one to options 66 and 67 (FIELD-NOTES); harmless to C strings.
        notes.append("ends with a NUL, ignored")
    if _URL.fullmatch(value):
        return Carrier(code, name, value, value, "; ".join(notes))
    inner = [c for c, v in _suboptions(data) or [] if _URL.fullmatch(_printable(v.rstrip(b"\0")))]
    if code == 43 and inner:
        notes.append(
            f"holds a URL in encapsulated sub-option {inner[0]}; Fanvil firmware reads option 43 "
            "as a bare string (FIELD-NOTES), so the phone would not find it"
        )
    else:
        notes.append(
            "not a URL (scheme://host/path): the spec does not say what a phone makes of it"
        )
    return Carrier(code, name, value, None, "; ".join(notes))


def _carriers(ack: DhcpMessage, custom_option: int | None, notes: list[str]) -> list[Carrier]:
    found = []
    if custom_option is not None:
        data = ack.option(custom_option)
        if data is not None:
            found.append(_carrier(custom_option, f"custom option {custom_option}", data))
        others = [
            code
            for code, data in sorted(ack.options)
            if code in CUSTOM_OPTION_CODES
            and code != custom_option
            and _carrier(code, "", data).url is not None
        ]
        if others:
            codes = ", ".join(map(str, others))
            notes.append(
                f"custom option {codes} carries a URL too, but a phone set to custom option "
                f"{custom_option} does not read it"
            )
    else:
        # Without the phone's setting, any custom code carrying a URL may be the one; codes
        # carrying something else (e.g. Cisco's 150, addresses) are other devices' business.
        for code, data in sorted(ack.options):
            if code in CUSTOM_OPTION_CODES:
                carrier = _carrier(code, f"custom option {code}", data)
                if carrier.url is not None:
                    found.append(carrier)
    for code in (66, 43):
        data = ack.option(code)
        if data is not None:
            found.append(_carrier(code, f"option {code}", data))
    return found


def _boot_file(ack: DhcpMessage, notes: list[str]) -> str | None:
    option = (ack.option(67) or b"").rstrip(b"\0")
    header = ack.file
    if option and header and option != header:
        notes.append(
            f"option 67 ({_printable(option)}) and the BOOTP file field ({_printable(header)}) "
            "differ; the probe takes option 67"
        )
    name = option or header
    return _printable(name) if name else None


def _join(url: str, name: str) -> str:
    parts = urlsplit(url)
    directory = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit(parts._replace(path=directory + name, query="", fragment=""))


def _files(
    expanded: str, mac12: str, common: CommonFile | None, boot_file: str | None, notes: list[str]
) -> list[ConfigFile]:
    prompt = "$input" in expanded
    last = urlsplit(expanded).path.rsplit("/", 1)[-1]
    if _FILE_NAME.fullmatch(last):
        notes.append(
            "assumed: a URL naming a file is the one file the phone requests (the spec does "
            "not say whether it also requests its Common file from that directory)"
        )
        if boot_file:
            notes.append("assumed: with a URL naming a file, the boot-file name is not used")
        return [ConfigFile("named", last, None if prompt else expanded, "the URL")]
    files = []
    if common is None:
        files.append(
            ConfigFile(
                "common",
                None,
                None,
                "unknown",
                "no model known: give --model or a vendor class naming it",
            )
        )
    elif common.name is None:
        files.append(
            ConfigFile(
                "common",
                None,
                None,
                "unknown",
                f"no source names the Common file of {common.model}",
            )
        )
    else:
        files.append(
            ConfigFile(
                "common",
                common.name,
                None if prompt else _join(expanded, common.name),
                common.source,
            )
        )
    if boot_file:
        files.append(
            ConfigFile(
                "id",
                boot_file,
                None if prompt else _join(expanded, boot_file),
                "the boot-file name (option 67 / BOOTP file field)",
            )
        )
    else:
        name = f"{mac12}.cfg"
        files.append(ConfigFile("mac", name, None if prompt else _join(expanded, name), "spec 3.2"))
    return files


def interpret(
    ack: DhcpMessage,
    mac: str,
    model: str | None = None,
    custom_option: int | None = None,
    input_id: str | None = None,
) -> ProbeReport:
    """Read `ack` as a Fanvil phone with MAC `mac` (0c:38:3e:11:3a:f8) and `model` would.

    `custom_option` is the code set in the phone's web page, if known; `input_id` what a user
    would type when the phone prompts for `$input`.
    """
    notes: list[str] = []
    mac12 = mac.replace(":", "").lower()
    carriers = _carriers(ack, custom_option, notes)
    chosen = next((c for c in carriers if c.url is not None), None)
    urls = {c.url for c in carriers if c.url is not None}
    if len(urls) > 1:
        notes.append(
            "the options carry different URLs: a phone set to one option only (spec 4.2, "
            "default option 66) follows that one"
        )
    boot_file = _boot_file(ack, notes)
    common = common_file(model) if model else None
    expanded = None
    files: list[ConfigFile] = []
    fallback = None
    if chosen is None or chosen.url is None:  # the second test is for mypy
        fallback = FALLBACK
    else:
        scheme = urlsplit(chosen.url).scheme.lower()
        if scheme not in URL_SCHEMES:
            notes.append(
                f"the phone downloads over {', '.join(s.upper() for s in URL_SCHEMES)} only "
                f"(spec 2.3), not {scheme}"
            )
        expanded = chosen.url.replace("$mac", mac12)
        if input_id is not None:
            expanded = expanded.replace("$input", input_id)
        elif "$input" in expanded:
            notes.append(
                "the URL holds $input: the phone would prompt for an ID on its screen and put "
                "what is typed there (give it with --input to follow it)"
            )
        unknown = sorted(set(_VARIABLE.findall(expanded)) - {"$input"})
        if unknown:
            notes.append(
                f"the phone expands $mac and $input only; {', '.join(unknown)} stays as is"
            )
        files = _files(expanded, mac12, common, boot_file, notes)
    server_id = ack.option(54)
    lease_time = ack.option(51)
    return ProbeReport(
        mac=mac,
        model=model,
        address=ack.yiaddr,
        server_id=IPv4Address(server_id) if server_id and len(server_id) == 4 else None,
        lease_time=int.from_bytes(lease_time, "big")
        if lease_time and len(lease_time) == 4
        else None,
        options=tuple(sorted(ack.options)),
        carriers=tuple(carriers),
        chosen=chosen,
        expanded_url=expanded,
        boot_file=boot_file,
        common=common,
        files=tuple(files),
        fallback=fallback,
        notes=tuple(notes),
    )
