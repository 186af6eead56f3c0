"""From a policy's file settings to the sections a Fanvil configuration file holds (spec 5)."""

from __future__ import annotations

from kea_fanvil.fanvil.config_formats import (
    AUTOUPDATE,
    CERTIFICATE_KEY,
    FIRMWARE_FORMAT_1,
    FIRMWARE_FORMAT_2,
    PHONEBOOK_KEY,
    Lines,
    Sections,
)
from kea_fanvil.policy.files import AutoUpdate, FileSettings

__all__ = ["auto_update_lines", "merge", "sections"]


def auto_update_lines(auto_update: AutoUpdate | None) -> Lines:
    """The AUTOUPDATE lines the structured keys write, in spec order; unset keys are left out."""
    if auto_update is None:
        return []
    lines: Lines = []
    firmware = auto_update.firmware
    if firmware is not None:
        keys = FIRMWARE_FORMAT_1 if firmware.url is not None else FIRMWARE_FORMAT_2
        for field, key in keys:
            value = firmware.protocol_number if field == "protocol" else getattr(firmware, field)
            if value is not None:
                lines.append((key, str(value)))
    if auto_update.phonebook_url is not None:
        lines.append((PHONEBOOK_KEY, auto_update.phonebook_url))
    if auto_update.certificate_url is not None:
        lines.append((CERTIFICATE_KEY, auto_update.certificate_url))
    return lines


def sections(settings: FileSettings) -> Sections:
    """The sections one file holds: AUTOUPDATE's structured keys first, then `extra` in order."""
    out: dict[str, Lines] = {}
    structured = auto_update_lines(settings.auto_update)
    if structured:
        out[AUTOUPDATE] = list(structured)
    for section, values in settings.extra.items():
        out.setdefault(section, []).extend(values.items())
    return [(name, lines) for name, lines in out.items() if lines]


def merge(base: FileSettings, over: FileSettings) -> FileSettings:
    """``over`` on top of ``base``: its firmware replaces the base's whole, other keys one by one.

    A model's firmware is another image, so it never mixes with the common one's format.
    """
    a, b = base.auto_update or AutoUpdate(), over.auto_update or AutoUpdate()
    auto_update = AutoUpdate(
        firmware=b.firmware or a.firmware,
        phonebook_url=b.phonebook_url or a.phonebook_url,
        certificate_url=b.certificate_url or a.certificate_url,
    )
    extra: dict[str, dict[str, str]] = {s: dict(v) for s, v in base.extra.items()}
    for section, values in over.extra.items():
        extra.setdefault(section, {}).update(values)
    has_auto_update = base.auto_update is not None or over.auto_update is not None
    return FileSettings(auto_update=auto_update if has_auto_update else None, extra=extra)
