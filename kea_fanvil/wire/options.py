"""DHCPv4 option encoders for what a Fanvil phone reads, each with the document it follows.

Every encoder returns the option *data* (no code or length octet): the servers (Kea's
``Option``, dnsmasq, dhcpd) add the code and length themselves. The limits are those of one
option as RFC 2132 section 2 defines it: a single length octet, so at most 255 data octets. We
do not split longer values into RFC 3396 "long options": Fanvil firmware is not known to
reassemble them (Kea 2.2 to 3.0 would send them split; integration/test_long_options_wire.py),
so an over-long value is refused when the policy loads instead of failing on a phone.
"""

from __future__ import annotations

from dataclasses import dataclass

from kea_fanvil.errors import EncodingError
from kea_fanvil.redact import mask
from kea_fanvil.wire.phone_options import describe

__all__ = [
    "BOOTP_FILE_FIELD",
    "CUSTOM_OPTION_MAX",
    "CUSTOM_OPTION_MIN",
    "MAX_BOOT_FILE",
    "MAX_OPTION_DATA",
    "OPTION_BOOTFILE_NAME",
    "OPTION_TFTP_SERVER_NAME",
    "OPTION_VENDOR_SPECIFIC",
    "OptionView",
    "decode_vendor_suboptions",
    "encode_bootfile_name",
    "encode_custom_option",
    "encode_tftp_server_name",
    "encode_vendor_string",
    "encode_vendor_suboption",
    "option_view",
    "parse_codes",
    "printable",
]

OPTION_VENDOR_SPECIFIC = 43  # RFC 2132 section 8.4
OPTION_TFTP_SERVER_NAME = 66  # RFC 2132 section 9.4
OPTION_BOOTFILE_NAME = 67  # RFC 2132 section 9.5

MAX_OPTION_DATA = 255  # RFC 2132 section 2: one length octet
BOOTP_FILE_FIELD = 128  # RFC 2131 section 2, "file": 128 octets, null terminated
MAX_BOOT_FILE = BOOTP_FILE_FIELD - 1  # room for the terminating NUL in the header field

CUSTOM_OPTION_MIN = 128  # Fanvil C-series spec 2.1.1: "The value must be from 128 to 254"
CUSTOM_OPTION_MAX = 254


_VISIBLE_ASCII = bytes(range(0x21, 0x7F))  # what may stand in a URL or file name


def _ascii(value: str, what: str) -> bytes:
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise EncodingError(
            f"{what} must be ASCII; {value[exc.start : exc.end]!r} is not"
        ) from None
    if data.translate(None, _VISIBLE_ASCII):
        raise EncodingError(f"{what} must not contain spaces or control characters")
    return data


def _fit(data: bytes, limit: int, what: str) -> bytes:
    if not data:
        raise EncodingError(f"{what} is empty")
    if len(data) > limit:
        raise EncodingError(f"{what} is {len(data)} bytes; at most {limit} fit")
    return data


def encode_tftp_server_name(url: str) -> bytes:
    """Option 66 (RFC 2132 section 9.4, "TFTP server name"): the URL as a bare string, no NUL.

    Fanvil firmware takes a full URL here, not only a host name (spec section 2.1.2).
    """
    return _fit(_ascii(url, "option 66 URL"), MAX_OPTION_DATA, "option 66 URL")


def encode_vendor_string(url: str) -> bytes:
    """Option 43 (RFC 2132 section 8.4) as the bare URL string Fanvil firmware expects.

    RFC 2132 lets the vendor define the content of option 43; Fanvil reads a plain URL
    (spec section 2.1.3, FIELD-NOTES "What goes in 66 / 43 / custom").
    """
    return _fit(_ascii(url, "option 43 URL"), MAX_OPTION_DATA, "option 43 URL")


def encode_vendor_suboption(suboption: int, url: str) -> bytes:
    """Option 43 holding the URL as one encapsulated sub-option (RFC 2132 section 8.4).

    "Encapsulated vendor-specific options" use the same code/length/data layout as options,
    so the data is ``suboption, len(url), url``; TR-069 CPEs read sub-option 1 as the ACS URL.
    """
    if not 1 <= suboption <= 254:
        raise EncodingError(f"option 43 sub-option code {suboption} is outside 1..254")
    data = _ascii(url, f"option 43 sub-option {suboption} URL")
    _fit(data, MAX_OPTION_DATA - 2, f"option 43 sub-option {suboption} URL")
    return bytes((suboption, len(data))) + data


def encode_custom_option(code: int, url: str) -> bytes:
    """A site-specific option 128..254 carrying the URL as a string.

    RFC 2132 section 2 leaves codes 128..254 to site-specific use; the Fanvil C-series spec
    (section 2.1.1) reads the URL from the code configured on the phone.
    """
    if not CUSTOM_OPTION_MIN <= code <= CUSTOM_OPTION_MAX:
        raise EncodingError(f"custom option code {code} is outside 128..254")
    return _fit(_ascii(url, f"option {code} URL"), MAX_OPTION_DATA, f"option {code} URL")


def encode_bootfile_name(name: str) -> bytes:
    """Option 67 (RFC 2132 section 9.5, "Bootfile name"), no NUL.

    The same name also goes in the BOOTP ``file`` header field (128 octets, NUL-terminated), so
    it is limited to what that field holds. Fanvil phones take it as the ID-oriented file
    (spec section 3.3).
    """
    return _fit(_ascii(name, "boot file name"), MAX_BOOT_FILE, "boot file name")


def decode_vendor_suboptions(data: bytes) -> list[tuple[int, bytes]]:
    """Split option 43 data into (sub-option, value) pairs (RFC 2132 section 8.4).

    Pad (0) and end (255) are honoured as in the main option field (8.4: "If the code 0 and
    255 are used, they SHOULD be used as defined"): 0 is skipped, 255 ends the list and what
    follows it is not read. A sub-option cut short raises EncodingError.
    """
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        if i + 1 >= len(data) or i + 2 + data[i + 1] > len(data):
            raise EncodingError("option 43 sub-options are truncated")
        length = data[i + 1]
        out.append((code, data[i + 2 : i + 2 + length]))
        i += 2 + length
    return out


# --- showing options to people ------------------------------------------------------------------


@dataclass(frozen=True)
class OptionView:
    """One option of the answer as printed: `hex` is None when it would reveal a password."""

    code: int
    text: str
    hex: str | None

    @property
    def masked(self) -> bool:
        return self.hex is None


def printable(data: bytes) -> str:
    # latin-1 keeps one character per byte, so framing bytes cannot hide or shift a URL.
    return "".join(c if c.isprintable() else "." for c in data.decode("latin-1"))


def option_view(code: int, data: bytes, show_secrets: bool) -> OptionView:
    text = printable(data)
    if not show_secrets and mask(text) != text:
        return OptionView(code, mask(text), None)
    shown = text if data.isascii() and text == data.decode("latin-1") else ""
    if not shown:
        shown = describe(code, data) or ""
    return OptionView(code, shown, data.hex())


def parse_codes(text: str) -> tuple[int, ...]:
    """Option codes as people write option 55: "1,3,6,43,66" (spaces allowed). ValueError
    unless each is 0..255."""
    try:
        codes = [int(c) for c in text.replace(" ", "").split(",") if c]
        bytes(codes)  # the range check
    except ValueError:
        raise ValueError(
            f"{text!r} is not a list of option codes 0..255 such as 1,3,6,43,66"
        ) from None
    return tuple(codes)
