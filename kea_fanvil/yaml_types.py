"""Scalars the policy loader keeps as they were typed (a leaf: imports nothing of the package).

YAML 1.1, which PyYAML reads, turns unquoted ``0042`` into 34 (octal), ``0x1F`` into 31,
``4:30`` into 270 (base 60) and ``1_000`` into 1000, and ``off``/``yes`` into booleans. A field
that wants a number takes these as the numbers they are; a field whose value ends up as text
(a provisioning-file setting) must not write 34 where the admin typed 0042, so the loader
marks them: :class:`YamlInt` remembers the spelling of an integer that is not plain decimal,
:class:`YamlBoolWord` is a yes/no/on/off word (``true``/``false`` stay booleans).
"""

from __future__ import annotations

from typing import Any

__all__ = ["YamlBoolWord", "YamlInt", "read_as_number"]


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


def read_as_number(value: Any, what: str, *, echo: bool = False) -> str | None:
    """Why ``value`` is not the text the admin typed: YAML read it as a number; else None.

    With ``echo`` (fields that never hold a secret, such as a MAC that YAML 1.1 read as a
    base-60 or octal integer) only integers count and the message shows the number, which
    explains the surprise. Without it (values that may be a password or a key) booleans,
    integers and floats all count (2.10 became 2.1, 0123 became 83) and nothing is quoted.
    """
    if echo:
        if isinstance(value, int) and not isinstance(value, bool):
            return f"YAML read this {what} as the number {value}; put it in quotes"
        return None
    if isinstance(value, bool | int | float):
        return f"YAML read this {what} as a number; put it in quotes"
    return None
