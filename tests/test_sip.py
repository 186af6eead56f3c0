"""The SIP parser and builder: what it accepts, what it refuses (and with which kind), and a
fuzzing property: any bytes give a message or a SipError, never another exception."""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kea_fanvil.errors import SipError
from kea_fanvil.wire.sip import (
    MAX_DATAGRAM,
    MAX_HEADERS,
    SipRequest,
    SipResponse,
    build_message,
    format_params,
    parse_event,
    parse_message,
    parse_name_addr,
    parse_params,
    parse_uri,
    parse_via,
    quote,
    split_commas,
)

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What a Fanvil phone sends (FIELD-NOTES, "PnP"), with the MAC form of the field notes.
SUBSCRIBE = (
    b"SUBSCRIBE sip:MAC=0c383e113af8@224.0.1.75 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK42054260;rport\r\n"
    b"From: <sip:MAC=0c383e113af8@224.0.1.75>;tag=42054258\r\n"
    b"To: <sip:MAC=0c383e113af8@224.0.1.75>\r\n"
    b"Call-ID: 42054258@198.18.0.2\r\n"
    b"CSeq: 1 SUBSCRIBE\r\n"
    b"Contact: <sip:MAC=0c383e113af8@198.18.0.2:5060>\r\n"
    b"Max-Forwards: 70\r\n"
    b"User-Agent: Fanvil C62 2.4.1 0c383e113af8\r\n"
    b"Expires: 0\r\n"
    b'Event: ua-profile;profile-type="device";vendor="Fanvil";model="C62";version="2.4.1"\r\n'
    b"Accept: application/url\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def _without(header: str) -> bytes:
    return b"".join(
        line for line in SUBSCRIBE.splitlines(keepends=True) if not line.startswith(header.encode())
    )


def _with(extra: str) -> bytes:
    return SUBSCRIBE.replace(b"Accept:", extra.encode() + b"\r\nAccept:")


def test_a_fanvil_subscribe_parses() -> None:
    message = parse_message(SUBSCRIBE)
    assert isinstance(message, SipRequest)
    assert (message.method, message.uri) == ("SUBSCRIBE", "sip:MAC=0c383e113af8@224.0.1.75")
    assert message.call_id == "42054258@198.18.0.2"
    assert message.cseq == (1, "SUBSCRIBE")
    assert message.get("event") == (
        'ua-profile;profile-type="device";vendor="Fanvil";model="C62";version="2.4.1"'
    )
    assert message.get("accept") == "application/url"
    assert message.get("no-such-header") is None
    assert message.body == b""


def test_bare_lf_line_ends_are_accepted() -> None:
    # MikoPBX's PnP test client ends its headers with "\r\n\n"; some phones send LF only.
    assert parse_message(SUBSCRIBE.replace(b"\r\n", b"\n")).call_id == "42054258@198.18.0.2"
    assert parse_message(SUBSCRIBE[:-2] + b"\n").call_id == "42054258@198.18.0.2"


def test_leading_line_ends_and_a_missing_blank_line_are_accepted() -> None:
    assert isinstance(parse_message(b"\r\n\r\n" + SUBSCRIBE), SipRequest)
    assert isinstance(parse_message(SUBSCRIBE[:-2]), SipRequest)


def test_folded_and_compact_headers() -> None:
    data = (
        SUBSCRIBE.replace(b"Call-ID:", b"i:")
        .replace(b"Event: ua-profile;", b"o: ua-profile;\r\n  ")
        .replace(b"Via:", b"v:")
        .replace(b"Contact:", b"m:")
        .replace(b"CSeq:", b"cseq:")  # names are case-insensitive
    )
    message = parse_message(data)
    assert message.call_id == "42054258@198.18.0.2"
    assert message.get("event") == (
        'ua-profile; profile-type="device";vendor="Fanvil";model="C62";version="2.4.1"'
    )
    assert message.get("contact") == "<sip:MAC=0c383e113af8@198.18.0.2:5060>"
    assert len(message.values("via")) == 1


def test_via_lists_split_in_order() -> None:
    data = _with("Via: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKb, SIP/2.0/UDP 198.18.0.10")
    assert [parse_via(v).host for v in parse_message(data).values("via")] == [
        "198.18.0.2",
        "198.18.0.9",
        "198.18.0.10",
    ]


def test_content_length_bounds_the_body() -> None:
    data = SUBSCRIBE.replace(b"Content-Length: 0", b"Content-Length: 3") + b"abcdef"
    assert parse_message(data).body == b"abc"  # RFC 3261 18.3: the rest is discarded
    assert parse_message(_without("Content-Length") + b"xyz").body == b"xyz"


def test_a_response_parses() -> None:
    data = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1:40000;branch=z9hG4bKx\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\n\r\n"
    )
    message = parse_message(data)
    assert isinstance(message, SipResponse)
    assert (message.status, message.reason, message.cseq) == (200, "OK", (1, "NOTIFY"))


