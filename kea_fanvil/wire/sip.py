"""A small, strict SIP parser and builder: what the PnP responder needs of RFC 3261, no more.

Why not a library: the Python SIP stacks on PyPI are either abandoned (aiosip, last release
2017), young, or bindings to a whole C stack (pjsua2) for the three headers PnP reads. This
module parses one UDP datagram into a :class:`SipRequest` or :class:`SipResponse`, or raises
:class:`SipError` with a short ``kind`` (the responder counts and logs by kind). Nothing else
escapes it for any input: ``tests/test_sip.py`` fuzzes that with hypothesis.

Strict where the grammar is clear (RFC 3261 section 25): a token method, ``SIP/2.0`` only,
header names that are tokens, the mandatory headers of section 8.1.1 present exactly once
(Via may repeat), a CSeq whose method is the request's, a Content-Length that the datagram
can hold, UTF-8 text, no control characters. Tolerant where real phones are not clean: bare LF
line ends (seen in deployed PnP clients), folded header lines (section 7.3.1), compact header
names (section 7.3.3), and any order of headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kea_fanvil.errors import SipError, SipErrorKind

__all__ = [
    "MAX_DATAGRAM",
    "Event",
    "NameAddr",
    "SipError",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "Via",
    "build_message",
    "format_params",
    "format_via",
    "parse_event",
    "parse_message",
    "parse_name_addr",
    "parse_params",
    "parse_uri",
    "parse_via",
    "quote",
    "split_commas",
]

# RFC 3261 section 18.1.1 keeps UDP requests under 1300 bytes unless the path MTU allows more;
# a PnP SUBSCRIBE is about 500. Anything past this is not a phone and is refused unread.
MAX_DATAGRAM = 8192
MAX_HEADERS = 64


# RFC 3261 section 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`"
# / "'" / "~")
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKEN_RE = re.compile(_TOKEN)
_REQUEST_LINE = re.compile(rf"({_TOKEN}) (\S+) SIP/2\.0")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9]) ([^\x00-\x08\x0a-\x1f\x7f]*)")
_HEADER = re.compile(rf"({_TOKEN})[ \t]*:[ \t]*(.*)")
# Any C0 control but HT, and DEL: never legal in a header value (section 25.1, TEXT-UTF8char).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Section 25.1: callid = word ["@" word]
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID = re.compile(rf"{_WORD}(?:@{_WORD})?")
_CSEQ = re.compile(rf"([0-9]{{1,10}})[ \t]+({_TOKEN})")

# Section 7.3.3 compact forms of the headers this project reads or copies.
COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "o": "event",
    "l": "content-length",
    "c": "content-type",
}
# Section 8.1.1: every request carries these; a response copies them (section 8.2.6.2).
MANDATORY = ("via", "from", "to", "call-id", "cseq")
# Headers that may appear at most once: a second copy would be ambiguous.
SINGLE = frozenset(
    ("from", "to", "call-id", "cseq", "contact", "event", "content-length", "content-type")
)


@dataclass(frozen=True)
class _Message:
    # (lower-case full name, value) in the order received; compact names expanded.
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def get(self, name: str) -> str | None:
        """The value of a header that appears at most once (checked by the parser), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def values(self, name: str) -> list[str]:
        """Every value of a header, comma-separated lists split (section 7.3.1)."""
        found: list[str] = []
        for key, value in self.headers:
            if key == name:
                found += split_commas(value)
        return found

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method), validated by the parser."""
        match = _CSEQ.fullmatch(self.get("cseq") or "")
        assert match is not None
        return int(match[1]), match[2]


@dataclass(frozen=True)
class SipRequest(_Message):
    method: str = ""
    uri: str = ""


@dataclass(frozen=True)
class SipResponse(_Message):
    status: int = 0
    reason: str = ""


@dataclass(frozen=True)
class SipUri:
    """``sip:user@host:port;params`` (section 19.1.1). ``user`` is as written (still escaped)."""

    scheme: str
    user: str | None
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class NameAddr:
    """A From, To or Contact value: the URI text and the header's own parameters."""

    uri: str
    params: dict[str, str | None]


@dataclass(frozen=True)
class Via:
    """One Via value (section 20.42): ``SIP/2.0/UDP host:port;branch=...;rport``."""

    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]


def _split_head(data: bytes) -> tuple[list[str], bytes]:
    """The text lines before the blank line, and the body after it."""
    # Section 7.5: line ends before the start line are ignored (keep-alives, stream framing).
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipError("empty", "no SIP message: only line ends")
    match = re.search(rb"\r?\n\r?\n", data)
    if match is None:
        head, body = data, b""
        # A message without a body may end with a single line end.
        head = head.removesuffix(b"\n").removesuffix(b"\r")
    else:
        head, body = data[: match.start()], data[match.end() :]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipError("bad-encoding", f"not UTF-8 at byte {exc.start}") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines, body


