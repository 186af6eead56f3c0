"""Property tests (hypothesis): identification, the policy loader, the encoders, the engine.

Each property states what must hold for *any* input: a documented result or the documented
error type, never another exception. Reference implementations here are deliberately naive
(linear scans, ``ipaddress``), so they check the fast paths rather than repeat them.
"""

from __future__ import annotations

import csv
import functools
import io
import ipaddress
import re
import string
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from kea_fanvil.engine import Engine, Request
from kea_fanvil.errors import EncodingError, KeaFanvilError, PolicyError
from kea_fanvil.fanvil.identify import (
    PrefixMatcher,
    default_prefixes,
    format_mac,
    mac_bytes,
    normalize_mac,
    normalize_prefix,
    ouis_of_organization,
    parse_vendor_class,
)
from kea_fanvil.policy.loader import load_policy, parse_policy
from kea_fanvil.policy.models import Policy, site_overlaps
from kea_fanvil.wire import options

FAST = settings(max_examples=200, deadline=None)
MEDIUM = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(SLOW, max_examples=40)

HEX = "0123456789abcdef"
VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))  # what a URL or boot file may hold
CANONICAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
CANONICAL_PREFIX = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){0,4}")


def _mixed_case(text: str, mask: int) -> str:
    return "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(text))


# --------------------------------------------------------------------------------------------
# 1. Identification: option 60, MACs, MAC prefixes
# --------------------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=255))
@example(b"\x00" * 255)
@example(b"Fanvil" + b" " * 249)
@example(b"Fanvil X4 2.10.2.6887 0c383e07e16c")
def test_vendor_class_any_bytes(data: bytes) -> None:
    """Never raises; the text is the data, made printable; the parts come from that text."""
    parsed = parse_vendor_class(data)
    expected_text = "".join(ch if ch.isprintable() else "\ufffd" for ch in data.decode("latin-1"))
    assert parsed.text == expected_text
    stripped = parsed.text.strip()
    if parsed.vendor:
        assert stripped.startswith(parsed.vendor)
        assert not any(ch.isspace() for ch in parsed.vendor)
    else:
        assert parsed.model == parsed.firmware == ""
    assert parsed.model in stripped
    assert parsed.firmware == "" or re.fullmatch(r"\d+(?:\.\d+)+", parsed.firmware)
    assert parsed.firmware in stripped
    # Only the printable text counts: any other control byte in the same places parses alike.
    same = bytes(b if chr(b).isprintable() else 0x01 for b in data)
    again = parse_vendor_class(same)
    assert (again.vendor, again.model, again.firmware) == (
        parsed.vendor,
        parsed.model,
        parsed.firmware,
    )


_VENDOR = st.from_regex(r"[A-Za-z][A-Za-z0-9.+]{0,11}", fullmatch=True)
_MODEL = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9+._-]{0,11}", fullmatch=True)
_FIRMWARE = st.from_regex(r"[0-9]{1,4}(?:\.[0-9]{1,5}){1,4}", fullmatch=True)
_BLANKS = st.text(alphabet=" ", min_size=1, max_size=3)


@FAST
@given(
    vendor=_VENDOR,
    model=st.none() | _MODEL,
    firmware=st.none() | _FIRMWARE,
    mac=st.none() | st.binary(min_size=6, max_size=6),
    separators=st.tuples(st.sampled_from([" ", "  ", "_", "-", " _"]), _BLANKS, _BLANKS),
    outer=st.tuples(st.sampled_from(["", " ", "  "]), st.sampled_from(["", " ", "  "])),
)
@example("Fanvil", "X4", "2.10.2.6887", bytes.fromhex("0c383e07e16c"), (" ", " ", " "), ("", ""))
def test_vendor_model_firmware_round_trip(
    vendor: str,
    model: str | None,
    firmware: str | None,
    mac: bytes | None,
    separators: tuple[str, str, str],
    outer: tuple[str, str],
) -> None:
    """Whatever `vendor [model [firmware]] [mac]` is built from, the parse gives those parts.

    A model is needed before a firmware or a MAC: without one, the first word after the vendor
    is read as the model (documented by the samples: "Fanvil C62").
    """
    text = vendor
    if model is not None:
        text += separators[0] + model
        if firmware is not None:
            text += separators[1] + firmware
        if mac is not None:
            text += separators[2] + mac.hex()
    parsed = parse_vendor_class((outer[0] + text + outer[1]).encode("ascii"))
    expected_firmware = firmware if model is not None and firmware is not None else ""
    assert (parsed.vendor, parsed.model, parsed.firmware) == (
        vendor,
        model or "",
        expected_firmware,
    )


@st.composite
def mac_spellings(draw: st.DrawFn, raw: bytes | None = None) -> tuple[bytes, str]:
    """Six bytes and one accepted spelling of them (any form, any case, blanks around)."""
    if raw is None:
        raw = draw(st.binary(min_size=6, max_size=6))
    h = raw.hex()
    pairs = [h[i : i + 2] for i in range(0, 12, 2)]
    form = draw(st.sampled_from(["colon", "dash", "cisco", "bare"]))
    text = {
        "colon": ":".join(pairs),
        "dash": "-".join(pairs),
        "cisco": f"{h[0:4]}.{h[4:8]}.{h[8:12]}",
        "bare": h,
    }[form]
    text = _mixed_case(text, draw(st.integers(0, 2 ** len(text) - 1)))
    before, after = draw(st.tuples(st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " "])))
    return raw, before + text + after


@st.composite
def prefix_spellings(draw: st.DrawFn) -> tuple[bytes, str]:
    raw = draw(st.binary(min_size=1, max_size=5))
    pairs = [raw[i : i + 1].hex() for i in range(len(raw))]
    text = draw(st.sampled_from([":", "-", ""])).join(pairs)
    text = _mixed_case(text, draw(st.integers(0, 2 ** len(text) - 1)))
    return raw, draw(st.sampled_from(["", " "])) + text