REFUSED = [
    (b"", "empty"),
    (b"\r\n\r\n", "empty"),  # an RFC 5626 keep-alive
    (SUBSCRIBE + b"x" * MAX_DATAGRAM, "too-large"),
    (SUBSCRIBE.replace(b"Fanvil C62", b"Fanvil \xff"), "bad-encoding"),
    (SUBSCRIBE.replace(b"User-Agent: Fanvil", b"User-Agent: \x01Fanvil"), "bad-encoding"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad-start-line"),
    (SUBSCRIBE.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), "bad-start-line"),
    (SUBSCRIBE.replace(b"SUBSCRIBE sip", b"SUBSCRIBE  sip", 1), "bad-start-line"),
    (SUBSCRIBE.replace(b"sip:MAC=0c383e113af8@224.0.1.75 ", b"tel:+123 ", 1), "bad-uri"),
    (b"SIP/2.0 2000 OK\r\n\r\n", "bad-start-line"),
    (_without("Call-ID"), "missing-header"),
    (_without("Via"), "missing-header"),
    (_with("From: <sip:x@y>"), "duplicate-header"),
    (_with("f: <sip:x@y>"), "duplicate-header"),  # the compact form is the same header
    (_with("Broken header line"), "bad-header"),
    (_with("Bad Name: x"), "bad-header"),
    (SUBSCRIBE.replace(b"CSeq: 1 SUBSCRIBE", b"CSeq: 1 NOTIFY"), "bad-cseq"),
    (SUBSCRIBE.replace(b"CSeq: 1 SUBSCRIBE", b"CSeq: SUBSCRIBE"), "bad-cseq"),
    (SUBSCRIBE.replace(b"CSeq: 1 SUBSCRIBE", b"CSeq: 2147483648 SUBSCRIBE"), "bad-cseq"),
    (SUBSCRIBE.replace(b"Content-Length: 0", b"Content-Length: 10"), "bad-content-length"),
    (SUBSCRIBE.replace(b"Content-Length: 0", b"Content-Length: -1"), "bad-content-length"),
    (SUBSCRIBE.replace(b"Call-ID: 42054258@198.18.0.2", b"Call-ID: a b"), "bad-header"),
    (SUBSCRIBE.replace(b"Call-ID: 42054258@198.18.0.2", b"Call-ID:"), "bad-header"),
    (b"SUBSCRIBE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n", "bad-header"),
]


@pytest.mark.parametrize(("data", "kind"), REFUSED)
def test_refused_with_its_kind(data: bytes, kind: str) -> None:
    with pytest.raises(SipError) as caught:
        parse_message(data)
    assert caught.value.kind == kind, caught.value


def test_a_continuation_line_before_any_header_is_refused() -> None:
    with pytest.raises(SipError) as caught:
        parse_message(b"SUBSCRIBE sip:a@b SIP/2.0\r\n  folded\r\nVia: x\r\n\r\n")
    assert caught.value.kind == "bad-header"


