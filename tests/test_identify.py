"""Option 60 parsing (against the real samples in data/), MACs, prefixes, the IEEE registry."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kea_fanvil.fanvil.identify import (
    PrefixMatcher,
    default_prefixes,
    normalize_mac,
    normalize_prefix,
    ouis_of_organization,
    parse_vendor_class,
)


def _samples() -> list[tuple[str, str, str, str]]:
    text = resources.files("kea_fanvil").joinpath("data/vendor_class_samples.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return [(r[0], r[1], r[2], r[3]) for r in rows]


@pytest.mark.parametrize(("text", "vendor", "model", "firmware"), _samples())
def test_real_samples(text: str, vendor: str, model: str, firmware: str) -> None:
    parsed = parse_vendor_class(text.encode())
    assert (parsed.vendor, parsed.model, parsed.firmware) == (vendor, model, firmware)


def test_samples_file_is_not_empty() -> None:
    assert len(_samples()) >= 6


@given(st.binary(max_size=255))
@example(bytes(range(1, 256)))  # 255 bytes: every value but NUL
@example(b"\xff" * 255)
@example(b"Fanvil " + b"1." * 124)
def test_any_bytes_parse_to_printable_text(data: bytes) -> None:
    parsed = parse_vendor_class(data)
    assert parsed.text.isprintable()
    assert len(parsed.text) == len(data)


@pytest.mark.parametrize(
    "value", ["0c:38:3e:11:3a:f8", "0C-38-3E-11-3A-F8", "0c38.3e11.3af8", "0c383e113af8"]
)
def test_mac_forms(value: str) -> None:
    assert normalize_mac(value) == "0c:38:3e:11:3a:f8"


@pytest.mark.parametrize(
    "value", ["0c:38:3e:11:3a", "0c:38-3e:11:3a:f8", "0c:38:3e:11:3a:g8", "0c:8:3e:11:3a:f8", ""]
)
def test_bad_macs(value: str) -> None:
    with pytest.raises(ValueError, match="is not a MAC address \\(use 0c:38:3e:11:3a:f8"):
        normalize_mac(value)


def test_prefixes() -> None:
    assert normalize_prefix("0C383E") == "0c:38:3e"
    assert normalize_prefix("0c-38") == "0c:38"
    for bad in ("0c:38:3e:11:3a:f8", "0c3", "zz"):
        with pytest.raises(ValueError, match="is not a MAC prefix"):
            normalize_prefix(bad)
    assert default_prefixes() == ["0c:38:3e", "00:a8:59"]


def test_registry_is_read_offline() -> None:
    assert ("0c:38:3e", "Fanvil Technology Co., Ltd.") in ouis_of_organization("fanvil tech")
    assert ouis_of_organization("no such organization, surely") == []


def test_prefix_matcher() -> None:
    matcher = PrefixMatcher(["0c:38:3e", "02:fa", "00:11:22:33:44"])
    assert matcher.match(bytes.fromhex("0c383e000001")) == bytes.fromhex("0c383e")
    assert matcher.match(bytes.fromhex("02fa00000001")) == bytes.fromhex("02fa")
    assert matcher.match(bytes.fromhex("001122334455")) == bytes.fromhex("0011223344")
    assert matcher.match(bytes.fromhex("001565000001")) is None
    assert not PrefixMatcher([])