@MEDIUM
@given(
    st.binary(min_size=6, max_size=6).flatmap(lambda raw: st.lists(mac_spellings(raw), min_size=2))
)
def test_every_spelling_of_a_mac_normalises_equal(spellings: list[tuple[bytes, str]]) -> None:
    raw = spellings[0][0]
    for _, text in spellings:
        mac = normalize_mac(text)
        assert mac == format_mac(raw)
        assert normalize_mac(mac) == mac  # the canonical form is a fixed point
        assert mac_bytes(mac) == raw


def _reference_mac(text: str) -> bool:
    """The documented forms, checked position by position."""
    t = text.strip().lower()

    def hexes(s: str) -> bool:
        return all(c in HEX for c in s)

    if len(t) == 17 and t[2] in ":-":
        return all(t[i] == t[2] for i in range(2, 17, 3)) and hexes(t.replace(t[2], ""))
    if len(t) == 14 and t[4] == t[9] == ".":
        return hexes(t[0:4] + t[5:9] + t[10:14])
    return len(t) == 12 and hexes(t)


def _reference_prefix(text: str) -> bool:
    t = text.strip().lower()
    if 2 <= len(t) <= 14 and len(t) % 3 == 2 and (len(t) == 2 or t[2] in ":-"):
        seps = t[2::3]
        return all(c == t[2] for c in seps) and all(c in HEX for i, c in enumerate(t) if i % 3 != 2)
    return 2 <= len(t) <= 10 and len(t) % 2 == 0 and all(c in HEX for c in t)


# Text that is often nearly a MAC: hex digits, separators, blanks, and anything else.
_MACLIKE = st.one_of(
    st.text(alphabet=HEX + HEX.upper() + ":-. \t", max_size=20),
    st.text(alphabet=HEX + ":-.gG\u0660\uff10 \n\x00", max_size=18),
    st.text(max_size=20),
    mac_spellings().map(lambda pair: pair[1]),
)


@FAST
@given(_MACLIKE)
@example("0c:38-3e:11:3a:f8")
@example("0c38.3e11.3af8 ")
@example("\u0660c383e113af8")  # an Arabic-Indic zero is a digit to str.isdigit, not to us
@example("")
def test_normalize_mac_accepts_exactly_the_documented_forms(text: str) -> None:
    try:
        mac = normalize_mac(text)
    except ValueError as exc:
        assert "is not a MAC address (use 0c:38:3e:11:3a:f8" in str(exc)
        assert not _reference_mac(text)
    else:
        assert _reference_mac(text)
        assert CANONICAL_MAC.fullmatch(mac)
        assert mac.replace(":", "") == text.strip().lower().translate(str.maketrans("", "", ":-."))


@FAST
@given(st.lists(prefix_spellings(), min_size=1, max_size=3))
def test_every_spelling_of_a_prefix_normalises_equal(spellings: list[tuple[bytes, str]]) -> None:
    for raw, text in spellings:
        prefix = normalize_prefix(text)
        assert prefix == format_mac(raw)
        assert normalize_prefix(prefix) == prefix


@FAST
@given(st.one_of(_MACLIKE, prefix_spellings().map(lambda pair: pair[1])))
@example("0c:38-3e")
@example("0c3")
@example("0c383e113af8")
def test_normalize_prefix_accepts_exactly_the_documented_forms(text: str) -> None:
    try:
        prefix = normalize_prefix(text)
    except ValueError as exc:
        assert "is not a MAC prefix (1 to 5 bytes" in str(exc)
        assert not _reference_prefix(text)
    else:
        assert _reference_prefix(text)
        assert CANONICAL_PREFIX.fullmatch(prefix)


@FAST
@given(
    prefixes=st.lists(st.binary(min_size=1, max_size=5), max_size=6),
    macs=st.data(),
)
def test_prefix_matcher_agrees_with_a_linear_scan(
    prefixes: list[bytes], macs: st.DataObject
) -> None:
    matcher = PrefixMatcher([format_mac(p) for p in prefixes])
    assert bool(matcher) == bool(prefixes)
    mac_strategy = st.binary(max_size=8)
    if prefixes:
        mac_strategy |= st.tuples(st.sampled_from(prefixes), st.binary(max_size=6)).map(
            lambda pair: pair[0] + pair[1]
        )
    for mac in macs.draw(st.lists(mac_strategy, min_size=1, max_size=10)):
        hits = [p for p in prefixes if mac.startswith(p)]
        assert matcher.match(mac) == (max(hits, key=len) if hits else None)


# --------------------------------------------------------------------------------------------
# 3. Encoders (before the policy: the policy rules lean on them)
# --------------------------------------------------------------------------------------------

ENCODERS = {
    "encode_tftp_server_name",
    "encode_vendor_string",
    "encode_vendor_suboption",
    "encode_custom_option",
    "encode_bootfile_name",
}


def test_every_encoder_has_a_property() -> None:
    public = {name for name in vars(options) if name.startswith("encode_")}
    assert public == ENCODERS, "a new encoder needs its property test below"


# Values that are often valid, often just too long, and sometimes not ASCII or not visible.
_VALUES = st.one_of(
    st.text(alphabet=VISIBLE, max_size=300),
    st.builds(
        lambda n, ch: ch * n,
        st.integers(0, 260),
        st.sampled_from(["a", "/", "\x7f", " ", "é", "\x00"]),
    ),
    st.text(max_size=30),
    st.text(alphabet=VISIBLE + " \t\x7f\x80é\u2028", max_size=40),
)
_CODES = st.one_of(st.integers(-3, 300), st.integers())


def _valid_string(value: str, limit: int) -> bool:
    return 1 <= len(value) <= limit and all(c in VISIBLE for c in value)


@FAST
@given(_VALUES)
@example("x" * 255)
@example("x" * 256)
def test_string_option_encoders(value: str) -> None:
    """Options 66 and 43 (string): the visible-ASCII value itself, 1..255 bytes, or an error."""
    for encode in (options.encode_tftp_server_name, options.encode_vendor_string):
        try:
            data = encode(value)
        except EncodingError:
            assert not _valid_string(value, options.MAX_OPTION_DATA)
        else:
            assert _valid_string(value, options.MAX_OPTION_DATA)
            assert isinstance(data, bytes) and data.decode("ascii") == value


