"""Facts about the installed Kea, asked of Kea itself, and the rules each version imposes.

``kea-dhcp4 -V`` gives the version and ``kea-dhcp4 -W`` (the build's configuration report) the
hooks directory; both exist from Kea 1.x to 3.0. From 2.6.3 (and 3.0.1; the fixes of
CVE-2025-32801, -32802 and -32803) Kea accepts files only in its own folders: log ``output``
files under ``/var/log/kea``, memfile lease files under ``/var/lib/kea``, unix control sockets
under ``/run/kea`` (which must exist, mode 0750; systemd's ``RuntimeDirectory=kea`` makes it for
the packaged services) and hook libraries from the hooks directory only. Those folders are the
ones Debian's packages build in (``--localstatedir=/var``, ``--runstatedir=/run``); Kea 3.0 can
move them with ``KEA_LOG_FILE_DIR``, ``KEA_DHCP_DATA_DIR``, ``KEA_CONTROL_SOCKET_DIR`` and
``KEA_HOOKS_PATH``, which are honoured here when set, as Kea would.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kea_fanvil import safe_files
from kea_fanvil.errors import KeaNotFound

__all__ = [
    "HOOK_LIBRARY_NAME",
    "LINE_PATCH",
    "KeaInstall",
    "KeaNotFound",
    "KeaVersion",
    "install_hook",
    "installed",
    "parse_version",
    "same_file_contents",
]

HOOK_LIBRARY_NAME = "libdhcp_fanvil.so"
# Debian's multiarch hooks folder, used only when `kea-dhcp4 -W` does not name one.
_DEBIAN_HOOKS_DIR = Path("/usr/lib/x86_64-linux-gnu/kea/hooks")
_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])

KeaVersion = tuple[int, int, int]




# A release line given without its patch number ("2.6") stands for its newest release: the
# rules that came with a patch (2.6.3's restricted folders) apply to it.
LINE_PATCH = 999


def parse_version(text: str) -> KeaVersion:
    """``"2.6.3"`` (or ``"3.0.4 (tarball)"``, a ``-V`` line) -> (2, 6, 3); ``"2.6"`` ->
    (2, 6, LINE_PATCH), the line's newest release."""
    found = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?(?=\s|$)", text)
    if found is None:
        raise ValueError(f"{text.strip()!r} is not a Kea version such as 2.6 or 3.0.4")
    patch = int(found[3]) if found[3] is not None else LINE_PATCH
    return (int(found[1]), int(found[2]), patch)


@dataclass(frozen=True)
class KeaInstall:
    """What a configuration and the hook must follow for one Kea version."""

    version: KeaVersion
    hooks_dir: Path
    log_dir: Path = Path("/var/log/kea")
    data_dir: Path = Path("/var/lib/kea")
    socket_dir: Path = Path("/run/kea")

    @property
    def version_text(self) -> str:
        major, minor, patch = self.version
        return f"{major}.{minor}" if patch == LINE_PATCH else f"{major}.{minor}.{patch}"

    @property
    def restricts_paths(self) -> bool:
        """Kea refuses logs, leases, sockets and hooks outside its own folders.

        2.6.3 and 3.0.1 brought the rule; 2.7.x development releases before it did not have
        it, nor did 3.0.0, but no Debian release ships those, and following the rule where it
        is not enforced costs nothing, so every version from 2.6.3 on is treated alike."""
        return self.version >= (2, 6, 3)

    @property
    def control_sockets_list(self) -> bool:
        """3.0 configures control sockets as a list (``control-sockets``: unix and HTTP, served
        by kea-dhcp4 itself). 3.0.4 still accepts the single ``control-socket`` of 2.x as a
        list of one; 2.6.3 refuses ``control-sockets`` ("unexpected keyword")."""
        return self.version >= (3, 0, 0)

    @property
    def has_lcase(self) -> bool:
        """``lcase()`` and ``ucase()`` in expressions came with 2.5.2 (Kea's ChangeLog)."""
        return self.version >= (2, 5, 2)

    @property
    def splits_long_options(self) -> bool:
        """kea-dhcp4 sends an option of over 255 bytes as several of one code (RFC 3396).

        ChangeLog entry 2018 (2.1.6) added the splitting to Pkt4::pack; checked on the wire
        for 2.2, 2.6 and 3.0 by integration/test_long_options_wire.py."""
        return self.version >= (2, 1, 6)

    @property
    def expires_released_leases(self) -> bool:
        """A RELEASE expires the lease (kept, for "lease affinity": the client gets the same
        address back) instead of deleting it, and the address counts as assigned until the
        reclamation routine runs (``reclaim-timer-wait-time``, 10 s by default).

        Seen on the wire: 2.6.3 and 3.0.4 log DHCP4_RELEASE_EXPIRED, 2.2.0 deletes the lease.
        The default ``hold-reclaimed-time`` (3600 s) turns it on; whether 2.4 has it is not
        checked here, so only the 2.6 line onwards is claimed."""
        return self.version >= (2, 6, 0)

    @property
    def hook_path(self) -> Path:
        return self.hooks_dir / HOOK_LIBRARY_NAME

    @classmethod
    def for_version(cls, version: KeaVersion) -> KeaInstall:
        """The rules of a version that need not be installed here (rendering for another
        machine): Debian's folders, with Kea 3.0's environment overrides when set."""
        return cls(version=version, hooks_dir=_env_dir("KEA_HOOKS_PATH", _DEBIAN_HOOKS_DIR))


