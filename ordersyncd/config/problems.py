"""Problems about a whole file (unreadable, TOML syntax) rather than one key."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigProblem

__all__ = ["FileProblem"]


@dataclass(frozen=True)
class FileProblem(ConfigProblem):
    """A problem with a whole file; ``line`` and ``column`` are 1-based, 0 when not known.

    Renders as ``FILE:LINE:COLUMN: MESSAGE`` (the form editors and compilers use).
    """

    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.message}"