@FAST
@given(_CODES, _VALUES)
@example(128, "x" * 255)
@example(254, "x")
@example(127, "x")
@example(255, "x")
def test_custom_option_encoder(code: int, value: str) -> None:
    try:
        data = options.encode_custom_option(code, value)
    except EncodingError:
        assert not (128 <= code <= 254 and _valid_string(value, options.MAX_OPTION_DATA))
    else:
        assert 128 <= code <= 254 and _valid_string(value, options.MAX_OPTION_DATA)
        assert data.decode("ascii") == value


@FAST
@given(_CODES, _VALUES)
@example(1, "x" * 253)
@example(254, "x" * 254)
@example(0, "x")
def test_vendor_suboption_encoder(code: int, value: str) -> None:
    """code, length, value: a valid sub-option frame that decodes back, 255 bytes at most."""
    try:
        data = options.encode_vendor_suboption(code, value)
    except EncodingError:
        assert not (1 <= code <= 254 and _valid_string(value, options.MAX_OPTION_DATA - 2))
    else:
        assert 1 <= code <= 254 and _valid_string(value, options.MAX_OPTION_DATA - 2)
        assert len(data) <= options.MAX_OPTION_DATA
        assert data[0] == code and data[1] == len(data) - 2
        assert options.decode_vendor_suboptions(data) == [(code, value.encode())]


@FAST
@given(_VALUES)
@example("b" * 127)
@example("b" * 128)
def test_boot_file_encoders(value: str) -> None:
    """Option 67 holds at most 127 bytes, so the name and its NUL fit the 128-byte file field."""
    try:
        data = options.encode_bootfile_name(value)
    except EncodingError:
        assert not _valid_string(value, options.MAX_BOOT_FILE)
        return
    assert _valid_string(value, 127) and data.decode("ascii") == value
    assert len(data) < options.BOOTP_FILE_FIELD  # room for the NUL that ends the file field
    assert b"\0" not in data  # so the field reads back exactly


_SUBOPTIONS = st.lists(
    st.tuples(st.integers(1, 254), st.binary(max_size=255)),
    max_size=4,
)


@FAST
@given(
    _SUBOPTIONS,
    st.lists(st.integers(0, 3), min_size=5, max_size=5),
    st.none() | st.binary(max_size=10),
)
def test_suboption_framing_decodes_back(
    suboptions: list[tuple[int, bytes]], pads: list[int], tail: bytes | None
) -> None:
    """Any well-framed sub-options, with pads between them and an end plus junk, decode back."""
    data = b""
    for (code, value), pad in zip(suboptions, pads, strict=False):
        data += b"\0" * pad + bytes((code, len(value))) + value
    if tail is not None:
        data += b"\xff" + tail
    assert options.decode_vendor_suboptions(data) == suboptions


@FAST
@given(st.binary(max_size=300))
def test_suboption_decoder_any_bytes(data: bytes) -> None:
    """Any bytes: sub-options that re-frame to a prefix of the data, or EncodingError."""
    try:
        pairs = options.decode_vendor_suboptions(data)
    except EncodingError:
        return
    assert all(1 <= code <= 254 and len(value) <= 255 for code, value in pairs)
    # The data reads as: pads, frame 1, pads, frame 2, ..., pads, then its end or an end octet.
    at = 0
    for code, value in pairs:
        while data[at] == 0:
            at += 1
        frame = bytes((code, len(value))) + value
        assert data[at : at + len(frame)] == frame
        at += len(frame)
    while at < len(data) and data[at] == 0:
        at += 1
    assert at == len(data) or data[at] == 255


# --------------------------------------------------------------------------------------------
# 2. The policy loader
# --------------------------------------------------------------------------------------------

