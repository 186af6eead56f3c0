"""Build the provisioning files a policy describes: names, contents, versions, encryption.

Which files (spec section 3):

- for each model in use (a device's `model`, or a key of `files.models`), its **Common file**,
  named by the table the probe reads (``kea_fanvil/data/common_config_files.tsv``: spec 3.1's
  names, its rule for other C-series models, other series from their published lists) or by
  ``files.models.<M>.common_file``. It holds ``files.common`` with the model's settings on top;
- for each device, its **MAC-oriented file** ``0c383e113af8.cfg`` (3.2); its **ID-oriented file**
  when it has a ``boot_file``, the name DHCP hands out (3.3); its **custom file** when it has a
  ``custom_file`` (3.4). All three hold the device's ``settings``.

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kea_fanvil import safe_files
from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil import config_formats
from kea_fanvil.fanvil import crypto as file_crypto
from kea_fanvil.policy.files import (
    AUTOUPDATE,
    Encryption,
    FileSettings,
    FilesPolicy,
    ModelFiles,
    auto_update_lines,
    check_file_name,
    merge,
    model_key,
    sections,
)
from kea_fanvil.policy.models import Location, Policy

FileKind = Literal["common", "mac", "id", "custom"]
KeyKind = Literal["common", "device"]
State = Literal["new", "changed", "unchanged", "restored", "removed"]
KIND_LABELS: dict[FileKind, str] = {
    "common": "Common file",
    "mac": "MAC-oriented file",
    "id": "ID-oriented file",
    "custom": "custom file",
}
MANIFEST_NAME = ".kea-fanvil-manifest.json"  # hidden: the file names never start with "."
MANIFEST_FORMAT = 1
FILE_MODE = 0o644  # nginx (www-data) and tftpd (tftp) read them as other users
_EMPTY = FileSettings()
Problem = tuple[Location, str]


@dataclass(frozen=True)
class PlannedFile:
    name: str
    kind: FileKind
    owner: str  # "C62", or "0c:38:3e:11:3a:f8 (reception)"
    settings: FileSettings

    @property
    def key_kind(self) -> KeyKind:
        """Spec 3.5: the Common AES Key for the Common file, the other key for the rest."""
        return "common" if self.kind == "common" else "device"


# --- what to build ------------------------------------------------------------------------------


def _all_settings(policy: Policy) -> Iterator[tuple[Location, FileSettings]]:
    files = policy.files
    if files is not None:
        yield ("files", "common"), files.common
        for name, own in files.models.items():
            yield ("files", "models", name), own
    for i, device in enumerate(policy.devices):
        if device.settings is not None:
            yield ("devices", i, "settings"), device.settings


def _settings_problems(policy: Policy, file_format: str) -> list[Problem]:
    problems: list[Problem] = []
    for where, settings in _all_settings(policy):
        structured = {key.lower() for key, _ in auto_update_lines(settings.auto_update)}
        for section, values in settings.extra.items():
            for key in values:
                loc = (*where, "extra", section, key)
                if section == AUTOUPDATE and key.lower() in structured:
                    problems.append((loc, f"{key!r} is also written by auto_update; set it once"))
                if file_format == "xml" and config_formats.xml_name(key) is None:
                    problems.append(
                        (
                            loc,
                            f"{key!r} cannot be an XML element name (files.format is xml): "
                            "start with a letter; letters, digits, spaces, _ . - only",
                        )
                    )
    return problems


def _twice(settings: FileSettings) -> list[str]:
    """Keys a file would hold twice (keys compare ignoring case), as SECTION.key."""
    found = []
    for section, lines in sections(settings):
        seen: set[str] = set()
        for key, _ in lines:
            if key.lower() in seen:
                found.append(f"{section}.{key}")
            seen.add(key.lower())
    return found


def _plan(policy: Policy) -> tuple[list[PlannedFile], list[Problem]]:
    # One naming table for the probe and the build: what the probe expects is what gets built.
    from kea_fanvil.probe.interpret import common_file

    files_policy = policy.files or FilesPolicy()
    problems = _settings_problems(policy, files_policy.format)
    planned: dict[str, PlannedFile] = {}
    order: list[PlannedFile] = []

    def add(new: PlannedFile, loc: Location) -> None:
        first = planned.get(new.name)
        if first is None:
            planned[new.name] = new
            order.append(new)
            return
        if "common" not in (first.kind, new.kind) and first.settings == new.settings:
            return  # devices sharing one ID-oriented file with the same settings: one file
        other = "" if "common" in (first.kind, new.kind) else ", with other settings"
        problems.append(
            (loc, f"{new.name!r} is also the {KIND_LABELS[first.kind]} of {first.owner}{other}")
        )

    models: dict[str, tuple[str, Location]] = {}
    own_settings: dict[str, ModelFiles] = {}
    for name, own in files_policy.models.items():
        key = model_key(name)
        if key in models:
            problems.append(
                (
                    ("files", "models", name),
                    f"{name!r} repeats {models[key][0]!r} (case is ignored)",
                )
            )
            continue
        models[key] = (name, ("files", "models", name))
        own_settings[key] = own
    for i, device in enumerate(policy.devices):
        if device.model is not None:
            models.setdefault(model_key(device.model), (device.model, ("devices", i, "model")))

    for key, (spelling, loc) in sorted(models.items()):
        model_files = own_settings.get(key)
        named = model_files.common_file if model_files is not None else None
        common_name = named or common_file(key).name
        if common_name is None:
            problems.append(
                (
                    loc,
                    f"no known source names the Common file of {spelling} "
                    "(kea_fanvil/data/common_config_files.tsv); name it with "
                    f"files.models.{spelling}.common_file",
                )
            )
            continue
        settings = merge(files_policy.common, model_files or _EMPTY)
        twice = _twice(settings)
        if twice:
            problems.append(
                (
                    loc,
                    f"the Common file of {spelling} would hold {', '.join(twice)} twice once "
                    "files.common and the model's settings are merged; set each key once",
                )
            )
        add(PlannedFile(common_name, "common", key, settings), loc)

    for i, device in enumerate(policy.devices):
        mac12 = device.mac.replace(":", "")
        owner = device.mac + (f" ({device.name})" if device.name else "")
        settings = device.settings or _EMPTY
        add(PlannedFile(f"{mac12}.cfg", "mac", owner, settings), ("devices", i, "mac"))
        if device.boot_file is not None:
            problem = check_file_name(device.boot_file)
            if problem:
                problems.append(
                    (("devices", i, "boot_file"), f"as the ID-oriented file's name: {problem}")
                )
            else:
                add(
                    PlannedFile(device.boot_file, "id", owner, settings),
                    ("devices", i, "boot_file"),
                )
        if device.custom_file is not None:
            name = device.custom_file.replace("$mac", mac12)
            add(PlannedFile(name, "custom", owner, settings), ("devices", i, "custom_file"))
    return order, problems


def unbuilt_boot_files(policy: Policy, built: set[str]) -> list[tuple[int, str]]:
    """(site index, name) of each site boot_file not among the ``built`` file names: DHCP
    hands it to the site's phones, which then ask for an ID-oriented file this build does not
    write (those come from devices' boot_file)."""
    return [
        (i, site.boot_file)
        for i, site in enumerate(policy.sites)
        if site.boot_file is not None and site.boot_file not in built
    ]


def files_problems(policy: Policy) -> list[Problem]:
    """Rules across entries that building the files needs, as (location, message)."""
    return _plan(policy)[1]


def plan(policy: Policy) -> list[PlannedFile]:
    """The files ``policy`` describes: Common files by model, then each device's files."""
    planned, problems = _plan(policy)
    if problems:  # a policy loaded with check_files=True has none
        raise FilesError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
    return planned


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
