"""Which files a policy builds, and their names (spec section 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kea_fanvil import PolicyError, parse_policy
from kea_fanvil.fanvil.naming import common_file
from kea_fanvil.files.build import build
from kea_fanvil.policy.plan import plan

BASE = 'version: 1\nprovisioning:\n  url: "http://198.18.0.1/fanvil/$mac.cfg"\n'


def _names(text: str) -> list[tuple[str, str, str]]:
    return [(f.name, f.kind, f.owner) for f in plan(parse_policy(BASE + text))]


@pytest.mark.parametrize(
    ("model", "name"),
    [
        # spec 3.1 lists these four, verbatim:
        ("C62", "f0C006200000.cfg"),
        ("C60", "f0C006000000.cfg"),
        ("C58", "f0C005800000.cfg"),
        ("C56", "f0C005600000.cfg"),
        # later C-series models, by the spec's rule: "f0C", the model in 4 digits, "00000"
        ("C400", "f0C040000000.cfg"),
        ("C600", "f0C060000000.cfg"),
        ("c66", "f0C006600000.cfg"),
        # later series follow their own published names (data/common_config_files.tsv)
        ("X3", "F0V00X300000.cfg"),
        ("X4", "f0X4hw1.100.cfg"),
        ("X6V2", "F0000X600000.cfg"),
    ],
)
def test_common_file_name_per_model(model: str, name: str, tmp_path: Path) -> None:
    policy = parse_policy(BASE + f"files:\n  models:\n    {model}: {{}}\n")
    report = build(policy, tmp_path)
    assert [f.name for f in report.files] == [name]
    assert (tmp_path / name).read_bytes().startswith(b"<<VOIP CONFIG FILE>>Version:2.0003\n")
    # One table for the probe and the build: what the probe expects is what is built.
    assert common_file(model).name == name


def test_models_in_use_come_from_devices_and_the_models_map() -> None:
    names = _names(
        "files:\n  models:\n    C60: {}\ndevices:\n"
        "  - {mac: 0c383e113af8, model: C62, boot_file: desk-12.cfg}\n"
        "  - {mac: 0c:38:3e:11:3a:f9, model: c62, custom_file: room-$mac.cfg, name: room}\n"
        "  - {mac: 0c383e113afa}\n"
    )
    assert names == [
        ("f0C006000000.cfg", "common", "C60"),
        ("f0C006200000.cfg", "common", "C62"),
        ("0c383e113af8.cfg", "mac", "0c:38:3e:11:3a:f8"),
        ("desk-12.cfg", "id", "0c:38:3e:11:3a:f8"),
        ("0c383e113af9.cfg", "mac", "0c:38:3e:11:3a:f9 (room)"),
        ("room-0c383e113af9.cfg", "custom", "0c:38:3e:11:3a:f9 (room)"),
        ("0c383e113afa.cfg", "mac", "0c:38:3e:11:3a:fa"),
    ]


def test_a_model_nobody_names_can_be_named_in_the_policy(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no known source names the Common file of X4U"):
        parse_policy(BASE + "devices:\n  - {mac: 0c383e113af8, model: X4U}\n")
    policy = parse_policy(
        BASE + "files:\n  models:\n    x4u: {common_file: f0X4Uhw1.100.cfg}\n"
        "devices:\n  - {mac: 0c383e113af8, model: X4U}\n"
    )
    assert [f.name for f in build(policy, tmp_path).files] == [
        "f0X4Uhw1.100.cfg",
        "0c383e113af8.cfg",
    ]


def test_xml_files_keep_the_names_the_phone_asks_for(tmp_path: Path) -> None:
    policy = parse_policy(
        BASE + "files:\n  format: xml\ndevices:\n  - {mac: 0c383e113af8, model: C62}\n"
    )
    build(policy, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".kea-fanvil-manifest.json",
        "0c383e113af8.cfg",
        "f0C006200000.cfg",
    ]
    assert (tmp_path / "0c383e113af8.cfg").read_text() == (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<VOIP_CONFIG_FILE>\n'
        "<version>2.0003</version>\n</VOIP_CONFIG_FILE>\n"
    )


def test_no_files_section_still_builds_the_device_files(tmp_path: Path) -> None:
    policy = parse_policy(BASE + "devices:\n  - {mac: 0c383e113af8}\n")
    report = build(policy, tmp_path)
    assert [(f.name, f.state) for f in report.files] == [("0c383e113af8.cfg", "new")]
    assert (tmp_path / "0c383e113af8.cfg").read_text() == (
        "<<VOIP CONFIG FILE>>Version:2.0003\n\n<<END OF FILE>>\n"
    )