_HOSTS = st.one_of(
    st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?(?:\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.just("[2001:db8::1]"),
)
_PATHS = st.text(alphabet=string.ascii_letters + string.digits + "-._~/%=&+,;", max_size=40)
URLS = st.builds(
    lambda scheme, user, host, port, path, tail: f"{scheme}://{user}{host}{port}/{path}{tail}",
    st.sampled_from(["tftp", "ftp", "http", "https", "HTTP", "Tftp"]),
    st.sampled_from(["", "admin@", "user:secret@"]),
    _HOSTS,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    _PATHS,
    st.sampled_from(["", "$mac.cfg", "?id=$mac", "#x", "$input"]),
)
BOOT_FILES = st.text(alphabet=VISIBLE, min_size=1, max_size=127)
# Free text (names, option 60 prefixes): any visible text (str.isprintable, and spaces); the
# loader refuses control and invisible characters, which integration/test_render_injection.py
# generates.
NAMES = st.text(alphabet=st.characters().filter(lambda c: c.isprintable()), max_size=12)
ORGANIZATIONS = ["Fanvil Technology", "fanvil", "no such organization, surely"]


@st.composite
def subnets(draw: st.DrawFn) -> str:
    """Anywhere, or inside 198.18.0.0/15 where sites often overlap (the first one wins)."""
    if draw(st.booleans()):
        prefixlen, address = draw(st.integers(8, 32)), draw(st.integers(0, 2**32 - 1))
    else:
        prefixlen, address = draw(st.integers(15, 26)), draw(st.integers(0xC6120000, 0xC613FFFF))
    return str(ipaddress.IPv4Network((address, prefixlen), strict=False))


@st.composite
def valid_policies(draw: st.DrawFn, max_devices: int = 5) -> tuple[dict[str, Any], dict[str, Any]]:
    """(document, expected ``model_dump(mode="json")``) for a policy that must load."""
    doc: dict[str, Any] = {"version": 1, "provisioning": {"url": draw(URLS)}}
    expected: dict[str, Any] = {
        "version": 1,
        "provisioning": dict(doc["provisioning"]),
        "delivery": {
            "option_66": True,
            "option_43": "string",
            "custom_option": None,
            "always_send": True,
        },
        "match": {
            "vendor_class_prefixes": ["Fanvil"],
            "ouis": default_prefixes(),
            "oui_organizations": [],
        },
        "sites": [],
        "devices": [],
        "dhcp_options": None,
        "devices_file": None,
    }
    if draw(st.booleans()):
        delivery: dict[str, Any] = {}
        for key, strategy in (
            ("option_66", st.booleans()),
            ("option_43", st.sampled_from(["string", "off", True, False]) | st.integers(1, 254)),
            ("custom_option", st.none() | st.integers(128, 254)),
            ("always_send", st.booleans()),
        ):
            if draw(st.booleans()):
                delivery[key] = draw(strategy)
        final = {**expected["delivery"], **delivery}
        if final["option_43"] is True:  # YAML `on`/`true`: the default form
            final["option_43"] = "string"
        elif final["option_43"] is False:  # YAML `off`
            final["option_43"] = "off"
        if not (final["option_66"] or final["option_43"] != "off" or final["custom_option"]):
            delivery["option_66"] = final["option_66"] = True
        doc["delivery"] = delivery
        expected["delivery"] = final
    if draw(st.booleans()):
        match: dict[str, Any] = {}
        if draw(st.booleans()):
            prefixes = draw(st.lists(NAMES.filter(bool), max_size=3))
            match["vendor_class_prefixes"] = expected["match"]["vendor_class_prefixes"] = prefixes
        if draw(st.booleans()):
            ouis = draw(st.lists(prefix_spellings(), max_size=4))
            match["ouis"] = [text for _, text in ouis]
            expected["match"]["ouis"] = [format_mac(raw) for raw, _ in ouis]
        if draw(st.booleans()):
            orgs = draw(st.lists(st.sampled_from(ORGANIZATIONS), max_size=2))
            match["oui_organizations"] = expected["match"]["oui_organizations"] = orgs
        doc["match"] = match
    names = draw(st.lists(NAMES.filter(bool), max_size=3, unique=True))
    for name in names:  # overlapping subnets are allowed: the first site wins
        nets = draw(st.lists(subnets(), min_size=1, max_size=3))
        site: dict[str, Any] = {"name": name, "subnet": nets if draw(st.booleans()) else nets[0]}
        want: dict[str, Any] = {
            "name": name,
            "subnet": nets if isinstance(site["subnet"], list) else nets[:1],
            "url": None,
            "boot_file": None,
            "dhcp_options": None,
        }
        if draw(st.booleans()):
            site["url"] = want["url"] = draw(URLS)
        if draw(st.booleans()):
            site["boot_file"] = want["boot_file"] = draw(BOOT_FILES)
        doc.setdefault("sites", []).append(site)
        expected["sites"].append(want)
    raws = draw(st.lists(st.binary(min_size=6, max_size=6), max_size=max_devices, unique=True))
    for raw in raws:
        _, spelled = draw(mac_spellings(raw))
        device: dict[str, Any] = {"mac": spelled}
        want = {
            "mac": format_mac(raw),
            "name": None,
            "url": None,
            "boot_file": None,
            "dhcp_options": None,
        }
        for key, strategy in (("name", NAMES), ("url", URLS), ("boot_file", BOOT_FILES)):
            if draw(st.booleans()):
                device[key] = want[key] = draw(strategy)
        doc.setdefault("devices", []).append(device)
        expected["devices"].append(want)
    if "sites" not in doc and draw(st.booleans()):
        doc["sites"] = []
    return doc, expected


def _dump(doc: Any, draw: st.DrawFn) -> str:
    return yaml.safe_dump(
        doc,
        allow_unicode=draw(st.booleans()),
        default_flow_style=draw(st.sampled_from([False, None, True])),
        sort_keys=draw(st.booleans()),
    )


@st.composite
def policy_texts(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    doc, expected = draw(valid_policies())
    return _dump(doc, draw), expected


def _located(exc: PolicyError, source: str) -> None:
    """Every problem renders as ``file:line[:column]: [field:] message``."""
    assert isinstance(exc, KeaFanvilError)
    assert exc.problems
    assert str(exc) == "\n".join(p.render(source) for p in exc.problems)
    for problem in exc.problems:
        where = problem.file or source
        assert problem.line is not None and problem.line >= 1, problem
        rendered = problem.render(source)
        assert re.match(rf"{re.escape(where)}:{problem.line}(:\d+)?: \S", rendered), rendered


def _parse_or_located_error(text: str, base_dir: Path | None = None) -> Policy | None:
    try:
        policy = parse_policy(text, "p.yaml", base_dir)
    except PolicyError as exc:
        _located(exc, "p.yaml")
        event(f"PolicyError: {exc.problems[0].message[:22]}")
        return None
    event("loads")
    return policy


@MEDIUM
@given(policy_texts(), st.booleans())
def test_valid_policies_load_and_round_trip(
    case: tuple[str, dict[str, Any]], from_file: bool
) -> None:
    text, expected = case
    if from_file:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "policy.yaml")
            path.write_text(text, encoding="utf-8")
            policy = load_policy(path)
    else:
        policy = parse_policy(text, "p.yaml")
    assert policy.model_dump(mode="json") == expected
    # The loaded policy, written back out, loads to the same policy.
    again = parse_policy(yaml.safe_dump(policy.model_dump(mode="json")), "again.yaml")
    assert again == policy
    # Overlaps are reported, not refused, and agree with a pairwise check.
    pairs = [
        (a.name, b.name)
        for i, a in enumerate(policy.sites)
        for b in policy.sites[i + 1 :]
        if any(x.overlaps(y) for x in a.subnets for y in b.subnets)
    ]
    assert site_overlaps(policy) == pairs


BASE = "version: 1\nprovisioning: {url: 'http://x/'}\n"


@MEDIUM
@given(
    st.integers(245, 262),
    st.integers(120, 132),
    st.sampled_from(["string", "off", 1, 254]),
    st.sampled_from(["provisioning", "sites[0]", "devices[0]"]),
)
def test_url_and_boot_file_limits(
    url_length: int, boot_length: int, option_43: str | int, where: str
) -> None:
    """A URL loads exactly when every carrier holds it (255 bytes, 253 in a sub-option), a
    boot file when the BOOTP file field holds it with its NUL (127); else the entry is named."""
    url = "http://x/" + "u" * (url_length - 9)
    boot = "b" * boot_length
    doc: dict[str, Any] = {
        "version": 1,
        "provisioning": {"url": url if where == "provisioning" else "http://x/"},
        "delivery": {"option_43": option_43},
    }
    entry: dict[str, Any] = {"url": url, "boot_file": boot}
    if where == "sites[0]":
        doc["sites"] = [{"name": "a", "subnet": "198.18.0.0/24", **entry}]
    elif where == "devices[0]":
        doc["devices"] = [{"mac": "0c383e000001", **entry}]
    url_fits = url_length <= (253 if isinstance(option_43, int) else 255)
    boot_fits = boot_length <= 127 or where == "provisioning"
    try:
        policy = parse_policy(yaml.safe_dump(doc), "p.yaml")
    except PolicyError as exc:
        _located(exc, "p.yaml")
        # Every problem at once: the field rules and the rules across entries (here: a URL of
        # 254 or 255 bytes under a sub-option), each entry named once.
        expected = [f"{where}.url"] if not url_fits else []
        expected += [f"{where}.boot_file"] if not boot_fits else []
        assert sorted(p.field for p in exc.problems) == sorted(expected)
    else:
        assert url_fits and boot_fits
        engine = Engine(policy)
        raw = engine.decide_raw(b"\x0c\x38\x3e\0\0\1", None, None, bytes(4), bytes((198, 18, 0, 9)))
        _obeys_the_hook_contract(raw)
        assert raw is not None and all(url.encode() in value for _, value in raw[0] if _ != 67)


# Bits of YAML and of policy values that provoke every kind of problem.
FRAGMENTS = [
    "\n",
    ": ",
    " ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "#",
    "&a ",
    "*a",
    "*b",
    "!!binary ",
    "!!str ",
    "!!python/object:os.system ",
    "? ",
    "'",
    '"',
    "\t",
    "\\",
    "|\n",
    ">\n",
    "~",
    "null",
    "true",
    "off",
    ".nan",
    "1e999",
    "0x1F",
    "99999999999999999999999999999999",
    "-1",
    "0c:38:3e",
    "10:00:00:00:00:01",
    "zz:zz",
    "<<: ",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\x00",
    "\x01",
    "\x7f",
    "\x85",
    "\ufeff",
    "\u2028",
    "é",
    "\U0001f4de",
    "version: 2\n",
    "colour: blue\n",
    "devices_file: nope.csv\n",
    "devices_file: .\n",
    "? [a, b]\n: c\n",
    "{[a]: b}",
    "url: gopher://x/\n",
    "subnet: 198.18.0.1/24\n",
    "  - mac: 0c383e000001\n",
]


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    text, _ = draw(policy_texts())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(
                ["insert", "append", "delete", "duplicate-line", "swap-lines", "replace"]
            )
        )
        lines = text.splitlines(keepends=True)
        if op == "append":  # at the top level, where a fragment is most likely to parse
            text += "\n" + draw(st.sampled_from(FRAGMENTS))
        elif op == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(FRAGMENTS) | st.text(max_size=3)) + text[at:]
        elif op == "delete":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif op == "duplicate-line" and lines:  # duplicate keys, duplicate devices
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        elif op == "swap-lines" and len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
        elif op == "replace" and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + draw(st.characters(blacklist_categories=("Cs",))) + text[at + 1 :]
    return text


