"""Option encoders: exact bytes, limits, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kea_fanvil.errors import EncodingError
from kea_fanvil.wire import options

URL = "http://prov.example.com/fanvil/$mac.cfg"
printable = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=255
)


def test_option_66_is_the_bare_url() -> None:
    assert options.encode_tftp_server_name(URL) == URL.encode()


def test_option_43_string_and_suboption() -> None:
    assert options.encode_vendor_string(URL) == URL.encode()
    data = options.encode_vendor_suboption(1, URL)
    assert data == bytes([1, len(URL)]) + URL.encode()
    assert options.decode_vendor_suboptions(data) == [(1, URL.encode())]


def test_custom_option_range() -> None:
    assert options.encode_custom_option(160, URL) == URL.encode()
    for code in (127, 255):
        with pytest.raises(EncodingError, match=f"custom option code {code} is outside 128..254"):
            options.encode_custom_option(code, URL)


def test_boot_file() -> None:
    assert options.encode_bootfile_name("desk-12.cfg") == b"desk-12.cfg"
    options.encode_bootfile_name("a" * 127)
    with pytest.raises(EncodingError, match="boot file name is 128 bytes; at most 127 fit"):
        options.encode_bootfile_name("a" * 128)


def test_limits() -> None:
    assert len(options.encode_tftp_server_name("h://x/" + "a" * 249)) == 255
    with pytest.raises(EncodingError, match="option 66 URL is 256 bytes; at most 255 fit"):
        options.encode_tftp_server_name("h://x/" + "a" * 250)
    options.encode_vendor_suboption(1, "a" * 253)
    with pytest.raises(EncodingError, match="at most 253 fit"):
        options.encode_vendor_suboption(1, "a" * 254)
    with pytest.raises(EncodingError, match=r"sub-option code 0 is outside 1\.\.254"):
        options.encode_vendor_suboption(0, URL)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://prov.exämple.com/", "must be ASCII; 'ä' is not"),
        ("http://prov.example.com/a b", "must not contain spaces or control characters"),
        ("http://x/\t", "must not contain spaces or control characters"),
        ("", "is empty"),
    ],
)
def test_bad_values(value: str, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        options.encode_tftp_server_name(value)


@given(printable)
@example("x" * 255)
def test_any_printable_ascii_round_trips(url: str) -> None:
    assert options.encode_tftp_server_name(url).decode("ascii") == url


@given(printable.filter(lambda s: len(s) <= 253), st.integers(1, 254))
def test_suboption_round_trips(url: str, code: int) -> None:
    data = options.encode_vendor_suboption(code, url)
    assert options.decode_vendor_suboptions(data) == [(code, url.encode())]


@given(st.binary(max_size=300))
def test_decode_suboptions_never_raises_anything_else(data: bytes) -> None:
    try:
        pairs = options.decode_vendor_suboptions(data)
    except EncodingError:
        return
    assert all(1 <= code <= 254 for code, _ in pairs)


def test_option_43_byte_255_ends_the_sub_options() -> None:
    # RFC 2132 8.4: 0 and 255 keep their meaning inside option 43; one decoder for the whole
    # package (the probe reads option 43 through it), so they can no longer disagree.
    data = b"\x00\x01\x03abc\xff\x02\x03xyz"
    assert options.decode_vendor_suboptions(data) == [(1, b"abc")]
    assert options.decode_vendor_suboptions(b"\xff") == []
    with pytest.raises(EncodingError, match="option 43 sub-options are truncated"):
        options.decode_vendor_suboptions(b"\x01\x05ab")