def _unfold(lines: list[str]) -> list[str]:
    """Join continuation lines (section 7.3.1: a line starting with SP or HT continues)."""
    joined: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not joined:
                raise SipError("bad-header", "a continuation line before any header")
            joined[-1] = joined[-1].rstrip(" \t") + " " + line.strip(" \t")
        else:
            joined.append(line)
    return joined


def _headers(lines: list[str]) -> tuple[tuple[str, str], ...]:
    if len(lines) > MAX_HEADERS:
        raise SipError("bad-header", f"more than {MAX_HEADERS} header lines")
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line in _unfold(lines):
        match = _HEADER.fullmatch(line)
        if match is None:
            raise SipError("bad-header", f"not a NAME: VALUE header line: {line[:60]!r}")
        name = match[1].lower()
        name = COMPACT.get(name, name)
        value = match[2].rstrip(" \t")
        if _CONTROL.search(value):
            raise SipError("bad-encoding", f"a control character in {name}")
        if name in SINGLE and name in seen:
            raise SipError("duplicate-header", f"{name} appears more than once")
        seen.add(name)
        headers.append((name, value))
    for name in MANDATORY:
        if name not in seen:
            raise SipError("missing-header", f"no {name} header")
    return tuple(headers)


def _body(headers: tuple[tuple[str, str], ...], body: bytes) -> bytes:
    length = dict(headers).get("content-length")
    if length is None:
        return body  # optional over UDP (section 18.3): the datagram ends the body
    if not length.isdigit() or len(length) > 5:
        raise SipError("bad-content-length", f"Content-Length {length[:20]!r} is not a number")
    if int(length) > len(body):
        raise SipError(
            "bad-content-length", f"Content-Length {int(length)} but {len(body)} body bytes"
        )
    return body[: int(length)]  # section 18.3: extra bytes past it are discarded


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """Parse one datagram; raise :class:`SipError` for anything this module refuses."""
    if len(data) > MAX_DATAGRAM:
        raise SipError("too-large", f"{len(data)} bytes, more than {MAX_DATAGRAM}")
    lines, body = _split_head(data)
    start = lines[0]
    if _CONTROL.search(start):
        raise SipError("bad-encoding", "a control character in the start line")
    status = request = None
    if start.startswith("SIP/"):
        status = _STATUS_LINE.fullmatch(start)
        if status is None:
            raise SipError("bad-start-line", f"not a SIP/2.0 status line: {start[:60]!r}")
    else:
        request = _REQUEST_LINE.fullmatch(start)
        if request is None:
            raise SipError("bad-start-line", f"not a SIP/2.0 request line: {start[:60]!r}")
        parse_uri(request[2])  # refuse a request whose target is not a SIP URI
    headers = _headers(lines[1:])
    body = _body(headers, body)
    found = dict(headers)
    cseq = _CSEQ.fullmatch(found["cseq"])
    if cseq is None:
        raise SipError("bad-cseq", "CSeq is not NUMBER METHOD")
    if int(cseq[1]) >= 2**31:  # section 8.1.1.5
        raise SipError("bad-cseq", "CSeq number is 2**31 or more")
    if _CALL_ID.fullmatch(found["call-id"]) is None:
        raise SipError("bad-header", "Call-ID is empty or holds characters it may not")
    if status is not None:
        return SipResponse(headers, body, int(status[1]), status[2])
    assert request is not None
    if cseq[2] != request[1]:
        raise SipError("bad-cseq", f"CSeq method {cseq[2]!r} is not the request's {request[1]!r}")
    return SipRequest(headers, body, request[1], request[2])


def split_commas(value: str) -> list[str]:
    """Split a header value at commas outside quotes and angle brackets (section 7.3.1)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = 0
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            angle += 1
        elif not quoted and ch == ">":
            angle = max(0, angle - 1)
        elif ch == "," and not quoted and not angle:
            parts.append("".join(current).strip(" \t"))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip(" \t"))
    return [p for p in parts if p]


_PARAM = re.compile(
    rf"[ \t]*({_TOKEN})[ \t]*(?:=[ \t]*({_TOKEN}|\[[0-9A-Fa-f:.]+\]|\"(?:[^\"\\]|\\.)*\"))?[ \t]*"
)


def parse_params(text: str) -> dict[str, str | None]:
    """``;name=value;flag`` (leading ``;`` included) to a dict; quoted values unquoted.

    Names are lower-cased (section 7.3.1: parameter names are case-insensitive); a repeated
    name is refused, since which copy counts would be a guess.
    """
    params: dict[str, str | None] = {}
    if not text.strip(" \t"):
        return params
    if not text.lstrip(" \t").startswith(";"):
        raise SipError("bad-params", f"parameters must start with ';': {text[:40]!r}")
    for part in _split_semicolons(text.lstrip(" \t")[1:]):
        match = _PARAM.fullmatch(part)
        if match is None:
            raise SipError("bad-params", f"not a NAME[=VALUE] parameter: {part[:40]!r}")
        name = match[1].lower()
        if name in params:
            raise SipError("bad-params", f"parameter {name!r} given twice")
        value = match[2]
        if value is not None and value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
    return params


def _split_semicolons(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quoted:
        raise SipError("bad-params", "an unterminated quoted string")
    parts.append("".join(current))
    return parts


# A host: an [IPv6] reference, or an IPv4 address or host name (RFC 3261 25.1, simplified).
_HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?"

# Section 19.1.1 / 25.1, kept to what matters here: a user part with no "@" or spaces, an IPv4
# address, host name or [IPv6] reference, an optional port.
_URI = re.compile(
    r"(?P<scheme>sips?):"
    r"(?:(?P<user>[^@\s;?<>\"]+)@)?"
    rf"(?P<host>{_HOST})"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<params>;[^?]*)?"
    r"(?:\?\S*)?",
    re.IGNORECASE,
)


def parse_uri(text: str) -> SipUri:
    """A ``sip:`` or ``sips:`` URI; raise SipError("bad-uri") for anything else."""
    match = _URI.fullmatch(text)
    if match is None:
        raise SipError("bad-uri", f"not a SIP URI: {text[:60]!r}")
    port, params = _port_and_params("bad-uri", match["port"], match["params"] or "")
    return SipUri(match["scheme"].lower(), match["user"], match["host"].lower(), port, params)


def _port_and_params(
    kind: SipErrorKind, port_text: str | None, params_text: str
) -> tuple[int | None, dict[str, str | None]]:
    """The port (1..65535) and parameters of a URI or a Via; errors carry the caller's kind."""
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port < 65536:
        raise SipError(kind, f"port {port} out of range")
    try:
        return port, parse_params(params_text)
    except SipError as exc:
        raise SipError(kind, str(exc)) from None