def _env_dir(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def _kea_dhcp4() -> str:
    found = shutil.which("kea-dhcp4", path=_PATH)
    if found is None:
        raise KeaNotFound("kea-dhcp4 is not installed: install Debian's kea-dhcp4-server")
    return found


def _ask(binary: str, flag: str) -> str:
    try:
        done = subprocess.run(
            [binary, flag], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KeaNotFound(f"{binary} {flag} failed: {exc}") from exc
    if done.returncode != 0:
        raise KeaNotFound(f"{binary} {flag} exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


@functools.cache
def installed() -> KeaInstall:
    """The Kea on this machine, as ``kea-dhcp4`` describes itself (cached per process)."""
    binary = _kea_dhcp4()
    version_line = _ask(binary, "-V").strip().splitlines()[:1]
    try:
        version = parse_version(version_line[0] if version_line else "")
    except ValueError as exc:
        raise KeaNotFound(f"{binary} -V: {exc}") from exc
    report = _ask(binary, "-W")
    # "   Hooks directory:   /usr/lib/x86_64-linux-gnu/kea/hooks" (2.2, 2.6 and 3.0 alike)
    named = re.search(r"^\s*Hooks directory:\s*(\S+)\s*$", report, re.MULTILINE)
    hooks_dir = Path(named[1]) if named else _DEBIAN_HOOKS_DIR
    return KeaInstall(
        version=version,
        hooks_dir=_env_dir("KEA_HOOKS_PATH", hooks_dir),
        log_dir=_env_dir("KEA_LOG_FILE_DIR", KeaInstall.log_dir),
        data_dir=_env_dir("KEA_DHCP_DATA_DIR", KeaInstall.data_dir),
        socket_dir=_env_dir("KEA_CONTROL_SOCKET_DIR", KeaInstall.socket_dir),
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same_file_contents(a: Path, b: Path) -> bool:
    """Whether two files hold the same bytes (False when either is missing)."""
    try:
        return a.stat().st_size == b.stat().st_size and _digest(a) == _digest(b)
    except OSError:
        return False


def install_hook(library: Path, kea: KeaInstall) -> Path:
    """Copy the built hook into Kea's hooks directory, root-owned, mode 0644.

    Replaced atomically (safe_files.write_atomic), so a running Kea keeps the library it
    mapped and never sees half a file. A symlink there is refused rather than followed: the
    library Kea loads must be the file in its own folder."""
    target = kea.hook_path
    if not kea.hooks_dir.is_dir():
        raise OSError(f"{kea.hooks_dir}: Kea's hooks directory does not exist")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise OSError(f"{target} is not a regular file; remove it before installing the hook")
    safe_files.write_atomic(target, safe_files.read_bytes(library, 1 << 28), mode=0o644)
    if os.geteuid() == 0:
        os.chown(target, 0, 0)  # an earlier copy's owner is not kept: Kea's hooks are root's
    return target