def test_uris() -> None:
    uri = parse_uri("sip:MAC%3a0c383e113af8@198.18.0.2:5062;transport=udp")
    assert (uri.scheme, uri.user, uri.host, uri.port) == (
        "sip",
        "MAC%3a0c383e113af8",
        "198.18.0.2",
        5062,
    )
    assert uri.params == {"transport": "udp"}
    assert parse_uri("SIPS:Phone.Example.com").host == "phone.example.com"
    assert parse_uri("sip:[2001:db8::1]:5060").host == "[2001:db8::1]"
    for bad in ("http://x", "sip:", "sip:a@", "sip:host:0", "sip:host:70000", "sip:a b@c"):
        with pytest.raises(SipError) as caught:
            parse_uri(bad)
        assert caught.value.kind == "bad-uri", bad


def test_name_addrs() -> None:
    assert parse_name_addr('"Desk 12" <sip:a@b;lr>;tag=x').uri == "sip:a@b;lr"
    assert parse_name_addr('"Desk 12" <sip:a@b;lr>;tag=x').params == {"tag": "x"}
    assert parse_name_addr("<sip:a@b>").params == {}
    # Without angle brackets every ";" starts a header parameter (RFC 3261 20.10).
    plain = parse_name_addr("sip:a@b;tag=1")
    assert (plain.uri, plain.params) == ("sip:a@b", {"tag": "1"})
    for bad in ("<sip:a@b", "sip:a@b>", "<http://x>", "<sip:a@b>x", "<sip:a@b>;", "sip:a@b;"):
        with pytest.raises(SipError):
            parse_name_addr(bad)


def test_vias() -> None:
    via = parse_via("SIP/2.0/udp 198.18.0.2:5060;branch=z9hG4bK1;rport;received=198.18.0.9")
    assert (via.transport, via.host, via.port) == ("UDP", "198.18.0.2", 5060)
    assert via.params == {"branch": "z9hG4bK1", "rport": None, "received": "198.18.0.9"}
    assert parse_via("SIP / 2.0 / UDP host.example").port is None
    for bad in ("SIP/2.0 198.18.0.2", "SIP/1.0/UDP x", "SIP/2.0/UDP x:99999", "SIP/2.0/UDP x;;"):
        with pytest.raises(SipError) as caught:
            parse_via(bad)
        assert caught.value.kind == "bad-via", bad


def test_params_and_events() -> None:
    assert parse_params(';a=1;B="x \\"y\\"";c') == {"a": "1", "b": 'x "y"', "c": None}
    assert parse_params("") == {}
    for bad in ("a=1", ";a=1;a=2", ';a="open', ";=x", ";a=b c"):
        with pytest.raises(SipError) as caught:
            parse_params(bad)
        assert caught.value.kind == "bad-params", bad
    event = parse_event('UA-Profile;profile-type="device";vendor="Fanvil";model="C62"')
    assert event.package == "ua-profile"
    assert event.params == {"profile-type": "device", "vendor": "Fanvil", "model": "C62"}
    for bad in ("", ";x", 'ua-profile;vendor="'):
        with pytest.raises(SipError) as caught:
            parse_event(bad)
        assert caught.value.kind == "bad-event", bad


def test_split_commas_respects_quotes_and_brackets() -> None:
    assert split_commas('"a, b" <sip:x@y;p=1,2>, <sip:z@w> , ') == [
        '"a, b" <sip:x@y;p=1,2>',
        "<sip:z@w>",
    ]


def test_format_params_quotes_what_is_no_token() -> None:
    params = {"a": "1", "b": 'x "y"', "c": None}
    assert format_params(params) == ';a=1;b="x \\"y\\"";c'
    assert parse_params(format_params(params)) == params


def test_build_message_adds_content_length_and_refuses_line_ends() -> None:
    data = build_message("NOTIFY sip:a@b SIP/2.0", [("X", "1")], b"http://x/")
    assert data == b"NOTIFY sip:a@b SIP/2.0\r\nX: 1\r\nContent-Length: 9\r\n\r\nhttp://x/"
    with pytest.raises(ValueError, match="line end"):
        build_message("SIP/2.0 200 OK", [("To", "<sip:a@b>\r\nX-Injected: 1")])