@SLOW
@given(mutated_texts())
@example(BASE + "? [a, b]\n: c\n")  # an unhashable key escaped as TypeError
@example(BASE + "x: 'caf\u00e9 \x01'\n")  # a reader error had no line, and two lines of text
@example(BASE + "x: '\ud800'\n")  # a lone surrogate escaped as UnicodeEncodeError
@example(BASE + "devices: &a [*a]\n")
@example(BASE + "x: " + "[" * 2000 + "]" * 2000 + "\n")
def test_mutated_policy_text(text: str) -> None:
    """Any text: a policy that compiles and decides, or a PolicyError located file:line."""
    with tempfile.TemporaryDirectory() as tmp:
        policy = _parse_or_located_error(text, Path(tmp))
    if policy is not None:
        _engine_handles_every_device(policy)


# Anything YAML can represent, including what pydantic must refuse.
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**64, max_value=2**200),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=12),  # !!binary
    st.sampled_from(["0c:38:3e:11:3a:f8", "0c383e", "http://x/", "198.18.0.0/24", "off"]),
)
_VALUES_ANY = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["mac", "url", "name"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*here, i))
    return found


@st.composite
def damaged_documents(draw: st.DrawFn) -> str:
    """A valid document with values replaced, keys added and entries duplicated at random."""
    doc, _ = draw(valid_policies(max_devices=3))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "retype", "add-key", "duplicate", "remove"]))
        target = parent[path[-1]] if path else doc  # the root is damaged by the text test
        if action == "replace" and path:
            parent[path[-1]] = draw(_VALUES_ANY)
        elif action == "retype" and path and isinstance(target, str):
            # The same text as another YAML type: !!binary, a number, a list, a mapping...
            parent[path[-1]] = draw(
                st.sampled_from([target.encode(), [target], {target: 1}, None, 0, 2**70, 1.5])
            )
        elif action == "add-key" and isinstance(target, dict):
            target[draw(st.text(max_size=10))] = draw(_VALUES_ANY)
        elif action == "duplicate" and isinstance(target, list) and target:
            target.append(target[0])  # a duplicate device MAC or site name
        elif action == "remove" and path and isinstance(parent, dict):
            del parent[path[-1]]
    return _dump(doc, draw)


