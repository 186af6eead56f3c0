"""Which provisioning files a policy describes (spec 3), and the rules across entries they need.

Naming and collisions are checked here, when the policy is loaded, so `kea-fanvil validate`
reports them with their file:line; building and writing the files is :mod:`kea_fanvil.files`.

- for each model in use (a device's `model`, or a key of `files.models`), its **Common file**,
  named by :func:`kea_fanvil.fanvil.naming.common_file` or by ``files.models.<M>.common_file``.
  It holds ``files.common`` with the model's settings on top;
- for each device, its **MAC-oriented file** ``0c383e113af8.cfg`` (3.2); its **ID-oriented file**
  when it has a ``boot_file``, the name DHCP hands out (3.3); its **custom file** when it has a
  ``custom_file`` (3.4). All three hold the device's ``settings``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil import config_formats
from kea_fanvil.fanvil.config_formats import AUTOUPDATE
from kea_fanvil.fanvil.crypto import KeyKind
from kea_fanvil.fanvil.naming import KIND_LABELS, FileKind, common_file
from kea_fanvil.policy.files import (
    FileSettings,
    FilesPolicy,
    ModelFiles,
    check_file_name,
    model_key,
)
from kea_fanvil.policy.models import Location, Policy
from kea_fanvil.policy.sections import auto_update_lines, merge, sections

__all__ = ["PlannedFile", "files_problems", "plan", "unbuilt_boot_files"]

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