# No two parts of the pattern may match the same spaces: with "[^<\"]*[ \t]*" a long run of
# spaces took quadratic time to refuse (0.1 s for 7,000), a cheap way to slow the responder.
_NAME_ADDR = re.compile(r'(?:"(?:[^"\\]|\\.)*"[ \t]*|[^<"]*)<([^<>]+)>(.*)')


def parse_name_addr(value: str) -> NameAddr:
    """A From/To/Contact value: ``"Name" <uri>;tag=x``, ``<uri>;tag=x`` or ``uri;tag=x``.

    Without angle brackets the URI cannot carry parameters: every ``;`` starts a header
    parameter (section 20.10).
    """
    match = _NAME_ADDR.fullmatch(value)
    if match is not None:
        uri, rest = match[1], match[2]
    elif "<" in value or ">" in value or '"' in value:
        raise SipError("bad-uri", f"unbalanced name-addr: {value[:60]!r}")
    else:
        uri, _, rest = value.partition(";")
        rest = ";" + rest if rest or value.endswith(";") else ""
    uri = uri.strip(" \t")
    parse_uri(uri)
    return NameAddr(uri, parse_params(rest))


_VIA = re.compile(
    rf"SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*({_TOKEN})[ \t]+"
    rf"({_HOST})"
    r"(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
    r"(.*)",
    re.IGNORECASE,
)


def parse_via(value: str) -> Via:
    """One Via value (a list is split with :func:`split_commas` first)."""
    match = _VIA.fullmatch(value)
    if match is None:
        raise SipError("bad-via", f"not a SIP/2.0 Via: {value[:60]!r}")
    port, params = _port_and_params("bad-via", match[3], match[4])
    return Via(match[1].upper(), match[2].lower(), port, params)


@dataclass(frozen=True)
class Event:
    """An Event value (RFC 6665 section 8.2.1): the package, lower-cased, and its parameters."""

    package: str
    params: dict[str, str | None]


_EVENT = re.compile(rf"({_TOKEN})(.*)")


def parse_event(value: str) -> Event:
    """``ua-profile;profile-type="device";vendor="Fanvil"`` to an :class:`Event`."""
    match = _EVENT.fullmatch(value)
    if match is None:
        raise SipError("bad-event", f"not an event package: {value[:60]!r}")
    try:
        params = parse_params(match[2])
    except SipError as exc:
        raise SipError("bad-event", str(exc)) from None
    return Event(match[1].lower(), params)


def format_params(params: dict[str, str | None]) -> str:
    """The inverse of :func:`parse_params`: ``;name=value;flag``, quoting what is no token."""
    parts = []
    for name, value in params.items():
        if value is None:
            parts.append(f";{name}")
        elif _TOKEN_RE.fullmatch(value) or value.startswith("["):
            parts.append(f";{name}={value}")
        else:
            parts.append(f";{name}={quote(value)}")
    return "".join(parts)


def quote(value: str) -> str:
    """A quoted-string (section 25.1): backslash and double quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_via(via: Via) -> str:
    port = f":{via.port}" if via.port is not None else ""
    return f"SIP/2.0/{via.transport} {via.host}{port}{format_params(via.params)}"


def build_message(start_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """Serialise a message; Content-Length is added. Refuses line ends inside any value, so a
    value copied from a request can never smuggle in a header of its own."""
    lines = [start_line]
    for name, value in headers:
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"a line end inside header {name!r}")
        lines.append(f"{name}: {value}")
    if "\r" in start_line or "\n" in start_line:
        raise ValueError("a line end inside the start line")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