# --- fuzzing -------------------------------------------------------------------------------------

# Bytes that SIP's grammar turns on, so random messages reach past the first check.
SIP_BYTES = st.sampled_from(
    [
        *(b"\r\n", b"\n", b" ", b":", b";", b",", b"=", b'"', b"<", b">", b"@", b"%3A", b"\\"),
        *(b"SUBSCRIBE ", b"SIP/2.0", b"sip:", b"Via: SIP/2.0/UDP ", b"CSeq: 1 SUBSCRIBE"),
        *(b"Call-ID: x", b"From: <sip:a@b>", b"To: <sip:a@b>", b"Content-Length: ", b"\xff"),
        *(b"0", b"9", b"a", b"\x00", b"\t"),
    ]
)


def _check(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipError as exc:
        assert exc.kind and str(exc)
        return
    # Whatever parses is well-formed in the ways the responder relies on.
    assert message.call_id
    assert message.cseq[0] < 2**31
    for via in message.values("via"):
        try:
            parse_via(via)
        except SipError as exc:
            assert exc.kind == "bad-via"


@FUZZ
@given(st.binary(max_size=2000))
@example(b"SIP/2.0 200 OK\r\n\r\n")
@example(b"\r\n\r\n\r\n")
def test_any_bytes_parse_or_raise_sip_error(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.lists(SIP_BYTES, max_size=60).map(b"".join))
def test_sip_shaped_noise_parses_or_raises_sip_error(data: bytes) -> None:
    _check(data)


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(SUBSCRIBE)), st.integers(0, 8), st.binary(max_size=6)),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_subscribes_parse_or_raise_sip_error(edits: list[tuple[int, int, bytes]]) -> None:
    data = SUBSCRIBE
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut :]
    _check(data)


HEADER_NAME = st.from_regex(r"X-[A-Za-z0-9\-]{1,12}", fullmatch=True)
HEADER_VALUE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
    max_size=40,
).map(lambda s: s.strip(" "))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=8), st.binary(max_size=100))
def test_build_then_parse_round_trips(extra: list[tuple[str, str]], body: bytes) -> None:
    headers = [
        ("Via", "SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK1"),
        ("From", "<sip:a@b>;tag=1"),
        ("To", "<sip:c@d>"),
        ("Call-ID", "abc@198.18.0.1"),
        ("CSeq", "7 NOTIFY"),
        *extra,
    ]
    message = parse_message(build_message("NOTIFY sip:c@d SIP/2.0", headers, body))
    assert isinstance(message, SipRequest)
    assert message.body == body
    assert message.headers[5:-1] == tuple((n.lower(), v) for n, v in extra)


SLOW_BEFORE = [  # values that once took quadratic time to refuse
    "a" + " " * 7000 + "b",
    '"a"' + " " * 7000 + "b",
    ";a=" + " " * 7000 + "b",
    '"' + "\\" * 7000,
    "<" * 7000,
    "sip:" + "a." * 3500 + "-",
]


@pytest.mark.parametrize("value", SLOW_BEFORE, ids=range(len(SLOW_BEFORE)))
def test_long_hostile_values_are_refused_in_linear_time(value: str) -> None:
    data = SUBSCRIBE.replace(b"<sip:MAC=0c383e113af8@198.18.0.2:5060>", value.encode())
    started = time.perf_counter()
    for parse in (parse_name_addr, parse_params, parse_uri, parse_via, parse_event):
        with contextlib.suppress(SipError):
            parse(value)
    with contextlib.suppress(SipError):
        parse_message(data)
    # Linear work on 7 KB is about a millisecond; the quadratic pattern took 100.
    assert time.perf_counter() - started < 0.05


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f"), max_size=30))
def test_quote_round_trips_through_parse_params(value: str) -> None:
    assert parse_params(f";x={quote(value)}") == {"x": value}
