"""One thing wrong with a policy, located as precisely as the input allows."""

from __future__ import annotations

from dataclasses import dataclass

from kea_fanvil.redact import mask

__all__ = ["PolicyProblem"]


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy; :class:`kea_fanvil.errors.PolicyError` holds a list."""

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