@SLOW
@given(damaged_documents())
# !!binary "0C-38-3E-11-3A-F8" and "zzz": pydantic's lax str took bytes past the MAC checks.
@example(BASE + "devices:\n- mac: !!binary MEMtMzgtM0UtMTEtM0EtRjg=\n")
@example(BASE + "match: {ouis: [!!binary enp6]}\n")
def test_damaged_policy_documents(text: str) -> None:
    """Wrong types, unknown keys, huge numbers, odd unicode, duplicates: PolicyError, located."""
    with tempfile.TemporaryDirectory() as tmp:
        policy = _parse_or_located_error(text, Path(tmp))
    if policy is not None:
        _engine_handles_every_device(policy)


@FEW
@given(policy_texts(), st.data())
def test_a_character_yaml_refuses_is_located_exactly(
    case: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    """YAML refuses control characters before parsing anything: the problem is at that spot,
    counted in characters (libyaml reports a byte offset into the UTF-8 text)."""
    text, _ = case
    at = data.draw(st.integers(0, len(text)))
    bad = data.draw(st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\x80", "\ufffe"]))
    try:
        parse_policy(text[:at] + bad + text[at:], "p.yaml")
    except PolicyError as exc:
        _located(exc, "p.yaml")
        (problem,) = exc.problems
        assert problem.message.startswith("YAML: unacceptable character")
        assert (problem.line, problem.column) == (
            text.count("\n", 0, at) + 1,
            at - text.rfind("\n", 0, at),
        )
    else:
        raise AssertionError(f"{bad!r} was accepted")


def test_problems_these_properties_found() -> None:
    """Each escaped as another exception, or was reported without a line, before the fix."""
    cases = {
        "? [a, b]\n: c\n": "p.yaml:3:3: YAML: found unhashable key",
        "x: 'caf\u00e9 \x01'\n": (
            "p.yaml:3:10: YAML: unacceptable character #x0001: control characters are not allowed"
        ),
        "x: '\ud800'\n": "p.yaml:3:5: YAML: character '\\ud800' is not valid Unicode text",
        "devices:\n- mac: !!binary MEMtMzgtM0UtMTEtM0EtRjg=\n": (
            "p.yaml:4:8: devices[0].mac: Input should be a valid string"
        ),
        "match: {ouis: [!!binary enp6]}\n": (
            "p.yaml:3:16: match.ouis[0]: Input should be a valid string"
        ),
    }
    for extra, expected in cases.items():
        try:
            parse_policy(BASE + extra, "p.yaml")
        except PolicyError as exc:
            assert str(exc) == expected
        else:
            raise AssertionError(f"{extra!r} was accepted")


def _engine_handles_every_device(policy: Policy) -> None:
    """A policy that loaded must compile, recognise each of its devices, and decide."""
    engine = Engine(policy)
    relay = bytes((198, 18, 7, 1))
    for device in policy.devices:
        assert CANONICAL_MAC.fullmatch(device.mac)
        raw = engine.decide_raw(mac_bytes(device.mac), None, bytes([43, 66, 67]), relay, relay)
        assert raw is not None
        _obeys_the_hook_contract(raw)
    for prefix in policy.match.ouis:
        assert CANONICAL_PREFIX.fullmatch(prefix)
        _obeys_the_hook_contract(engine.decide_raw(mac_bytes(prefix), b"x", None, relay, relay))
    for vendor_class in (b"Fanvil X4 2.10.2.6887", b"\xff" * 255, None):
        raw = engine.decide_raw(b"\x02" * 6, vendor_class, None, bytes(4), relay)
        _obeys_the_hook_contract(raw)


# ---- the devices_file CSV inventory --------------------------------------------------------

_CSV_NAMES = st.text(
    alphabet=st.characters().filter(lambda c: c.isprintable()) | st.sampled_from(',"#'),
    max_size=10,
)


@st.composite
def inventories(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], list[int]]:
    """(CSV text, expected devices, the line each device's row is on) for a good inventory."""
    columns = ["mac", *draw(st.lists(st.sampled_from(["url", "boot_file", "name"]), unique=True))]
    columns = draw(st.permutations(columns))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(columns)
    line = 1  # no cell holds a line break, so one row is one line
    expected, lines = [], []
    for raw in draw(st.lists(st.binary(min_size=6, max_size=6), max_size=6, unique=True)):
        _, spelled = draw(mac_spellings(raw))
        values = {
            "mac": spelled,
            "url": draw(st.none() | URLS),
            "boot_file": draw(st.none() | BOOT_FILES),
            "name": draw(st.none() | _CSV_NAMES),
        }
        row = [values[c] or "" for c in columns]
        filled = max(i for i, cell in enumerate(row) if cell) + 1
        writer.writerow(row[: draw(st.integers(filled, len(row)))])  # short rows are fine
        line += 1
        want = {
            "mac": format_mac(raw),
            "name": None,
            "url": None,
            "boot_file": None,
            "dhcp_options": None,
        }
        for column in columns:
            if column == "mac":
                continue
            value = (values[column] or "").strip()
            want[column] = value or None
        expected.append(want)
        lines.append(line)
        if draw(st.booleans()):  # blank and comment rows are skipped
            comment = [""] * columns.index("mac") + ["# a comment, 0c:38:3e:00:00:01"]
            writer.writerow(draw(st.sampled_from([[], [""] * len(columns), comment])))
            line += 1
    return out.getvalue(), expected, lines


@SLOW
@given(inventories(), st.lists(st.binary(min_size=6, max_size=6), max_size=2, unique=True))
def test_devices_file_rows_load(
    case: tuple[str, list[dict[str, Any]], list[int]], inline: list[bytes]
) -> None:
    text, expected, _ = case
    csv_macs = {d["mac"] for d in expected}
    inline = [raw for raw in inline if format_mac(raw) not in csv_macs]
    policy_text = "version: 1\nprovisioning:\n  url: http://prov.example.com/\n"
    policy_text += "devices_file: phones.csv\n"
    if inline:
        policy_text += "devices:\n" + "".join(f"  - mac: '{raw.hex()}'\n" for raw in inline)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "phones.csv").write_text(text, encoding="utf-8")
        Path(tmp, "policy.yaml").write_text(policy_text, encoding="utf-8")
        policy = load_policy(Path(tmp, "policy.yaml"))
    inline_expected = [
        {"mac": format_mac(raw), "name": None, "url": None, "boot_file": None, "dhcp_options": None}
        for raw in inline
    ]
    assert [d.model_dump(mode="json") for d in policy.devices] == inline_expected + expected


