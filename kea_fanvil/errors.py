"""Exceptions raised by kea-fanvil.

KeaFanvilError
├── PolicyError          the policy file cannot be read or is invalid (file, line, field)
├── EncodingError        a value does not fit the DHCP option that must carry it
├── RenderError          a target server's configuration cannot express the policy
└── FilesError           provisioning files cannot be built, written or decrypted
"""

from __future__ import annotations

from dataclasses import dataclass

from kea_fanvil.redact import mask


class KeaFanvilError(Exception):
    """Base of every error this package raises on purpose."""


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy, located as precisely as the input allows."""

    message: str
    field: str = ""  # dotted path, e.g. "devices[3].mac"
    line: int | None = None  # 1-based line in the policy file
    column: int | None = None
    file: str | None = None  # set when the problem is in another file (a CSV inventory)

    def render(self, source: str) -> str:
        where = self.file or source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        # Messages may quote the offending URL; its password must not reach the terminal.
        return mask(f"{where}:{field} {self.message}")


class PolicyError(KeaFanvilError):
    """The policy is invalid; `problems` lists every problem found, in file order."""

    def __init__(self, source: str, problems: list[PolicyProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


class EncodingError(KeaFanvilError, ValueError):
    """A value cannot be encoded into the DHCP option or header field meant to carry it."""


class RenderError(KeaFanvilError):
    """The policy asks for something the target server's configuration cannot express."""

    def __init__(self, target: str, entry: str, message: str) -> None:
        self.target = target
        self.entry = entry  # the policy entry at fault, e.g. "sites[0] (branch-a)"
        super().__init__(f"{target}: {entry}: {message}")


class FilesError(KeaFanvilError):
    """Provisioning files cannot be built, written, encrypted or decrypted.

    Messages never hold an encryption key.
    """
