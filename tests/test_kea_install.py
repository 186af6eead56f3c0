"""Facts about the installed Kea and the hook's installation into Kea's hooks directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kea_fanvil import kea_install
from kea_fanvil.kea_install import KeaInstall, install_hook, parse_version


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("2.2.0\n", (2, 2, 0)),
        ("2.6.3 (tarball)", (2, 6, 3)),
        ("3.0.4 (3.0.4 (tarball))", (3, 0, 4)),
        ("2.6", (2, 6, kea_install.LINE_PATCH)),
    ],
)
def test_parse_version(text: str, version: tuple[int, int, int]) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize("text", ["", "two", "2", "2.6.3.1", "2.6x"])
def test_parse_version_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a Kea version such as 2\.6 or 3\.0\.4"):
        parse_version(text)


def test_rules_per_version() -> None:
    old, trixie, forky = (KeaInstall.for_version(v) for v in ((2, 2, 0), (2, 6, 3), (3, 0, 4)))
    assert (old.restricts_paths, trixie.restricts_paths, forky.restricts_paths) == (
        False,
        True,
        True,
    )
    assert not KeaInstall.for_version((2, 6, 2)).restricts_paths
    assert (old.has_lcase, trixie.has_lcase) == (False, True)
    assert (trixie.control_sockets_list, forky.control_sockets_list) == (False, True)
    assert KeaInstall.for_version((2, 6, kea_install.LINE_PATCH)).version_text == "2.6"
    assert forky.version_text == "3.0.4"


def _kea(tmp_path: Path) -> KeaInstall:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    return KeaInstall(version=(2, 6, 3), hooks_dir=hooks)


def test_install_replaces_atomically_with_mode_0644(tmp_path: Path) -> None:
    kea = _kea(tmp_path)
    built = tmp_path / "built.so"
    built.write_bytes(b"\x7fELF one")
    old = os.umask(0o077)
    try:
        target = install_hook(built, kea)
    finally:
        os.umask(old)
    assert target == kea.hooks_dir / "libdhcp_fanvil.so"
    assert target.read_bytes() == b"\x7fELF one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    kept = target.open("rb")  # a running Kea's mapping: the old inode stays whole
    built.write_bytes(b"\x7fELF two, longer")
    install_hook(built, kea)
    assert kept.read() == b"\x7fELF one"
    kept.close()
    assert target.read_bytes() == b"\x7fELF two, longer"
    assert sorted(p.name for p in kea.hooks_dir.iterdir()) == ["libdhcp_fanvil.so"]
    assert kea_install.same_file_contents(built, target)


def test_install_refuses_a_symlink_or_a_folder(tmp_path: Path) -> None:
    kea = _kea(tmp_path)
    built = tmp_path / "built.so"
    built.write_bytes(b"\x7fELF")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"precious")
    kea.hook_path.symlink_to(elsewhere)
    with pytest.raises(OSError, match="is not a regular file; remove it before installing"):
        install_hook(built, kea)
    assert elsewhere.read_bytes() == b"precious"
    kea.hook_path.unlink()
    kea.hook_path.mkdir()
    with pytest.raises(OSError, match="is not a regular file"):
        install_hook(built, kea)


def test_install_needs_the_hooks_directory(tmp_path: Path) -> None:
    kea = KeaInstall(version=(3, 0, 4), hooks_dir=tmp_path / "absent")
    built = tmp_path / "built.so"
    built.write_bytes(b"\x7fELF")
    with pytest.raises(OSError, match="Kea's hooks directory does not exist"):
        install_hook(built, kea)


def test_installed_asks_kea() -> None:
    if kea_install.shutil.which("kea-dhcp4", path=kea_install._PATH) is None:
        pytest.skip("kea-dhcp4 is not installed here")
    kea = kea_install.installed()
    assert kea.version >= (2, 2, 0)
    assert (kea.hooks_dir / "libdhcp_lease_cmds.so").is_file()  # Kea's own hooks live there
