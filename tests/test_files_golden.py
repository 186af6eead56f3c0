"""Golden provisioning files: tests/golden/files/policy.yaml built as CFG, XML, and encrypted.

A change in layout, key names, versions or encryption shows up as a diff of these files.
Regenerate after a deliberate change with:  .venv/bin/python tests/test_files_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kea_fanvil.files.build import build
from kea_fanvil.policy.files import Encryption, FilesPolicy
from kea_fanvil.policy.loader import load_policy
from kea_fanvil.policy.models import Policy

GOLDEN = Path(__file__).resolve().parent / "golden" / "files"
# Test keys only, fixed so the encrypted goldens are reproducible.
COMMON_KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
DEVICE_KEY = "F0E1D2C3B4A5968778695A4B3C2D1E0F00112233445566778899AABBCCDDEEFF"
VARIANTS = ("cfg", "xml", "aes-256-ecb", "aes-256-cbc")


def variant_policy(variant: str) -> Policy:
    policy = load_policy(GOLDEN / "policy.yaml", check_files=True)
    files = policy.files or FilesPolicy()
    if variant == "xml":
        files = files.model_copy(update={"format": "xml"})
    elif variant.startswith("aes-"):
        encryption = Encryption.model_validate(
            {"mode": variant, "common_key": COMMON_KEY, "device_key": DEVICE_KEY}
        )
        files = files.model_copy(update={"encryption": encryption})
    return policy.model_copy(update={"files": files})


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("variant", VARIANTS)
def test_built_files_match_the_golden_ones(variant: str, tmp_path: Path) -> None:
    build(variant_policy(variant), tmp_path)
    expected = _tree(GOLDEN / variant)
    built = _tree(tmp_path)
    assert sorted(built) == sorted(expected)
    for name, data in expected.items():
        assert built[name] == data, (
            f"{variant}/{name} differs from the golden file: run python tests/test_files_golden.py"
        )


def test_golden_cfg_reads_as_the_spec_writes_it() -> None:
    common = (GOLDEN / "cfg" / "f0C006200000.cfg").read_text()
    assert common.startswith("<<VOIP CONFIG FILE>>Version:2.0003\n")
    assert "<AUTOUPDATE CONFIG MODULE>\nAuto Image URL     :http://198.18.0.1/firmware/c6x.z\n" in (
        common
    )
    assert "Auto Image Password:fw-pass\n" in common  # a 19-character key: no padding left
    assert common.endswith("<<END OF FILE>>\n")
    format_2 = (GOLDEN / "cfg" / "f0C005800000.cfg").read_text()
    assert "Auto Image Server  :198.18.0.1\nAuto Image Name    :c58.z\n" in format_2
    assert "Auto Image Protocol:2\n" in format_2
    xml = (GOLDEN / "xml" / "f0C006200000.cfg").read_text()
    assert "<Auto_Image_URL>http://198.18.0.1/firmware/c6x.z</Auto_Image_URL>" in xml
    assert "<LCD_Logo>Smith &amp; Sons &lt;Lab&gt;</LCD_Logo>" in xml


if __name__ == "__main__":
    import shutil

    for variant in VARIANTS:
        if len(sys.argv) > 1 and variant not in sys.argv[1:]:
            continue
        target = GOLDEN / variant
        shutil.rmtree(target, ignore_errors=True)
        build(variant_policy(variant), target)
        print(f"wrote tests/golden/files/{variant}/")
