"""Build the provisioning files a policy describes: names, contents, versions, encryption.

Which files is :mod:`kea_fanvil.policy.plan` (checked when the policy is loaded).

File names are the ones the phone asks for, whatever the format: XML files are named ``.cfg``
too (the phone reads the format from the content, as wazo-provd's XML files show).

Versions: each file's ``Version`` goes up by 0.0001 only when its content changes, so a rebuild
of an unchanged policy writes byte-identical files and phones do not re-apply (and reboot) for
nothing (FIELD-NOTES "CFG format"). The folder's manifest (``.kea-fanvil-manifest.json``) keeps
each file's version and the SHA-256 of the bytes served; a digest of the served bytes reveals
nothing the server does not already hand out, even for encrypted files. Files that leave the
policy are deleted (only files the manifest lists), and their versions are kept so that a
device coming back continues above the version its phone last saw.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kea_fanvil import safe_files
from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil import config_formats
from kea_fanvil.fanvil import crypto as file_crypto
from kea_fanvil.fanvil.crypto import KeyKind
from kea_fanvil.fanvil.naming import FileKind
from kea_fanvil.policy.files import (
    Encryption,
    FilesPolicy,
    check_file_name,
)
from kea_fanvil.policy.models import Policy
from kea_fanvil.policy.plan import PlannedFile, plan
from kea_fanvil.policy.sections import sections

__all__ = [
    "FILE_MODE",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "BuildReport",
    "BuiltFile",
    "State",
    "build",
    "key_for",
    "read_manifest",
]

State = Literal["new", "changed", "unchanged", "restored", "removed"]
MANIFEST_NAME = ".kea-fanvil-manifest.json"  # hidden: the file names never start with "."
MANIFEST_FORMAT = 1
FILE_MODE = 0o644  # nginx (www-data) and tftpd (tftp) read them as other users


# --- versions and the manifest ------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    version: int
    sha256: str | None  # None: no longer built; the version is kept for its return


def read_manifest(out_dir: Path) -> dict[str, _Entry]:
    path = out_dir / MANIFEST_NAME
    try:
        raw: Any = json.loads(safe_files.read_text(path))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise FilesError(
            f"cannot read {path}: {exc}; restore it, or remove it and the next build reads "
            "each version back from the files themselves"
        ) from None
    try:
        if raw["manifest"] != MANIFEST_FORMAT:
            raise ValueError(f"manifest format {raw['manifest']!r} is not {MANIFEST_FORMAT}")
        entries = {
            name: _Entry(config_formats.parse_version(entry["version"]), entry["sha256"])
            for name, entry in raw["files"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FilesError(f"{path} is not a kea-fanvil manifest: {exc!r}") from None
    for name in entries:
        # The build deletes what the manifest lists: never a path outside the folder.
        if check_file_name(name) is not None:
            raise FilesError(f"{path} lists {name!r}, which is not a file name it would write")
    return entries


def _manifest_text(entries: dict[str, _Entry]) -> str:
    files = {
        name: {"version": config_formats.format_version(e.version), "sha256": e.sha256}
        for name, e in sorted(entries.items())
    }
    document = {
        "about": "kea-fanvil files build: the version of each file in this folder, and of "
        "files it removed (so a device coming back continues above them); keep it with them",
        "manifest": MANIFEST_FORMAT,
        "files": files,
    }
    return json.dumps(document, indent=1) + "\n"


# --- building -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltFile:
    name: str
    kind: FileKind | None  # None for a removed file: the manifest does not keep kinds
    owner: str
    version: str
    state: State
    encrypted_with: KeyKind | None
    size: int


@dataclass(frozen=True)
class BuildReport:
    out_dir: Path
    file_format: str
    encryption: Encryption | None
    files: tuple[BuiltFile, ...]
    dry_run: bool = False

    def count(self, state: State) -> int:
        return sum(1 for f in self.files if f.state == state)


def _keys(encryption: Encryption | None) -> dict[KeyKind, bytes]:
    if encryption is None:
        return {}
    keys: dict[KeyKind, bytes] = {}
    if encryption.common_key is not None:
        keys["common"] = bytes.fromhex(encryption.common_key.get_secret_value())
    if encryption.device_key is not None:
        keys["device"] = bytes.fromhex(encryption.device_key.get_secret_value())
    return keys


class _Encoder:
    def __init__(self, files_policy: FilesPolicy) -> None:
        self.format = files_policy.format
        self.encryption = files_policy.encryption
        self.keys = _keys(self.encryption)

    def encode(self, planned: PlannedFile, version: int) -> bytes:
        text = config_formats.render(
            sections(planned.settings), self.format, config_formats.format_version(version)
        )
        key = self.keys.get(planned.key_kind)
        if key is None or self.encryption is None:
            return text
        return file_crypto.encrypt(text, key, self.encryption.mode, self.encryption.padding)

    def version_on_disk(self, planned: PlannedFile, data: bytes) -> int | None:
        """The version of a file the manifest does not know (a lost manifest, an older tool)."""
        key = self.keys.get(planned.key_kind)
        if key is not None and self.encryption is not None:
            try:
                data = file_crypto.decrypt(data, key, self.encryption.mode, self.encryption.padding)
            except FilesError:
                return None
        found = config_formats.read_version(data)
        return config_formats.parse_version(found[1]) if found else None


def _read(path: Path) -> bytes | None:
    try:
        return safe_files.read_bytes(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FilesError(f"cannot read {path}: {exc.strerror or exc}") from None


def _write(path: Path, data: bytes) -> None:
    try:
        # FILE_MODE whatever the file had: the servers must read it.
        safe_files.write_atomic(path, data, mode=FILE_MODE)
    except OSError as exc:
        raise FilesError(f"cannot write {path}: {exc.strerror or exc}") from None


def build(policy: Policy, out_dir: str | Path, dry_run: bool = False) -> BuildReport:
    """Write the files of ``policy`` into ``out_dir`` (created if needed); see the module text.

    ``dry_run``: work out every version and state, write and delete nothing.
    """
    out = Path(out_dir)
    files_policy = policy.files or FilesPolicy()
    planned = plan(policy)
    if not dry_run and not out.is_dir():
        try:
            out.mkdir(parents=True)
            out.chmod(0o755)  # whatever the umask: the servers' users must enter it
        except OSError as exc:
            raise FilesError(f"cannot create {out}: {exc.strerror or exc}") from None
    manifest = read_manifest(out)
    first = config_formats.parse_version(files_policy.first_version)
    encoder = _Encoder(files_policy)
    entries = dict(manifest)
    results: list[BuiltFile] = []
    for item in planned:
        path = out / item.name
        on_disk = _read(path)
        old = manifest.get(item.name)
        state: State | None = None
        data: bytes | None = None  # set when the file at its old version is still right
        if old is not None and old.sha256 is not None:
            same = encoder.encode(item, old.version)
            if hashlib.sha256(same).hexdigest() == old.sha256 and old.version >= first:
                version, data = old.version, same
                state = "unchanged" if on_disk == same else "restored"
            else:
                version, state = max(old.version + 1, first), "changed"
        else:
            seen = old.version if old is not None else None
            if seen is None and on_disk is not None:
                seen = encoder.version_on_disk(item, on_disk)
                if seen is not None and seen >= first:
                    same = encoder.encode(item, seen)
                    if same == on_disk:  # the manifest was lost, not the file
                        version, state, data = seen, "unchanged", same
            if state is None:
                version = first if seen is None else max(seen + 1, first)
                state = "new"
        if data is None:
            data = encoder.encode(item, version)
        if not dry_run and on_disk != data:
            _write(path, data)
        entries[item.name] = _Entry(version, hashlib.sha256(data).hexdigest())
        encrypted = item.key_kind if item.key_kind in encoder.keys else None
        results.append(
            BuiltFile(
                item.name,
                item.kind,
                item.owner,
                config_formats.format_version(version),
                state,
                encrypted,
                len(data),
            )
        )
    built = {item.name for item in planned}
    for name, old in sorted(manifest.items()):
        if name in built or old.sha256 is None:
            continue
        path = out / name
        if not dry_run:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise FilesError(f"cannot remove {path}: {exc.strerror or exc}") from None
        entries[name] = _Entry(old.version, None)
        results.append(
            BuiltFile(
                name, None, "-", config_formats.format_version(old.version), "removed", None, 0
            )
        )
    if not dry_run:
        text = _manifest_text(entries)
        manifest_path = out / MANIFEST_NAME
        if _read(manifest_path) != text.encode():
            _write(manifest_path, text.encode())
    return BuildReport(out, files_policy.format, files_policy.encryption, tuple(results), dry_run)


def key_for(policy: Policy, name: str) -> KeyKind | None:
    """Which key encrypts the file called ``name`` under ``policy``; None if it builds no such."""
    for item in plan(policy):
        if item.name == name:
            return item.key_kind
    return None
