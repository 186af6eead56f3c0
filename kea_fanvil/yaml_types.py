"""Scalars the policy loader keeps as they were typed (a leaf: imports nothing of the package).

YAML 1.1, which PyYAML reads, turns unquoted ``0042`` into 34 (octal), ``0x1F`` into 31,
``4:30`` into 270 (base 60) and ``1_000`` into 1000, and ``off``/``yes`` into booleans. A field
that wants a number takes these as the numbers they are; a field whose value ends up as text
(a provisioning-file setting) must not write 34 where the admin typed 0042, so the loader
marks them: :class:`YamlInt` remembers the spelling of an integer that is not plain decimal,
:class:`YamlBoolWord` is a yes/no/on/off word (``true``/``false`` stay booleans).
"""

from __future__ import annotations

__all__ = ["YamlBoolWord", "YamlInt"]


class YamlInt(int):
    """An integer YAML read from something other than plain decimal; ``text`` is what was
    typed."""

    text: str

    def __new__(cls, value: int, text: str) -> YamlInt:
        made = super().__new__(cls, value)
        made.text = text
        return made


class YamlBoolWord(str):
    """``yes``, ``no``, ``on`` or ``off`` (any case), which YAML 1.1 reads as a boolean. Still
    a boolean to a boolean field (pydantic reads these words), but not text."""

    __slots__ = ()
