"""Versions: +0.0001 only on a change, byte-identical rebuilds, a manifest that survives mishaps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kea_fanvil import parse_policy
from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil.config_formats import format_version, parse_version, read_version
from kea_fanvil.files.build import MANIFEST_NAME, build
from kea_fanvil.policy.models import Policy

BASE = 'version: 1\nprovisioning:\n  url: "http://198.18.0.1/fanvil/$mac.cfg"\n'
KEY = "00112233445566778899aabbccddeeff" * 2


def _policy(phone_number: str = "201", extra_devices: str = "", files: str = "") -> Policy:
    return parse_policy(
        BASE
        + (files or "files:\n  models:\n    C62: {}\n")
        + "devices:\n  - mac: 0c383e113af8\n    model: C62\n"
        + f"    settings: {{extra: {{SIP: {{SIP1 Phone Number: '{phone_number}'}}}}}}\n"
        + extra_devices
    )


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _version(path: Path) -> str:
    found = read_version(path.read_bytes())
    assert found is not None
    return found[1]


@pytest.mark.parametrize("file_format", ["cfg", "xml"])
def test_rebuilding_an_unchanged_policy_changes_no_byte(file_format: str, tmp_path: Path) -> None:
    policy = _policy(files=f"files:\n  format: {file_format}\n")
    build(policy, tmp_path)
    before = _snapshot(tmp_path)
    report = build(_policy(files=f"files:\n  format: {file_format}\n"), tmp_path)
    assert {f.state for f in report.files} == {"unchanged"}
    assert _snapshot(tmp_path) == before  # bytes and modification times: nothing rewritten


def test_only_the_changed_file_moves_up_by_one_step(tmp_path: Path) -> None:
    build(_policy("201"), tmp_path)
    report = build(_policy("202"), tmp_path)
    states = {f.name: (f.state, f.version) for f in report.files}
    assert states == {
        "f0C006200000.cfg": ("unchanged", "2.0003"),
        "0c383e113af8.cfg": ("changed", "2.0004"),
    }
    assert _version(tmp_path / "0c383e113af8.cfg") == "2.0004"
    build(_policy("203"), tmp_path)
    build(_policy("203"), tmp_path)
    assert _version(tmp_path / "0c383e113af8.cfg") == "2.0005"
    assert _version(tmp_path / "f0C006200000.cfg") == "2.0003"
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["files"]["0c383e113af8.cfg"]["version"] == "2.0005"


def test_first_version_is_a_floor(tmp_path: Path) -> None:
    build(_policy(), tmp_path)
    report = build(_policy(files="files:\n  first_version: '3.0000'\n"), tmp_path)
    assert {f.version for f in report.files} == {"3.0000"}
    assert {f.state for f in report.files} == {"changed"}
    again = build(_policy(files="files:\n  first_version: '3.0000'\n"), tmp_path)
    assert {f.state for f in again.files} == {"unchanged"}


def test_a_removed_device_is_deleted_and_comes_back_above_its_old_version(tmp_path: Path) -> None:
    other = "  - {mac: 0c383e113af9, boot_file: lobby.cfg}\n"
    build(_policy(extra_devices=other), tmp_path)
    (tmp_path / "keep-me.txt").write_text("not ours")
    report = build(_policy(), tmp_path)
    assert {(f.name, f.state) for f in report.files if f.state == "removed"} == {
        ("0c383e113af9.cfg", "removed"),
        ("lobby.cfg", "removed"),
    }
    assert not (tmp_path / "lobby.cfg").exists() and (tmp_path / "keep-me.txt").exists()
    back = build(_policy(extra_devices=other), tmp_path)
    assert {f.name: f.version for f in back.files if f.state == "new"} == {
        "0c383e113af9.cfg": "2.0004",
        "lobby.cfg": "2.0004",
    }


def test_a_lost_manifest_does_not_restart_versions(tmp_path: Path) -> None:
    files = f"files:\n  encryption: {{device_key: '{KEY}'}}\n"
    build(_policy("201", files=files), tmp_path)
    build(_policy("202", files=files), tmp_path)  # device file now at 2.0004, encrypted
    (tmp_path / MANIFEST_NAME).unlink()
    # Versions are read back from the files themselves (decrypted with the policy's key).
    report = build(_policy("202", files=files), tmp_path)
    assert {f.name: (f.version, f.state) for f in report.files} == {
        "f0C006200000.cfg": ("2.0003", "unchanged"),
        "0c383e113af8.cfg": ("2.0004", "unchanged"),
    }
    (tmp_path / MANIFEST_NAME).unlink()
    report = build(_policy("203", files=files), tmp_path)
    assert {f.name: (f.version, f.state) for f in report.files} == {
        "f0C006200000.cfg": ("2.0003", "unchanged"),
        "0c383e113af8.cfg": ("2.0005", "new"),
    }


def test_a_deleted_or_edited_file_is_restored_at_its_version(tmp_path: Path) -> None:
    build(_policy(), tmp_path)
    original = (tmp_path / "0c383e113af8.cfg").read_bytes()
    (tmp_path / "0c383e113af8.cfg").write_text("edited by hand")
    (tmp_path / "f0C006200000.cfg").unlink()
    report = build(_policy(), tmp_path)
    assert {f.state for f in report.files} == {"restored"}
    assert (tmp_path / "0c383e113af8.cfg").read_bytes() == original


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = build(_policy(), out, dry_run=True)
    assert not out.exists() and {f.state for f in report.files} == {"new"}
    build(_policy("201"), out)
    before = _snapshot(out)
    report = build(_policy("202"), out, dry_run=True)
    assert [f.state for f in report.files] == ["unchanged", "changed"]
    assert _snapshot(out) == before


def test_files_are_readable_by_the_servers_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        build(_policy(), tmp_path)
    finally:
        os.umask(old)
    assert (tmp_path / "0c383e113af8.cfg").stat().st_mode & 0o777 == 0o644


def test_a_broken_manifest_is_an_error_not_a_reset(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(FilesError, match=r"cannot read .*kea-fanvil-manifest\.json.*restore it"):
        build(_policy(), tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"manifest": 7, "files": {}}')
    with pytest.raises(FilesError, match="is not a kea-fanvil manifest"):
        build(_policy(), tmp_path)
    victim = tmp_path.parent / "victim.cfg"
    victim.write_text("not ours")
    (tmp_path / MANIFEST_NAME).write_text(
        '{"manifest": 1, "files": {"../victim.cfg": {"version": "2.0003", "sha256": "ab"}}}'
    )
    with pytest.raises(FilesError, match=r"lists '\.\./victim\.cfg', which is not a file name"):
        build(_policy(), tmp_path)
    assert victim.exists()


def test_an_unwritable_folder_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FilesError, match="cannot create"):
        build(_policy(), blocker / "out")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=99_999_999))
def test_versions_print_and_parse_back(value: int) -> None:
    text = format_version(value)
    assert parse_version(text) == value
    assert format_version(value + 1) > text or len(format_version(value + 1)) > len(text)