@FEW
@given(inventories(), st.data())
def test_a_bad_inventory_row_is_located(
    case: tuple[str, list[dict[str, Any]], list[int]], data: st.DataObject
) -> None:
    """Spoil one row's MAC: the one problem names the CSV file, that row and its line."""
    text, expected, lines = case
    if not expected:
        return
    k = data.draw(st.integers(0, len(expected) - 1))
    bad = data.draw(st.sampled_from(["zz", "0c:38:3e", "0c383e11223", "0c:38:3e:11:3a:f8:00"]))
    rows = re.findall(r"[^\n]*\n", text)  # not splitlines: a name may hold U+2028
    mac_column = rows[0].rstrip("\r\n").split(",").index("mac")
    cells = next(csv.reader([rows[lines[k] - 1]]))
    cells[mac_column] = bad
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    rows[lines[k] - 1] = out.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp, "phones.csv")
        csv_path.write_text("".join(rows), encoding="utf-8")
        Path(tmp, "policy.yaml").write_text(
            "version: 1\nprovisioning:\n  url: http://prov.example.com/\n"
            "devices_file: phones.csv\n",
            encoding="utf-8",
        )
        try:
            load_policy(Path(tmp, "policy.yaml"))
        except PolicyError as exc:
            _located(exc, str(Path(tmp, "policy.yaml")))
            (problem,) = exc.problems
            assert (problem.file, problem.line, problem.field) == (
                str(csv_path),
                lines[k],
                f"row {k + 1} mac",
            )
            assert "is not a MAC address" in problem.message
        else:
            raise AssertionError(f"{bad!r} was accepted")


_CSV_CELLS = st.one_of(
    st.sampled_from(
        ["0c:38:3e:00:00:01", "0c383e000002", "zz", "", "#", "http://x/", "gopher://x/", "a b"]
    ),
    st.text(max_size=10),
    st.just("b" * 128),
)


@st.composite
def broken_inventories(draw: st.DrawFn) -> bytes:
    """CSV bytes that may have any header, any cells, odd quoting, bad encodings."""
    good_header = st.lists(st.sampled_from(["url", "boot_file", "name"]), unique=True).flatmap(
        lambda rest: st.permutations(["mac", *rest])
    )
    any_header = st.lists(
        st.sampled_from(["mac", "url", "boot_file", "name", "colour", "", "MAC"]), max_size=4
    )
    header = draw(st.one_of(good_header, good_header, good_header, any_header))
    cell = st.one_of(_CSV_CELLS, mac_spellings().map(lambda pair: pair[1]), URLS, BOOT_FILES)
    rows = draw(st.lists(st.lists(cell, max_size=len(header) + 1), max_size=5))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b'"', b"\xff", b"\x00", b"\n", b",", b"\xef\xbb\xbf", b"\r"]))
        data = data[:at] + junk + data[at:]
    return data


@MEDIUM
@given(broken_inventories())
@example(b"mac\nzz\n")
@example(b"mac,boot_file\n0c:38:3e:00:00:01,a.cfg,extra\n")
@example(b"mac\n0c:38:3e:00:00:01\n0c383e000001\n")
@example(b"mac\n\xff\n")
def test_devices_file_problems_are_located(data: bytes) -> None:
    policy_text = "version: 1\nprovisioning:\n  url: http://prov.example.com/\n"
    policy_text += "devices_file: phones.csv\n"
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp, "phones.csv")
        csv_path.write_bytes(data)
        Path(tmp, "policy.yaml").write_text(policy_text, encoding="utf-8")
        try:
            policy = load_policy(Path(tmp, "policy.yaml"))
        except PolicyError as exc:
            source = str(Path(tmp, "policy.yaml"))
            _located(exc, source)
            event(f"PolicyError: {exc.problems[0].message.rsplit(': ', 1)[-1][:30]}")
            for problem in exc.problems:
                if problem.file is None:  # the file as a whole: blamed on `devices_file`
                    assert problem.field == "devices_file" and problem.line == 4
                else:
                    assert problem.file == str(csv_path)
                    assert problem.field.startswith("row ")
        else:
            event("loads")
            _engine_handles_every_device(policy)


# --------------------------------------------------------------------------------------------
# 4. The engine
# --------------------------------------------------------------------------------------------


@functools.cache
def _organization_prefixes(org: str) -> list[str]:
    return [p for p, _ in ouis_of_organization(org)]  # a registry scan: once per test run


def _reference(
    policy: Policy,
    mac: bytes,
    vendor_class: bytes | None,
    prl: bytes | None,
    giaddr: bytes,
    yiaddr: bytes,
) -> tuple[str | None, Any, Any]:
    """(matched_by, site, raw decision) worked out the slow, obvious way."""
    devices = {mac_bytes(d.mac): d for d in policy.devices}
    prefixes = list(policy.match.ouis)
    for org in policy.match.oui_organizations:
        prefixes += _organization_prefixes(org)
    device = devices.get(mac)
    if device is not None:
        matched = "device"
    elif vendor_class and any(
        vendor_class.lower().startswith(p.lower().encode())
        for p in policy.match.vendor_class_prefixes
    ):
        matched = "vendor-class"
    elif any(mac.startswith(mac_bytes(p)) for p in prefixes):
        matched = "oui"
    else:
        return None, None, None
    addresses = [ipaddress.IPv4Address(a) for a in (giaddr, yiaddr) if a != bytes(4)]
    site = next(
        (s for s in policy.sites if any(a in n for n in s.subnets for a in addresses)), None
    )
    url = (device and device.url) or (site and site.url) or policy.provisioning.url
    boot = (device and device.boot_file) or (site and site.boot_file) or None
    delivery = policy.delivery
    chosen = []
    if delivery.option_43 == "string":
        chosen.append((43, url.encode()))
    elif isinstance(delivery.option_43, int):
        chosen.append((43, bytes((delivery.option_43, len(url))) + url.encode()))
    if delivery.option_66:
        chosen.append((66, url.encode()))
    if delivery.custom_option is not None:
        chosen.append((delivery.custom_option, url.encode()))
    if boot:
        chosen.append((67, boot.encode()))
    chosen.sort()
    if not delivery.always_send:
        chosen = [o for o in chosen if o[0] in (prl or b"")]
    return matched, site, (tuple(chosen), boot.encode() if boot else None)


