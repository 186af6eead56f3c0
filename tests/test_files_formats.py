"""CFG and XML layouts: whatever the policy accepts reads back exactly (hypothesis)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kea_fanvil.fanvil.config_formats import KEY_COLUMNS, Sections, read_version, render, xml_name
from kea_fanvil.policy.files import FileSettings
from kea_fanvil.policy.sections import sections

SECTION = st.from_regex(r"[A-Z][A-Z0-9_]{0,11}", fullmatch=True)
KEY = st.from_regex(r"[A-Za-z][A-Za-z0-9 ._-]{0,25}[A-Za-z0-9]", fullmatch=True)
VALUE = st.text(max_size=60)  # what the policy refuses, the test skips


def _settings(extra: dict[str, dict[str, str]]) -> FileSettings | None:
    try:
        return FileSettings.model_validate({"extra": extra})
    except ValidationError:
        return None


def _parse_cfg(text: str) -> tuple[str, Sections]:
    lines = text.split("\n")
    assert lines[0].startswith("<<VOIP CONFIG FILE>>Version:")
    assert lines[-2:] == ["<<END OF FILE>>", ""]
    found: Sections = []
    for line in lines[1:-2]:
        if not line:
            continue
        if line.startswith("<") and line.endswith(" CONFIG MODULE>"):
            found.append((line[1 : -len(" CONFIG MODULE>")], []))
            continue
        key, value = line.split(":", 1)  # keys hold no ':'; values may (URLs)
        assert len(key) >= KEY_COLUMNS  # padded to the column, or longer
        found[-1][1].append((key.rstrip(" "), value))
    return lines[0].split(":", 1)[1], found


def _parse_xml(data: bytes) -> tuple[str, Sections]:
    root = ET.fromstring(data)
    assert root.tag == "VOIP_CONFIG_FILE"
    version, *modules = list(root)
    assert version.tag == "version"
    return version.text or "", [
        (m.tag.removesuffix("_CONFIG_MODULE"), [(e.tag, e.text or "") for e in m]) for m in modules
    ]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(SECTION, st.dictionaries(KEY, VALUE, max_size=6), max_size=4))
def test_cfg_and_xml_read_back(extra: dict[str, dict[str, str]]) -> None:
    accepted = _settings(extra)
    if accepted is None:
        return  # e.g. trailing spaces in a key: refused with a message, tested elsewhere
    expected = sections(accepted)
    version, found = _parse_cfg(render(expected, "cfg", "2.0042").decode("utf-8"))
    assert version == "2.0042"
    assert found == [(s, [(k, v) for k, v in lines]) for s, lines in expected]
    xml_version, xml_found = _parse_xml(render(expected, "xml", "2.0042"))
    assert xml_version == "2.0042"
    assert xml_found == [(s, [(xml_name(k), v) for k, v in lines]) for s, lines in expected]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<<VOIP CONFIG FILE>>Version:2.0003\n<<END OF FILE>>\n", ("cfg", "2.0003")),
        (b"\xef\xbb\xbf<<VOIP CONFIG FILE>>Version: 12.0100\n", ("cfg", "12.0100")),
        (
            b'<?xml version="1.0" ?>\n<VOIP_CONFIG_FILE>\n<version>2.0004</version>',
            ("xml", "2.0004"),
        ),
        (b"<sysConf><Version>2.0</Version></sysConf>", None),
        (b"\x8e\xa2\xb7\xca", None),
    ],
)
def test_read_version(data: bytes, expected: tuple[str, str] | None) -> None:
    assert read_version(data) == expected


def test_xml_names() -> None:
    assert xml_name("Auto Image URL") == "Auto_Image_URL"
    assert xml_name("SIP1 Phone Number") == "SIP1_Phone_Number"
    assert xml_name("--SIP Line List--") is None
    assert xml_name("xmlthing") is None  # names starting with "xml" are reserved (XML 1.0 2.3)