@st.composite
def facts(
    draw: st.DrawFn, policy: Policy
) -> tuple[bytes, bytes | None, bytes | None, bytes, bytes]:
    macs = st.binary(max_size=10)
    device_macs = [mac_bytes(d.mac) for d in policy.devices]
    if device_macs:
        macs |= st.sampled_from(device_macs)
    if policy.match.ouis:
        macs |= st.tuples(st.sampled_from(policy.match.ouis), st.binary(max_size=5)).map(
            lambda pair: mac_bytes(pair[0]) + pair[1]
        )
    vendor = st.none() | st.binary(max_size=255) | st.just(b"")
    prefixes = policy.match.vendor_class_prefixes
    if prefixes:
        vendor |= st.tuples(
            st.sampled_from(prefixes), st.integers(0, 2**20), st.binary(max_size=20)
        ).map(lambda t: _mixed_case(t[0], t[1]).encode() + t[2])
    codes = [43, 66, 67]
    if policy.delivery.custom_option:
        codes.append(policy.delivery.custom_option)
    prl = st.none() | st.binary(max_size=12) | st.lists(st.sampled_from(codes)).map(bytes)
    addresses = st.just(bytes(4)) | st.binary(min_size=4, max_size=4)
    networks = [n for s in policy.sites for n in s.subnets]
    if networks:
        addresses |= st.tuples(st.sampled_from(networks), st.integers(0, 2**32 - 1)).map(
            lambda t: t[0][t[1] % t[0].num_addresses].packed
        )
    return (
        draw(macs),
        draw(vendor),
        draw(prl),
        draw(addresses),
        draw(addresses),
    )


def _obeys_the_hook_contract(raw: Any) -> None:
    if raw is None:
        return
    assert isinstance(raw, tuple) and len(raw) == 2
    chosen, file_field = raw
    assert isinstance(chosen, tuple)
    for pair in chosen:
        assert isinstance(pair, tuple) and len(pair) == 2
        code, data = pair
        assert type(code) is int and 1 <= code <= 254
        assert type(data) is bytes and 1 <= len(data) <= options.MAX_OPTION_DATA
    codes = [code for code, _ in chosen]
    assert codes == sorted(set(codes))  # wire order, each code once
    assert file_field is None or (
        type(file_field) is bytes and len(file_field) <= options.BOOTP_FILE_FIELD
    )


@SLOW
@given(valid_policies(), st.data())
def test_engine_decisions(case: tuple[dict[str, Any], dict[str, Any]], data: st.DataObject) -> None:
    """decide_raw never raises, obeys the hook's contract, matches decide() and the reference."""
    doc, _ = case
    policy = parse_policy(yaml.safe_dump(doc), "p.yaml")
    engine = Engine(policy)
    for request in data.draw(st.lists(facts(policy), min_size=1, max_size=15)):
        mac, vendor_class, prl, giaddr, yiaddr = request
        raw = engine.decide_raw(mac, vendor_class, prl, giaddr, yiaddr)
        _obeys_the_hook_contract(raw)
        matched, site, expected = _reference(policy, *request)
        event(f"matched_by={matched}, site={site is not None}")
        assert raw == expected
        decision = engine.decide(Request(mac, vendor_class, prl, giaddr, yiaddr))
        assert decision.matched_by == matched
        if raw is None:
            assert decision.options == () and decision.url is None
            continue
        assert raw == (
            decision.options,
            decision.boot_file.encode() if decision.boot_file else None,
        )
        assert decision.site == (site.name if site else None)
        if decision.matched_by == "device":
            device = next(d for d in policy.devices if mac_bytes(d.mac) == mac)
            assert decision.device == (device.name or device.mac)
        else:
            assert decision.device is None
        if vendor_class:
            assert decision.vendor_class == parse_vendor_class(vendor_class)
        else:
            assert decision.vendor_class is None
        assert decision.url is not None
        for code, value in decision.options:
            if code in (66, policy.delivery.custom_option):
                assert value == decision.url.encode()


@SLOW
@given(
    valid_policies(),
    st.binary(max_size=64),
    st.none() | st.binary(max_size=255),
    st.none() | st.binary(max_size=255),
    st.binary(min_size=4, max_size=4),
    st.binary(min_size=4, max_size=4),
)
def test_engine_any_facts(
    case: tuple[dict[str, Any], dict[str, Any]],
    mac: bytes,
    vendor_class: bytes | None,
    prl: bytes | None,
    giaddr: bytes,
    yiaddr: bytes,
) -> None:
    """Completely random facts, not steered towards the policy: the same guarantees."""
    doc, _ = case
    engine = Engine(parse_policy(yaml.safe_dump(doc), "p.yaml"))
    raw = engine.decide_raw(mac, vendor_class, prl, giaddr, yiaddr)
    _obeys_the_hook_contract(raw)
    assert raw == _reference(engine.policy, mac, vendor_class, prl, giaddr, yiaddr)[2]
    decision = engine.decide(Request(mac, vendor_class, prl, giaddr, yiaddr))
    assert (raw is None) == (decision.matched_by is None)
    if raw is not None:
        assert raw == (
            decision.options,
            decision.boot_file.encode() if decision.boot_file else None,
        )
